// The pipeline designer (`$` in `$=>$.onStart(...).connect(...)`), its filters and their
// options, and the legacy `pipy()` configurations. Reference: core.md.

/** A function that lays out a pipeline on the designer `$` it is given. */
type Builder<D> = ($: D) => void;

/** A sub-pipeline of a 1.0-style pipeline: a builder or a `pipeline()` template. */
type SubPipeline = Builder<PipelineDesigner> | PipelineTemplate;

/** The pipeline of a listening port: its start argument is the {@link Inbound}. */
type ListenerPipeline = Builder<PipelineDesigner<Inbound>> | PipelineTemplate;

/** What a joint filter returns: its sub-pipeline must follow, with `.to(...)`. */
interface Joint<T, Sub> {
  /** The sub-pipeline of the joint filter before it. */
  to(sub: Sub): T;
}

/** A callback whose result replaces events: events, a Promise of them, or nothing. */
type Replacer<E> = Events | ((evt: E, index: number) => Events | Promise<Events> | void);

/** A condition of `branch*`: chooses the sub-pipeline that follows it when truthy. */
type Condition = (...args: any[]) => any;

/** Options of `connect()`. */
interface ConnectOptions {
  /** Attempts after the first failed one; -1 retries for ever (default 0). */
  retryCount?: number;
  /** Wait between attempts (default 0). */
  retryDelay?: Duration;
  /** Gives up an attempt after this long (default: the kernel's). */
  connectTimeout?: Duration;
  /** Closes the connection without traffic in either direction for this long (default 60 s, 0 never). */
  idleTimeout?: Duration;
  /** `'udp'`: each input Data is sent as one datagram, each datagram received comes out as one Data. `'netlink'`: the same with a netlink socket to the kernel (the target is only named in logs). */
  protocol?: 'tcp' | 'udp' | 'netlink';
  /** With `'netlink'`: the socket's protocol (0 NETLINK_ROUTE, the default). */
  netlinkFamily?: number;
  /** The local address, `'ip'` or `'ip:port'`, or a function returning it (`undefined`: none). With `'netlink'`: the socket's own address, `'pid=0;groups=N'` (N: the multicast groups it hears). */
  bind?: string | (() => string | undefined);
  /** Weir's own: the `bind` address may be one this host does not own (IP_TRANSPARENT, needs CAP_NET_ADMIN), e.g. the client's. */
  transparent?: boolean;
}

/** Options of the HTTP encoders. */
interface EncodeHTTPOptions {
  /** Bodies up to this size get a `content-length`, larger ones are chunked; 0 buffers whole bodies. */
  bufferSize?: Size;
}

/** Options of `serveHTTP()` and `demuxHTTP()`. */
interface HTTPServerOptions {
  /** Responses up to this many bytes get a `content-length`, larger ones are chunked; 0 buffers whole bodies. */
  bufferSize?: Size;
  /** `serveHTTP` with a handler: the most request body it is given (default 16 MiB); more ends the stream with `BufferOverflow`. */
  bufferLimit?: Size;
}

/** Options of the filters that hold a whole message. */
interface MessageLimitOptions {
  /** The largest message held (default 16 MiB); a bigger one ends the stream with `BufferOverflow`. */
  bufferLimit?: Size;
}

/** Options of `muxHTTP()`. */
interface MuxHTTPOptions {
  /** Pipelines sharing one session at a time; 0 is unlimited (default 1). */
  maxQueue?: number;
  /** Requests per session before it is closed; 0 is unlimited (default). */
  maxMessages?: number;
  /** Closes a session idle for this long (default 60 s). */
  maxIdle?: Duration;
  /** Requests up to this many bytes get a `content-length`, larger ones are chunked; 0 buffers whole bodies. */
  bufferSize?: Size;
  /**
   * `2` (or `'h2'`) speaks HTTP/2 with prior knowledge upstream, many requests as streams on
   * one connection; a function is asked once per pipeline (a Promise is not waited for).
   */
  version?: number | string | (() => number | string);
}

/** Options of `mux()`/`muxQueue()` and `muxFastCGI()`. */
interface MuxOptions {
  /** Pipelines sharing one session at a time; 0 is unlimited (default 1). */
  maxQueue?: number;
  /** Pipelines a session serves in all before it is closed; 0 is unlimited (default). */
  maxMessages?: number;
  /** Closes a session idle for this long (default 60 s). */
  maxIdle?: Duration;
  /** `mux()` only: the messages each sent message is answered with (default 1); a function is asked per message. */
  outputCount?: number | ((start: MessageStart) => number);
}

/** Options of `demux()`/`demuxQueue()`. */
interface DemuxOptions {
  /** The messages each sub-pipeline answers with (default 1); negative holds the next input message until this one is answered. */
  outputCount?: number | ((start: MessageStart) => number);
}

/** Options of `connectHTTPTunnel()`. */
interface ConnectHTTPTunnelOptions {
  /** Hears the tunnel's state: `'connecting'`, `'connected'`, `'closed'`. */
  onState?: (state: 'connecting' | 'connected' | 'closed') => void;
}

/** A TLS certificate and its key, as `acceptTLS`/`connectTLS` take them. */
interface TLSCertificate {
  cert: crypto.Certificate | crypto.CertificateChain;
  key: crypto.PrivateKey;
}

/** A TLS session, as `onState` sees it when it changes. */
interface TLSSession {
  state: 'handshake' | 'connected' | 'closed';
  /** Why the handshake failed, when it did. */
  error: string | null;
  /** The protocol ALPN chose, if any. */
  protocol: string | null;
  /** The server name the client sent (SNI). */
  hostname: string | null;
  /** The peer's certificate, once it sent one. */
  peer: crypto.Certificate | null;
}

/** Options both `acceptTLS` and `connectTLS` take. */
interface TLSOptions {
  /** Lowest and highest versions; Weir speaks TLS1.2 and TLS1.3 only. */
  minVersion?: 'TLS1' | 'TLS1.1' | 'TLS1.2' | 'TLS1.3';
  maxVersion?: 'TLS1' | 'TLS1.1' | 'TLS1.2' | 'TLS1.3';
  /** Trusted CAs: the peer must present a certificate they signed. */
  trusted?: crypto.Certificate[];
  /** Overrules the check of the peer's certificate (with `trusted`). */
  verify?: (ok: boolean, cert: crypto.Certificate) => boolean;
  /** Hears the session as its state changes. */
  onState?: (session: TLSSession) => void;
  /** Called once the handshake is done, with the protocol ALPN chose ('' for none). */
  handshake?: (info: { alpn: string }) => void;
}

/** Options of `acceptTLS()`. */
interface AcceptTLSOptions extends TLSOptions {
  /** The server's certificate, or a function of the server name the client asked for. */
  certificate: TLSCertificate | ((sni: string | undefined) => TLSCertificate);
  /** Protocols to accept (the client's first one in this list), or a function returning the index of the one to use among the client's. */
  alpn?: string[] | ((names: string[]) => number);
}

/** Options of `connectTLS()`. */
interface ConnectTLSOptions extends TLSOptions {
  /** The client's certificate, for servers that ask for one. */
  certificate?: TLSCertificate | (() => TLSCertificate);
  /** The server name to send. */
  sni?: string | (() => string);
  /** Protocols to offer. */
  alpn?: string | string[];
}

/** A SOCKS CONNECT request, as `acceptSOCKS`'s callback gets it. */
interface SOCKSRequest {
  /** The SOCKS4 user id (undefined for SOCKS5). */
  id?: string;
  /** The target address, when the client gave one (IPv4, or IPv6 for SOCKS5). */
  ip?: string;
  /** The target host name, when the client gave one (SOCKS4a, SOCKS5). */
  domain?: string;
  /** The target port. */
  port: number;
}

/** A PROXY protocol header, as `acceptProxyProtocol`'s callback gets it and `connectProxyProtocol` writes it. */
interface ProxyProtocolInfo {
  /** 1 (the text line) or 2 (binary); `connectProxyProtocol` writes version 1 unless this is 2. */
  version?: number;
  /** Version 2 only: `'PROXY'`, or `'LOCAL'` for a proxy's own connection. */
  command?: 'PROXY' | 'LOCAL';
  /** `'TCP4'`, `'TCP6'`, `'UNKNOWN'`, and in version 2 `'UDP4'`, `'UDP6'`, `'UNIX'`, `'UNIX_DGRAM'`. */
  protocol?: string;
  /** The client's address and port, absent for `UNKNOWN` and `UNIX`. */
  sourceAddress?: string;
  sourcePort?: number;
  /** The address and port the client connected to. */
  targetAddress?: string;
  targetPort?: number;
}

/** A compression algorithm of `compress()` and `compressHTTP()`: gzip, or zlib (`deflate`). */
type CompressAlgorithm = 'gzip' | 'deflate';

/** A decompression algorithm of `decompress()`: gzip, zlib (`inflate`, `deflate`), brotli (`brotli`, `br`). */
type DecompressAlgorithm = 'gzip' | 'inflate' | 'deflate' | 'brotli' | 'br';

/**
 * The filters, shared by {@link PipelineDesigner} and the legacy {@link Configuration}.
 * Each appends a filter to the pipeline being laid out and returns the designer again,
 * except the joint filters, which need their sub-pipeline with `.to(...)` first.
 * `Sub` is what those sub-pipelines may be.
 */
interface PipelineFilters<Sub> {
  /**
   * Runs pipeline `name` (or the entrance) of another module (path from the codebase root),
   * sharing this context. The module is a legacy configuration (its `.pipeline(name)`s and
   * `.pipeline()`), or its value (an ES module's default export) is a pipeline template, the
   * entrance, or an object of pipeline templates by name.
   */
  use(module: string, name?: string): this;
  /** Runs pipeline `name` of each module in turn, then `nameDown` of each, last first;
   *  `when()` true at a module's first event skips it and the rest, back down from there. */
  use(modules: string[], name: string, nameDown?: string, when?: () => boolean): this;
  use(modules: string[], name: string, when?: () => boolean): this;
  /** Opens a TCP connection (or a UDP socket) to `'host:port'` when the pipeline starts; input Data goes to it, its bytes come out. */
  connect(target: string | (() => string), options?: ConnectOptions): this;
  /** Every event also goes into the sub-pipeline (whose output is dropped); `startArg` is its start argument. */
  fork(startArg?: any): Joint<this, Sub>;
  /** HTTP/1 bytes to request messages; `handler` sees each head before it goes on. */
  decodeHTTPRequest(handler?: (head: HttpHead) => void): this;
  /** HTTP/1 bytes to response messages. */
  decodeHTTPResponse(): this;
  /** Request messages to HTTP/1 bytes. */
  encodeHTTPRequest(options?: EncodeHTTPOptions): this;
  /** Response messages to HTTP/1 bytes. */
  encodeHTTPResponse(options?: EncodeHTTPOptions): this;
  /** An HTTP/1 server: each request is answered with `handler(request)` (a Message, events, or a Promise of them). */
  serveHTTP(
    handler: Message | ((request: Message) => Events | Promise<Events>),
    options?: HTTPServerOptions,
  ): this;
  /** An HTTP/1 server: each request goes into its own instance of the sub-pipeline, which answers it. */
  demuxHTTP(options?: HTTPServerOptions): Joint<this, Sub>;
  /** An HTTP/1 client: requests share sessions of the sub-pipeline; `selector()` keys the session. */
  muxHTTP(selector?: () => any, options?: MuxHTTPOptions): Joint<this, Sub>;
  muxHTTP(options: MuxHTTPOptions): Joint<this, Sub>;
  /** Whole messages share sessions of the sub-pipeline, answered in order; `selector()` keys the session (default: the client connection). */
  mux(selector?: () => any, options?: MuxOptions): Joint<this, Sub>;
  mux(options: MuxOptions): Joint<this, Sub>;
  /** The same filter as `mux`. */
  muxQueue(selector?: () => any, options?: MuxOptions): Joint<this, Sub>;
  muxQueue(options: MuxOptions): Joint<this, Sub>;
  /** Each message goes into its own instance of the sub-pipeline; its first `outputCount` messages are the output, in input order. */
  demux(options?: DemuxOptions): Joint<this, Sub>;
  /** The same filter as `demux`. */
  demuxQueue(options?: DemuxOptions): Joint<this, Sub>;
  /** A FastCGI client: a request message (head `{ role?, keepAlive?, params }`) becomes a request on a shared session; the answer's body is stdout, its tail `{ appStatus, protocolStatus, stderr }`. */
  muxFastCGI(selector?: () => any, options?: MuxOptions): Joint<this, Sub>;
  muxFastCGI(options: MuxOptions): Joint<this, Sub>;
  /** A FastCGI application server: each request goes into its own instance of the sub-pipeline as `{ role, keepAlive, params }` and stdin; its first message answers. */
  demuxFastCGI(): Joint<this, Sub>;
  /** SOCKS4/4a/5 server: `fn(request)` truthy (or a Promise of it) grants a CONNECT, then the bytes go through the sub-pipeline. */
  acceptSOCKS(fn: (request: SOCKSRequest) => any): Joint<this, Sub>;
  /** SOCKS5 client through the sub-pipeline (a `connect` to the SOCKS server) to `'host:port'`. */
  connectSOCKS(target: string | (() => string)): Joint<this, Sub>;
  /** Calls `fn(hello)` with what the client's TLS hello at the start of the stream offered; every event goes on unchanged. */
  handleTLSClientHello(fn: (hello: { serverNames?: string[]; protocolNames?: string[] }) => void): this;
  /** TLS server: decrypts into the sub-pipeline and encrypts what it sends back. */
  acceptTLS(options: AcceptTLSOptions): Joint<this, Sub>;
  /** TLS client: encrypts into the sub-pipeline (a `connect`) and decrypts what comes back. */
  connectTLS(options?: ConnectTLSOptions): Joint<this, Sub>;
  /** HTTP tunnel server: `handler(request)` answers; a 2xx to CONNECT (101 to an upgrade) opens the tunnel through the sub-pipeline. The request's body is held up to `bufferLimit`. */
  acceptHTTPTunnel(
    handler: (request: Message) => Message | void | Promise<Message | void>,
    options?: MessageLimitOptions,
  ): Joint<this, Sub>;
  /** HTTP tunnel client: sends the CONNECT (a request Message, or `'host:port'`) into the sub-pipeline, then the bytes once it is accepted. */
  connectHTTPTunnel(
    handshake: Message | string | (() => Message | string),
    options?: ConnectHTTPTunnelOptions,
  ): Joint<this, Sub>;
  /** PROXY protocol server: reads a version 1 or 2 header; `fn(info)` truthy sends the bytes after it through the sub-pipeline, falsy (or a bad header) ends the stream. */
  acceptProxyProtocol(fn: (info: ProxyProtocolInfo) => any): Joint<this, Sub>;
  /** PROXY protocol client: sends the header for `info` into the sub-pipeline (a `connect`) before the stream. */
  connectProxyProtocol(info: ProxyProtocolInfo | (() => ProxyProtocolInfo)): Joint<this, Sub>;
  /** Calls `fn(protocol)` once the first bytes tell `'HTTP'`, `'HTTP2'`, `'TLS'`, or `''` (none of them, or `timeout` passed); what it returns, unless null or undefined, is output first. Events pass on unchanged. */
  detectProtocol(fn: (protocol: 'HTTP' | 'HTTP2' | 'TLS' | '') => Events | void, options?: { timeout?: Duration }): this;
  /** Cuts the stream's Data into messages at each `separator`, which is dropped. */
  split(separator: string | (() => string)): this;
  /** Writes every Data to a file (`'-'`: stdout), truncated per stream unless `append`; `shared` streams write into one opening. Events pass on. */
  tee(filename: string | (() => string), options?: { append?: boolean; shared?: boolean }): this;
  /** Joins `batch` messages (default 1) into one; a batch not full goes after `timeout` with no message, on a message `interval` after the last batch, and at the stream's end. */
  pack(
    batch?: number,
    options?: { timeout?: Duration; interval?: Duration; prefix?: string; postfix?: string; separator?: string; vacancy?: number },
  ): this;
  /** Every event also goes into the sub-pipeline (one per element of an array `initArg`, each in a copy of the context); the stream is held until every branch ended. */
  forkJoin(initArg?: any | (() => any)): Joint<this, Sub>;
  /** As `forkJoin`, but the output is that of the first branch to output anything, and the input goes nowhere else. */
  forkRace(initArg?: any | (() => any)): Joint<this, Sub>;
  /** Holds the stream until `condition()` is truthy (or its Promise resolves), asked again at each event meanwhile, or `timeout` passed. */
  wait(condition: () => any, options?: { timeout?: Duration }): this;
  /** Outputs `events` (or what the function returns; a Promise's when it resolves, without holding the stream) before the stream's first event. */
  insert(events: Events | (() => Events | Promise<Events>)): this;
  /** Compresses the bodies of messages without `content-encoding` and sets it; `fn(messageStart)` picks per message. */
  compressHTTP(algorithm: CompressAlgorithm | ((evt: MessageStart) => CompressAlgorithm | void)): this;
  /** Decompresses bodies with `content-encoding` gzip, deflate or br, and removes the header. */
  decompressHTTP(): this;
  /** Compresses the stream's Data (other events but StreamEnd are dropped). */
  compress(algorithm: CompressAlgorithm | (() => CompressAlgorithm)): this;
  /** Decompresses the stream's Data (other events but StreamEnd are dropped); corrupt input ends it with `ProtocolError`. */
  decompress(algorithm: DecompressAlgorithm | (() => DecompressAlgorithm)): this;
  /** Calls `fn(event, index)` for every event; a returned Promise holds the stream until it settles. */
  handle(fn: (evt: PipelineEvent, index: number) => void): this;
  /** Calls `fn(event)` for the first event of the stream; a returned Promise holds the stream. */
  handleStreamStart(fn: (evt: PipelineEvent, index: number) => void): this;
  /** Calls `fn(event, index)` for every MessageStart; a returned Promise holds the stream. */
  handleMessageStart(fn: (evt: MessageStart, index: number) => void): this;
  /** Calls `fn(data, index)` for every Data; a returned Promise holds the stream. */
  handleData(fn: (evt: Data, index: number) => void): this;
  /** Calls `fn(event, index)` for every MessageEnd; a returned Promise holds the stream. */
  handleMessageEnd(fn: (evt: MessageEnd, index: number) => void): this;
  /** Calls `fn(event, index)` for the StreamEnd; a returned Promise holds it. */
  handleStreamEnd(fn: (evt: StreamEnd, index: number) => void): this;
  /** Calls `fn(message, index)` for every whole message; a returned Promise holds the stream. */
  handleMessage(fn: (msg: Message, index: number) => void, options?: MessageLimitOptions): this;
  /** Pipy's older form: the size limit first. */
  handleMessage(sizeLimit: Size, fn: (msg: Message, index: number) => void): this;
  /** Replaces every event with what `replacement` is or returns. */
  replace(replacement?: Replacer<PipelineEvent>): this;
  /** Replaces the first event of the stream. */
  replaceStreamStart(replacement?: Replacer<PipelineEvent>): this;
  /** Replaces every MessageStart. */
  replaceMessageStart(replacement?: Replacer<MessageStart>): this;
  /** Replaces every Data. */
  replaceData(replacement?: Replacer<Data>): this;
  /** Replaces every MessageEnd. */
  replaceMessageEnd(replacement?: Replacer<MessageEnd>): this;
  /** Replaces the StreamEnd. */
  replaceStreamEnd(replacement?: Replacer<StreamEnd>): this;
  /** Replaces every whole message. */
  replaceMessage(replacement?: Replacer<Message>, options?: MessageLimitOptions): this;
  /** Pipy's older form: the size limit first. */
  replaceMessage(sizeLimit: Size, replacement: Replacer<Message>): this;
  /** `branch(cond1, sub1, cond2, sub2, ..., default?)`: at the first event, the stream goes into the first sub-pipeline whose condition is truthy. */
  branch(...conditionsAndSubs: (Condition | Sub)[]): this;
  /** Like `branch`, decided at each MessageStart (`cond(event)`). */
  branchMessageStart(...conditionsAndSubs: (Condition | Sub)[]): this;
  /** Like `branch`, decided at each whole message (`cond(message)`). */
  branchMessage(...conditionsAndSubs: (Condition | Sub)[]): this;
  /** Sends everything into the named pipeline of a legacy configuration (or the one `fn()` names), or into the `Swap` `fn()` returns. */
  link(target: string | (() => string | Swap | null | undefined)): this;
  /** Writes the Data passing by to stdout (legacy). */
  print(): this;
  /** Redis protocol in, a message per value out: its MessageEnd payload is the value (strings, numbers, Data for bulk strings, Error, arrays, null). */
  decodeRESP(options?: { bufferLimit?: Size }): this;
  /** Writes each message's MessageEnd payload as RESP. */
  encodeRESP(): this;
  /** BGP-4 in, a message per BGP message out: its MessageEnd payload is `{ type, body }` (see `BGP`). `enableAS4` (or a function asked per message) reads 4-byte AS numbers. */
  decodeBGP(options?: { enableAS4?: boolean | (() => boolean) }): this;
  /** Writes each message's MessageEnd payload (`{ type, body }`) as a BGP-4 message. */
  encodeBGP(options?: { enableAS4?: boolean | (() => boolean) }): this;
  /** WebSocket frames in, a message per WebSocket message out: head `{ opcode, masked }`, body the unmasked payload (fragments joined). */
  decodeWebSocket(): this;
  /** Each message as WebSocket frames of 16 KiB: head `{ opcode, masked }` (defaults 1 and false). */
  encodeWebSocket(): this;
  /** A `multipart/*` message becomes one message per part (nested multiparts too), its head `{ headers }`; other messages pass. */
  decodeMultipart(): this;
  /** Logs every event passing by, with `tag`. */
  dump(tag?: any): this;
  /** Each MessageStart takes a token of the quota; without one, it and what follows wait for the refill. */
  throttleMessageRate(quota: algo.Quota | (() => algo.Quota), options?: ThrottleOptions): this;
  /** Each byte of Data takes a token of the quota; what is not covered waits, with what follows, for the refill. */
  throttleDataRate(quota: algo.Quota | (() => algo.Quota), options?: ThrottleOptions): this;
  /** Each message (head `{ type, flags, seq, pid }`, body the payload) becomes one Data: the netlink header and the body. */
  encodeNetlink(): this;
  /** Netlink messages in the input become messages with head `{ type, flags, seq, pid }` and the payload as body. */
  decodeNetlink(): this;
  /** The input goes into a pipeline sharing this context, whose output is this filter's: `target` is a pipeline, a key of `map`, an array of those (a chain: each one's `pipeNext` goes on to the next), or `fn(event)` called with each event until it names one (the events wait meanwhile). `args` (or `fn(firstEvent)` returning them) go to its `onStart` and down the chain. */
  pipe(target: PipeTarget | ((evt: PipelineEvent) => PipeTarget | void), map?: { [key: string]: Sub }, args?: any[] | ((evt: PipelineEvent) => any[])): this;
  pipe(target: PipeTarget | ((evt: PipelineEvent) => PipeTarget | void), args: any[] | ((evt: PipelineEvent) => any[])): this;
  /** The input goes into the next pipeline of the chain this pipeline is in (a `pipe([a, b])`), starting it with `args` (default: the chain's); with no chain it passes on. */
  pipeNext(args?: any | (() => any)): this;
  /** The input goes into the pipeline, and everything it outputs is output and fed back into it. */
  loop(sub: Sub): this;
  /** Joint filter (Pipy's legacy configuration has it): the input goes into the sub-pipeline and is kept; a `StreamEnd('Replay')` from it runs a new one on all the input so far after `delay`. Past 16 MiB of input the stream ends with `BufferOverflow`. */
  replay(options?: { delay?: Duration | (() => Duration) }): Joint<this, Sub>;
  /** Calls `fn(body)` with each message's body as one Data at its end; events pass on as they come, the end waits for a returned Promise. */
  handleMessageBody(fn: (body: Data) => void, options?: MessageLimitOptions): this;
  /** Replaces each message's body with what `replacement` is or returns (`fn(body)`); the head and end pass. */
  replaceMessageBody(replacement?: Replacer<Data>, options?: MessageLimitOptions): this;
  /** Each stream takes a token of the quota at its first event and gives it back when its pipeline goes; a stream that finds none waits. */
  throttleConcurrency(quota: algo.Quota | (() => algo.Quota), options?: ThrottleOptions): this;
  /** Drops every event but the StreamEnd. */
  dummy(): this;
  /** A byte-level state machine: `states[name](byte)` returns the next state's name or `[...events, next, size?, buffer?]` to read `size` bytes (into a Data, an array of numbers, or passed on) before `next`'s function gets them. */
  deframe(states: { [name: string]: string | any[] | ((input: number | Data | number[]) => string | any[]) }): this;
  /** Runs a program at the first event: the stream's Data is its stdin, its stdout the output; the stream's end stops it (SIGTERM). `onExit(code, stderr)` says what to output at its exit (default: a StreamEnd). */
  exec(
    command: string | string[] | (() => string | string[]),
    options?: { stderr?: boolean; env?: { [name: string]: string } | (() => { [name: string]: string }); onStart?: (pid: number) => void; onExit?: (code: number, stderr?: Data) => Events | void },
  ): this;
  /** Outputs a file's bytes (from `seek`, at most `size`) and a StreamEnd at the first event; the input is dropped. */
  read(filename: string | (() => string), options?: { seek?: number | (() => number); size?: number | (() => number) }): this;
  /** Joins the stream to a hub (or the one `fn()` returns; the events before wait): its events go to the other members, theirs are its output. */
  swap(hub: pipeline.Hub | (() => pipeline.Hub | void)): this;
  /** As `link`, the events reaching the pipeline from a task of their own; the events before `fn` names one wait. */
  linkAsync(target: string | (() => string)): this;
  /** Dubbo frames in, a message per frame out: head `{ requestID, isRequest, isTwoWay, isEvent, serializationType, status }`, body the frame's (Hessian) bytes; a frame without the magic number ends the stream with `ProtocolError`. */
  decodeDubbo(): this;
  /** Each message (a head as `decodeDubbo` makes it, and a body) becomes one Dubbo frame. */
  encodeDubbo(): this;
  /** MQTT 3.1, 3.1.1 and 5.0 bytes in, a message per packet out: head {@link MQTTHead}, body the bytes after the variable header (a PUBLISH's message), MessageEnd payload CONNECT's, SUBSCRIBE's, UNSUBSCRIBE's or an ack's payload. */
  decodeMQTT(options?: { bufferLimit?: Size }): this;
  /** Writes each message as an MQTT packet: the head says which, a PUBLISH's body is its message, the MessageEnd payload the other payloads. */
  encodeMQTT(): this;
  /** Thrift bytes in (binary, old binary or compact protocol), a message per Thrift message out: no head, MessageEnd payload a {@link ThriftMessage}. */
  decodeThrift(options?: { bufferLimit?: Size }): this;
  /** Writes each message's MessageEnd payload (a {@link ThriftMessage} or an array of them) as Thrift. */
  encodeThrift(): this;
}

/** The head of an MQTT message (`decodeMQTT`, `encodeMQTT`); missing fields read as zero. */
interface MQTTHead {
  type: 'CONNECT' | 'CONNACK' | 'PUBLISH' | 'PUBACK' | 'PUBREC' | 'PUBREL' | 'PUBCOMP' | 'SUBSCRIBE' | 'SUBACK' | 'UNSUBSCRIBE' | 'UNSUBACK' | 'PINGREQ' | 'PINGRESP' | 'DISCONNECT' | 'AUTH';
  dup?: boolean;
  retain?: boolean;
  sessionPresent?: boolean;
  qos?: number;
  packetIdentifier?: number;
  /** 3 (3.1), 4 (3.1.1) or 5; without it, the level of the connection. */
  protocolLevel?: number;
  keepAlive?: number;
  reasonCode?: number;
  topicName?: string;
  /** 5.0 properties by Pipy's names (`contentType`, `sessionExpiryInterval`, ...); any other name is a user property. */
  properties?: { [name: string]: any };
}

/** A Thrift message (`decodeThrift`, `encodeThrift`). */
interface ThriftMessage {
  protocol: 'binary' | 'compact' | 'old';
  type: 'call' | 'reply' | 'exception' | 'oneway';
  seqID: number;
  name: string;
  fields: ThriftField[];
}

type ThriftType = 'BOOL' | 'I8' | 'I16' | 'I32' | 'I64' | 'DOUBLE' | 'BINARY' | 'STRUCT' | 'MAP' | 'SET' | 'LIST' | 'UUID';

/** A field of a struct: its value a boolean, number, bigint (I64), string or Data (BINARY), string (UUID), field array (STRUCT), `{ elementType, elements }` (LIST, SET) or `{ keyType, valueType, pairs }` (MAP). */
interface ThriftField {
  id: number;
  type: ThriftType;
  value: any;
}

/** What `pipe()` goes to: a pipeline, a key of its map, or an array of those. */
type PipeTarget = PipelineTemplate | string | (PipelineTemplate | string)[];

/** Options of `throttleMessageRate()` and `throttleDataRate()`. */
interface ThrottleOptions {
  /** Accepted for Pipy compatibility: Weir always pauses the input of a throttle that waits. */
  blockInput?: boolean;
}

/**
 * `$` in `$=>$...`: lays out a pipeline. `StartArg` is what the pipeline's `onStart`
 * callback receives (the {@link Inbound} for a listener's pipeline).
 */
declare class PipelineDesigner<StartArg = any> {
  private constructor();
  /** The first events of the pipeline, or `fn(startArg)` returning them (or nothing, or a Promise). */
  onStart(start: Events | ((startArg: StartArg) => Events | Promise<Events> | void)): this;
  /** Calls `fn()` when the pipeline is destroyed. */
  onEnd(fn: () => void): this;
  /** The sub-pipeline of the joint filter before it (usually written right after it). */
  to(sub: SubPipeline): this;
  /** Joint filter: runs the sub-pipeline on the input; when its output ends, `condition(streamEnd)` truthy (or a promise of it) runs a new one on the same input again, falsy passes the end on. */
  repeat(condition: (end: StreamEnd) => any): this;
}
interface PipelineDesigner<StartArg = any> extends PipelineFilters<SubPipeline> {}

/** A pipeline laid out once by `pipeline()`, usable wherever a builder is. */
declare class PipelineTemplate {
  private constructor();
  /** Runs one pipeline of the template on its own, `args` going to its `onStart`; resolved once its output ends. */
  spawn(...args: any[]): Promise<void>;
  /** Runs one pipeline fed `events`, what a promise resolves to, or what `fn()` returns (again and again, waiting on promises, until it returns nothing); resolved once its output ends. */
  process(events: Events | Promise<Events> | (() => Events | Promise<Events> | void)): Promise<void>;
}

/** Lays out a pipeline once; the template can be given wherever a builder is. */
declare function pipeline(builder: Builder<PipelineDesigner>): PipelineTemplate;
declare namespace pipeline {
  /** What `swap()` joins streams to: each member outputs what the others send. */
  class Hub {
    constructor();
  }
}

/** A sub-pipeline in a legacy configuration: a builder, a template, or a pipeline's name. */
type LegacySubPipeline = Builder<Configuration> | PipelineTemplate | string;

/**
 * A legacy configuration, made by `pipy({...})`: `.listen()`, `.pipeline()` and `.task()`
 * each start a pipeline, the filters append to the latest. The script's value puts it in effect.
 */
interface Configuration extends PipelineFilters<LegacySubPipeline> {
  /** Starts the pipeline of a listening port (`8000` or `'127.0.0.1:8000'`). */
  listen(address: number | string, options?: ListenOptions & { protocol?: 'tcp' | 'udp' }): this;
  /** Serves the next pipeline on every address of `listeners`, as they change while the script runs. */
  listen(listeners: ListenerArray): this;
  /** Starts a named pipeline (for `.to('name')`, `link('name')`), or the entrance with no name. */
  pipeline(name?: string): this;
  /** Starts a pipeline run once at start, or every `interval`, with `start` as its first events. */
  task(interval?: Duration | null, start?: Events): this;
  /** Starts a pipeline run each time the file (relative to the script's folder) changes, unless its last run is still going. */
  watch(filename: string): this;
  /** Starts a pipeline run when the worker stops, with `start` as its first events; the worker waits for its output to end. */
  exit(start?: Events): this;
  /** Declares context variables (`__name: initialValue`) that other modules can import from `namespace`. */
  export(namespace: string, variables: Record<string, any>): this;
  /** Uses context variables another module exported: `{ __name: 'namespace' }`. */
  import(variables: Record<string, string>): this;
  /** Runs the entrance pipelines of these plugin modules in turn (paths from the codebase root);
   *  with no argument, goes on to the next module of the chain, or passes events through after the last. */
  chain(modules?: string[]): this;
  /** Calls `fn($, i)` `count` times, or `fn($, item, i)` for each item. */
  repeat(count: number, fn: ($: this, index: number) => void): this;
  repeat(items: any[], fn: ($: this, item: any, index: number) => void): this;
  /** The first events of the pipeline, or `fn(startArg)` returning them. */
  onStart(start: Events | ((startArg: any) => Events | Promise<Events> | void)): this;
  /** Calls `fn()` when the pipeline is destroyed. */
  onEnd(fn: () => void): this;
  /**
   * At the first input event, outputs what `producer` gives, asking a function again until it
   * gives a `StreamEnd` (a Promise is waited for); the input is not passed on.
   */
  produce(producer: Events | (() => Events | Promise<Events> | void)): this;
  /**
   * Passes the first message on with the first `threshold` bytes of its body (0 unless given);
   * the rest goes through the file, read back once the message ends (removed unless `keep`).
   */
  depositMessage(filename: string | (() => string), options?: { threshold?: Size; keep?: boolean }): this;
  /** The sub-pipeline of the joint filter before it: a builder, or a pipeline's name. */
  to(sub: LegacySubPipeline): this;
  /** `fork('name', startArg?)` forks into a named pipeline; `fork(startArg?)` wants `.to(...)`. */
  fork(pipeline: string, startArg?: any): this;
  fork(startArg?: any): Joint<this, LegacySubPipeline>;
}
