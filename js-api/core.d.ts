// Weir's core JS API: globals, `pipy`, `os`, `Data`, messages and events, `Timeout`, the
// inbound object and PipyJS's additions to `JSON` and `Promise`. Reference: core.md.
// The pipeline designer and its filters are in pipeline.d.ts, `algo` in algo.d.ts, `bpf`,
// `CStruct` and `CUnion` in bpf.d.ts.
//
// Every value declared here exists in a worker's JS context, and every value there is
// declared here: tests/tests/js_api.rs compares the two by name.

/** Writes its arguments to stdout, separated by spaces, then a newline; non-strings in Pipy's dump format. */
declare function println(...args: any[]): void;

/** Writes its arguments to stdout, separated by spaces, with no newline. */
declare function print(...args: any[]): void;

/** Calls `fn(i)` for i = 0, 1, ... until it returns something other than `undefined`, and returns that. */
declare function repeat<T>(fn: (i: number) => T | undefined): T;
/** Calls `fn(i)` `count` times or until it returns something other than `undefined` (returned). */
declare function repeat<T>(count: number, fn: (i: number) => T | undefined): T | undefined;
/** Calls `fn(item, i)` for each item or until it returns something other than `undefined` (returned). */
declare function repeat<T, I>(items: I[], fn: (item: I, i: number) => T | undefined): T | undefined;

/** Log lines on stderr, in the runtime's log format (`[INF] ...`). */
declare namespace console {
  /** Logs at the `info` level. */
  function log(...args: any[]): void;
  /** Logs at the `info` level. */
  function info(...args: any[]): void;
  /** Logs at the `warn` level. */
  function warn(...args: any[]): void;
  /** Logs at the `error` level. */
  function error(...args: any[]): void;
  /** Logs at the `debug` level (shown with `--log-level=debug`). */
  function debug(...args: any[]): void;
}

/** How `Data` turns strings into bytes and back. */
type DataEncoding = 'utf8' | 'utf-8' | 'hex' | 'base64' | 'base64url';

/** A chunk of bytes: what flows through pipelines, and message bodies. */
declare class Data {
  /** Bytes of a string (in `encoding`, UTF-8 by default), a copy of a Data, or byte values. */
  constructor(from?: string | Data | number[], encoding?: DataEncoding);
  /** Like `new Data(...)`, but `null` instead of an exception when the input is bad. */
  static from(from: string | Data | number[], encoding?: DataEncoding): Data | null;
  /** Number of bytes. */
  readonly size: number;
  /** Appends bytes (a string as UTF-8) and returns this Data. */
  push(more: string | Data | number[]): Data;
  /** Removes the first `n` bytes and returns them. */
  shift(n: number): Data;
  /** Removes the last `n` bytes and returns them. */
  pop(n: number): Data;
  /** The bytes as an array of numbers. */
  toArray(): number[];
  /** The bytes as a string; `undefined` for `utf8` when they are not valid UTF-8. */
  toString(encoding?: DataEncoding): string;
}

/**
 * The head of a message. HTTP decoders give an {@link HttpHead}; scripts may use any
 * object (the HTTP encoders read the fields below and default the missing ones).
 */
interface MessageHead {
  /** Request method, e.g. `'GET'`. */
  method?: string;
  /** Request target, e.g. `'/index.html'`. */
  path?: string;
  /** `'HTTP/1.1'` or `'HTTP/1.0'`. */
  protocol?: string;
  /** Response status code. */
  status?: number;
  /** Response reason phrase. */
  statusText?: string;
  /** Lower-case header names to values (`cookie`/`set-cookie` as arrays). */
  headers?: Record<string, any>;
  /** Lower-case header names to their original spelling. */
  headerNames?: Record<string, string>;
  /** Any other field a script keeps in a head. */
  [field: string]: any;
}

/** A head made by the HTTP decoders: fields are converted from the wire only when read. */
declare class HttpHead implements MessageHead {
  private constructor();
  /** Request method (requests only). */
  method: string;
  /** Request target (requests only). */
  path: string;
  /** `'HTTP/1.1'` or `'HTTP/1.0'`. */
  protocol: string;
  /** Status code (responses only). */
  status: number;
  /** Reason phrase (responses only). */
  statusText: string;
  /** Lower-case header names to values; `cookie`/`set-cookie` are arrays, `connection` is left out. */
  headers: Record<string, any>;
  /** Lower-case header names to their spelling on the wire, where it differs. */
  headerNames: Record<string, string>;
  /** A plain object with every field (used by `JSON.stringify`). */
  toJSON(): MessageHead;
  [field: string]: any;
}

/** The named errors a `StreamEnd` may carry. */
type StreamErrorCode =
  | 'Replay' | 'RuntimeError' | 'ReadError' | 'WriteError' | 'CannotResolve'
  | 'ConnectionAborted' | 'ConnectionReset' | 'ConnectionRefused' | 'ConnectionTimeout'
  | 'ReadTimeout' | 'WriteTimeout' | 'IdleTimeout' | 'BufferOverflow' | 'ProtocolError'
  | 'Unauthorized';

/** The event that starts a message. */
declare class MessageStart {
  constructor(head?: MessageHead | null);
  /** Always `'MessageStart'`. */
  readonly type: 'MessageStart';
  /** The message's head, `null` if it has none. */
  readonly head: MessageHead | null;
}

/** The event that ends a message. */
declare class MessageEnd {
  constructor(tail?: any, payload?: any);
  /** Always `'MessageEnd'`. */
  readonly type: 'MessageEnd';
  /** The message's tail: `{ headers, headerNames }` for HTTP trailers, if any. */
  readonly tail: any;
  /** A value carried along with the end. */
  readonly payload: any;
}

/** The event that ends a stream, normally or with an error. */
declare class StreamEnd {
  constructor(error?: StreamErrorCode | (string & {}) | object);
  /** Always `'StreamEnd'`. */
  readonly type: 'StreamEnd';
  /** `undefined` for a normal end, else a {@link StreamErrorCode} or the value a script gave. */
  readonly error: StreamErrorCode | any;
}

/** A whole message: head, body and tail. Stands for MessageStart, Data and MessageEnd. */
declare class Message {
  /** A message with only a body. */
  constructor(body?: string | Data);
  /** A message with a head; a second argument that is not a string or Data becomes the payload. */
  constructor(head: MessageHead | null, body?: string | Data | null | any, tail?: any);
  /** The head, `null` if none. */
  readonly head: MessageHead | null;
  /** The body, `null` if none. */
  readonly body: Data | null;
  /** The tail, if any. */
  readonly tail: any;
  /** The payload, if any. */
  readonly payload: any;
}

/** One event of a stream. */
type PipelineEvent = Data | MessageStart | MessageEnd | StreamEnd;

/** What a callback may give as output: an event, a Message, an array of them, or nothing. */
type Events = PipelineEvent | Message | (PipelineEvent | Message | null | undefined)[] | null | undefined;

/** A duration: seconds as a number, or a string with a unit: `'5s'`, `'1.5m'`, `'2h'`, `'1d'`, `'100ms'`. */
type Duration = number | `${number}` | `${number}${'ms' | 's' | 'm' | 'h' | 'd'}`;

/** A byte count: a number, or a string with a binary suffix: `'16k'`, `'1m'`, `'1g'`. */
type Size = number | `${number}` | `${number}${'k' | 'K' | 'm' | 'M' | 'g' | 'G'}`;

/** Pipy's legacy `Swap`: a `pipeline.Hub` that `link(() => swap)` joins streams to, each hearing the others. */
declare class Swap {
  constructor();
}

/** A delay to wait for. */
declare class Timeout {
  constructor(delay?: Duration);
  /** A Promise resolved after the delay, in the pipeline context that asked. */
  wait(): Promise<void>;
  /** Rejects the waits under way, and every later one. */
  cancel(): void;
}

/** The socket of an inbound connection. */
declare class Socket {
  private constructor();
  /** getsockopt(2): appends the option's bytes to `data`; returns 0, or the errno. */
  getRawOption(level: number, optname: number, data: Data): number;
  /** setsockopt(2) with the bytes of `data`; returns 0, or the errno. */
  setRawOption(level: number, optname: number, data: Data): number;
}

/** An accepted connection (or a UDP peer): the start argument of a listener's pipeline. */
declare class Inbound {
  private constructor();
  /** Unique number of the connection in this process. */
  readonly id: number;
  /** Local IP address (the address the client connected to). */
  readonly localAddress: string;
  /** Local port. */
  readonly localPort: number;
  /** The client's IP address. */
  readonly remoteAddress: string;
  /** The client's port. */
  readonly remotePort: number;
  /**
   * Where the client meant to connect before NAT (iptables/nftables `REDIRECT` or `DNAT`)
   * sent it here, from `SO_ORIGINAL_DST` (IPv6: `IP6T_SO_ORIGINAL_DST`); `''` when the
   * kernel has none. Pipy answers only on a `transparent` listener, and for IPv4 only.
   */
  readonly destinationAddress: string;
  /** The port of `destinationAddress`; 0 when there is none. */
  readonly destinationPort: number;
  /** Raw socket options of the connection (UDP: of the listening socket all peers share). */
  readonly socket: Socket;
}

/** An upstream connection opened by `connect` (TCP or UDP), as `pipy.outbound.forEach` gives it. */
declare class Outbound {
  private constructor();
  /** `'idle'`, `'connecting'`, `'connected'` or `'closed'`. */
  readonly state: string;
  /** The local IP address, `''` until connected. */
  readonly localAddress: string;
  /** The local port, 0 until connected. */
  readonly localPort: number;
  /** The peer's IP address, `''` until connected. */
  readonly remoteAddress: string;
  /** The peer's port, 0 until connected. */
  readonly remotePort: number;
  /** Closes the connection; its pipeline's output ends with `StreamEnd('ConnectionAborted')`. */
  close(): void;
}

/** Bytes that stand for a string's text (what Hessian reads and writes as a string). */
declare class CString {
  /** Empty, the UTF-8 of a string, or the bytes of a Data. */
  constructor(value?: string | Data);
  /** Number of bytes. */
  readonly size: number;
  /** A copy of the bytes. */
  readonly data: Data;
  /** The text (invalid UTF-8 replaced). */
  toString(): string;
  /** The text, so that `JSON.stringify` writes a CString as a string. */
  toJSON(): string;
}

/** A listener of a `ListenerArray`: a port (on 0.0.0.0), an `'ip:port'`, or one with options of its own. */
type ListenerArrayEntry = number | string | (ListenOptions & { port: number | string; protocol?: 'tcp' | 'udp' });

/**
 * Listening addresses that a legacy `pipy().listen(array)` serves with one pipeline; once
 * listened, each change opens or closes listeners at once.
 */
declare class ListenerArray {
  /** Bare ports and strings listen on TCP with `options`; objects with their own options. */
  constructor(listeners?: ListenerArrayEntry[] | null, options?: ListenOptions & { protocol?: 'tcp' | 'udp' });
  /** Replaces the addresses: those no longer listed close. */
  set(listeners: ListenerArrayEntry[] | null): void;
  /** Adds an address (with the constructor's options unless given). */
  add(port: number | string, options?: ListenOptions & { protocol?: 'tcp' | 'udp' }): void;
  /** Removes an address, closing its listener. */
  remove(port: number | string, options?: ListenOptions & { protocol?: 'tcp' | 'udp' }): void;
}

/** The inbound connection of the current pipeline context, `null` outside of one (legacy). */
declare const __inbound: Inbound | null;

/** `/` and the script's file name (legacy). */
declare const __filename: string;

/** Options of a listening port. */
interface ListenOptions {
  /**
   * Connections accepted at once; more wait in the kernel's backlog. `0` or less: no bound
   * (the TCP default). UDP: sessions at once, datagrams of further new peers are dropped;
   * left out, 256 sessions, and a new peer past them ends the session idle longest.
   */
  maxConnections?: number;
  /** Closes a connection (a UDP peer's session) without traffic in either direction for this long (default 60 s; UDP 10 s). `0`: never. */
  idleTimeout?: Duration;
  /** `'udp'`: one session per peer, each datagram one Data (Pipy reads this only in legacy `.listen`). */
  protocol?: 'tcp' | 'udp';
  /** `pipy_inbound_*` also per peer address under the listener (`{listen="...",peer="10.0.0.2"}`). */
  peerStats?: boolean;
  /**
   * IP_TRANSPARENT on the socket: it takes connections addressed to any address, as iptables
   * `TPROXY` hands them over (their `localAddress` is the one the client asked for). Needs
   * CAP_NET_ADMIN.
   */
  transparent?: boolean;
}

/**
 * `pipy(contextPrototype?)` starts a legacy configuration (see {@link Configuration}); its
 * members are the process-wide API. An interface rather than a namespace, because one member
 * is called `import`.
 */
interface Pipy {
  /** Starts a legacy configuration (see {@link Configuration}). */
  (contextPrototype?: object | (() => object)): Configuration;
  /** Listens on a TCP or UDP port (`8000` or `'127.0.0.1:8000'`); each connection (each UDP peer) runs the pipeline. */
  listen(address: number | string, builder: ListenerPipeline): void;
  listen(address: number | string, options: ListenOptions, builder: ListenerPipeline): void;
  listen(address: number | string, protocol: 'tcp' | 'udp', builder: ListenerPipeline): void;
  listen(address: number | string, protocol: 'tcp' | 'udp', options: ListenOptions, builder: ListenerPipeline): void;
  /** Reads a file relative to the script's folder; `null` if it does not exist. */
  load(path: string): Data | null;
  /** The value of a codebase file holding one expression, evaluated once per worker. */
  solve(path: string): any;
  /** The exports of an ES module (path relative to the calling module), run once per worker. */
  import(path: string): { readonly default?: any; readonly [name: string]: any };
  /** Registers a callback run at shutdown; Weir waits for a Promise it returns. */
  exit(callback: () => void | Promise<any>): void;
  /** Stops the process with an exit code (default 0). */
  exit(code?: number): void;
  /**
   * Loads the script again on every worker, as SIGHUP does: new connections get the new
   * pipelines, open ones finish on the old; the old script's exit callbacks run.
   */
  restart(): void;
  /** Feeds a file (relative to the working directory) through a pipeline and ends its stream; settles once the pipeline's output ended. */
  read(filename: string, builder: SubPipeline, startArg?: any): Promise<void>;
  /** Resolves, with `[path]`, once the file (relative to the script's folder) changes, appears or goes. */
  watch(path: string): Promise<string[]>;
  /**
   * Runs a command to its end and returns its stdout. No shell: a string is split on blanks,
   * with `"` quoting and `\\` escaping. `stdin` is fed to it, `env` is its whole environment,
   * `stderr: true` sends its stderr into the returned stdout, and `onExit(code, stderr)` is
   * called before `exec` returns (`stderr` absent when it went to stdout).
   */
  exec(
    command: string | string[],
    options?: {
      stdin?: Data;
      env?: { [name: string]: string };
      stderr?: boolean;
      onExit?: (code: number, stderr?: Data) => void;
    },
  ): Data;
  /** Milliseconds since the process started. */
  now(): number;
  /** The process id. */
  readonly pid: number;
  /** The script path, then the words after `--`. */
  readonly argv: string[];
  /** `'weir '` and the version. */
  readonly version: string;
  /** This worker thread. */
  readonly thread: {
    /** 0-based index of the worker running this context. */
    readonly id: number;
    /** Number of worker threads (`--threads`). */
    readonly concurrency: number;
  };
  /** When the instance started, in milliseconds since the epoch. */
  readonly since: number;
  /** The script's path, as given. */
  readonly source: string;
  /** A random (v4) UUID made when the instance started. */
  readonly uuid: string;
  /** The start as `timeOrigin` (ms since the epoch), and `now()`: ms since it, µs precision. */
  readonly performance: { readonly timeOrigin: number; now(): number };
  /** The terminal on stdin: `raw` puts it in raw mode (no line editing, echo or key signals), or back. */
  readonly tty: { raw: boolean };
  /** This worker's open inbound connections: how many, and each one oldest first. */
  readonly inbound: { readonly count: number; forEach(fn: (inbound: Inbound) => void): void };
  /** This worker's outbound connections (those `connect` opened): how many, and each one oldest first. */
  readonly outbound: { readonly count: number; forEach(fn: (outbound: Outbound) => void): void };
  /** Calls `fn()` in a pipeline context of its own, its `$` variables at their initial values; returns what it returns. */
  fork<T>(fn: () => T): T;
}
declare const pipy: Pipy;

/** Information on a file, from `os.stat()`. */
interface Stat {
  size: number;
  atime: number;
  mtime: number;
  ctime: number;
  isFile(): boolean;
  isDirectory(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
  isFIFO(): boolean;
  isSymbolicLink(): boolean;
  isSocket(): boolean;
}

/** The file system and environment. Paths are real paths, relative to the working directory. */
declare namespace os {
  /** Environment variables. */
  const env: Record<string, string>;
  /** Always `'linux'`. */
  const platform: 'linux';
  /** Reads a file; throws if it cannot. */
  function read(path: string): Data;
  /** Reads a file; logs and returns `null` if it cannot. */
  function readFile(path: string): Data | null;
  /** Writes a file; throws if it cannot. */
  function write(path: string, data: string | Data): void;
  /** Writes a file; logs if it cannot. */
  function writeFile(path: string, data: string | Data): void;
  /** Makes a directory (and its parents with `recursive`). */
  function mkdir(path: string, options?: { recursive?: boolean }): void;
  /** Removes a directory; `force` ignores a missing one (returns false). */
  function rmdir(path: string, options?: { recursive?: boolean; force?: boolean }): boolean;
  /** Removes a file or directory; `force` ignores a missing one (returns false). */
  function rm(path: string, options?: { recursive?: boolean; force?: boolean }): boolean;
  /** Removes a file; false if it could not. */
  function unlink(path: string): boolean;
  /** File information without following a symlink; `null` if missing. */
  function stat(path: string): Stat | null;
  /** Sorted names in a directory (directories end in `/`, dot files left out). */
  function readDir(path: string): string[];
  /** Same as `readDir`. */
  function list(path: string): string[];
  /** Renames a file or directory; throws if it cannot. */
  function rename(oldPath: string, newPath: string): void;
  /** Sends signal number `signal` (default 0) to a process; failures are not reported. */
  function kill(pid: number, signal?: number): void;
  /** `$HOME`. */
  function home(): string;
  /** Changes the working directory; throws if it cannot. */
  function chdir(path: string): void;
  /** The path made absolute (from the working directory) and normalized. */
  function abspath(path: string): string;
  /** Paths as Pipy handles them (not Node's rules). */
  namespace path {
    /** The last segment; without `suffix` at its end if it has it. */
    function basename(path: string, suffix?: string): string;
    /** All before the last `/`; `''` when there is none. */
    function dirname(path: string): string;
    /** The non-empty parts joined by single slashes; `'.'` for no parts. */
    function join(...parts: string[]): string;
    /** The parts joined, restarting at each absolute one, made absolute and normalized. */
    function resolve(...parts: string[]): string;
    /** `.` and empty segments dropped, `..` applied; always starts with `/`. */
    function normalize(path: string): string;
  }
}

/** Loggers writing one line per `log()` to each of their targets. */
declare namespace logging {
  /** What every logger has. */
  interface Logger {
    toStdout(): this;
    toStderr(): this;
    /** Appends to the file with `append`, else truncates it at the first line. */
    toFile(path: string, options?: { append?: boolean }): this;
    toSyslog(priority?: 'EMERG' | 'ALERT' | 'CRIT' | 'ERR' | 'WARNING' | 'NOTICE' | 'INFO' | 'DEBUG'): this;
    /** Posts lines in batches through an `http.Agent`: `batch.size` lines (default 1000) joined as `pack` joins bodies, or fewer once `batch.timeout` (else `batch.interval`) passed since the batch's first line; one request at a time, a batch whose connection failed again 5 s later; lines past `bufferLimit` bytes waiting (default 8 MiB) are dropped with a warning. */
    toHTTP(url: string, options?: {
      batch?: { size?: number; timeout?: number | string; interval?: number | string; prefix?: string | Data; separator?: string | Data; postfix?: string | Data; vacancy?: number };
      bufferLimit?: number;
      method?: string;
      headers?: Record<string, string>;
      tls?: object;
    }): this;
    log(...values: any[]): void;
  }
  /** Bytes: Data, strings, arrays of byte numbers, else each value's string, concatenated. */
  class BinaryLogger {
    constructor(name: string);
  }
  interface BinaryLogger extends Logger {}
  /** Values joined by spaces; an object as its string, `:` and its JSON. */
  class TextLogger {
    constructor(name: string);
  }
  interface TextLogger extends Logger {}
  /** The JSON of each value, concatenated. */
  class JSONLogger {
    constructor(name: string);
  }
  interface JSONLogger extends Logger {}
}

// PipyJS's additions to standard objects.

interface JSON {
  /** `JSON.parse` of a Data's text; a string value of more than `maxStringSize` bytes is a `CString`. */
  decode(
    data: Data | string,
    reviver?: ((this: any, key: string, value: any) => any) | null,
    options?: { maxStringSize?: number },
  ): any;
  /** `JSON.stringify` into a Data. */
  encode(value: any, replacer?: any, space?: string | number): Data | undefined;
}

interface Promise<T> {
  /** PipyJS: a value that is not a function settles the derived Promise with that value. */
  then<V extends Events & {} | string | number | boolean | bigint>(value: V): Promise<V>;
}

/** The protobuf wire format without a schema: records by field number. */
declare namespace protobuf {
  /** A message's records; each setter replaces the field's records and returns the message. */
  class Message {
    constructor();
    /** The wire type of the field's last record, or `''` if it has none. */
    getWireType(field: number): '' | 'VARINT' | 'I32' | 'I64' | 'LEN';
    /** The field's last value (0 if none). */
    getFloat(field: number): number;
    /** All the field's values, packed or not; null if a packed record is cut short. */
    getFloatArray(field: number): number[] | null;
    setFloat(field: number, value: number): this;
    /** Written as one packed record. */
    setFloatArray(field: number, values: number[]): this;
    /** The field's last value (0 if none). */
    getDouble(field: number): number;
    /** All the field's values, packed or not; null if a packed record is cut short. */
    getDoubleArray(field: number): number[] | null;
    setDouble(field: number, value: number): this;
    /** Written as one packed record. */
    setDoubleArray(field: number, values: number[]): this;
    /** The field's last value (0 if none). */
    getInt32(field: number): number;
    /** All the field's values, packed or not; null if a packed record is cut short. */
    getInt32Array(field: number): number[] | null;
    setInt32(field: number, value: number): this;
    /** Written as one packed record. */
    setInt32Array(field: number, values: number[]): this;
    /** The field's last value (0 if none). */
    getInt64(field: number): number;
    /** All the field's values, packed or not; null if a packed record is cut short. */
    getInt64Array(field: number): number[] | null;
    setInt64(field: number, value: number): this;
    /** Written as one packed record. */
    setInt64Array(field: number, values: number[]): this;
    /** The field's last value (0 if none). */
    getUint32(field: number): number;
    /** All the field's values, packed or not; null if a packed record is cut short. */
    getUint32Array(field: number): number[] | null;
    setUint32(field: number, value: number): this;
    /** Written as one packed record. */
    setUint32Array(field: number, values: number[]): this;
    /** The field's last value (0 if none). */
    getUint64(field: number): number;
    /** All the field's values, packed or not; null if a packed record is cut short. */
    getUint64Array(field: number): number[] | null;
    setUint64(field: number, value: number): this;
    /** Written as one packed record. */
    setUint64Array(field: number, values: number[]): this;
    /** The field's last value (0 if none). */
    getSint32(field: number): number;
    /** All the field's values, packed or not; null if a packed record is cut short. */
    getSint32Array(field: number): number[] | null;
    setSint32(field: number, value: number): this;
    /** Written as one packed record. */
    setSint32Array(field: number, values: number[]): this;
    /** The field's last value (0 if none). */
    getSint64(field: number): number;
    /** All the field's values, packed or not; null if a packed record is cut short. */
    getSint64Array(field: number): number[] | null;
    setSint64(field: number, value: number): this;
    /** Written as one packed record. */
    setSint64Array(field: number, values: number[]): this;
    /** All the field's values, packed or not; null if a packed record is cut short. */
    getFixed32Array(field: number): number[] | null;
    setFixed32(field: number, value: number): this;
    /** Written as one packed record. */
    setFixed32Array(field: number, values: number[]): this;
    /** All the field's values, packed or not; null if a packed record is cut short. */
    getFixed64Array(field: number): number[] | null;
    setFixed64(field: number, value: number): this;
    /** Written as one packed record. */
    setFixed64Array(field: number, values: number[]): this;
    /** All the field's values, packed or not; null if a packed record is cut short. */
    getSfixed32Array(field: number): number[] | null;
    setSfixed32(field: number, value: number): this;
    /** Written as one packed record. */
    setSfixed32Array(field: number, values: number[]): this;
    /** All the field's values, packed or not; null if a packed record is cut short. */
    getSfixed64Array(field: number): number[] | null;
    setSfixed64(field: number, value: number): this;
    /** Written as one packed record. */
    setSfixed64Array(field: number, values: number[]): this;
    /** The field's last value (0 if none). */
    getBool(field: number): boolean;
    /** All the field's values, packed or not; null if a packed record is cut short. */
    getBoolArray(field: number): boolean[] | null;
    setBool(field: number, value: boolean): this;
    /** Written as one packed record. */
    setBoolArray(field: number, values: boolean[]): this;
    /** The field's last LEN record as a string, or null. */
    getString(field: number): string | null;
    /** One string per record. */
    getStringArray(field: number): string[];
    setString(field: number, value: string): this;
    setStringArray(field: number, values: string[]): this;
    /** The field's last LEN record as a Data, or null. */
    getBytes(field: number): Data | null;
    /** One Data per record. */
    getBytesArray(field: number): Data[];
    setBytes(field: number, value: Data): this;
    setBytesArray(field: number, values: Data[]): this;
    /** The field's last LEN record as a Message, or null. */
    getMessage(field: number): Message | null;
    /** One Message per record; null if one does not parse. */
    getMessageArray(field: number): Message[] | null;
    setMessage(field: number, value: Message): this;
    setMessageArray(field: number, values: Message[]): this;
  }
  /** The message the bytes hold, or null if they are not the wire format. */
  function decode(data: Data): Message | null;
  /** A message's bytes, its fields in ascending order. */
  function encode(message: Message): Data;
}

/** Hessian 2.0: a list, map or class instance as a script sees it. */
interface HessianCollection {
  kind: 'list' | 'map' | 'object';
  /** The Java type; `null` for an untyped list or map. */
  type: string | null;
  /** A list's values, a map's `[key, value]` pairs, or an object's fields. */
  elements: any[] | [any, any][] | { [field: string]: any };
}

/** Hessian 2.0 serialization (Dubbo's default). Ints and doubles are numbers, longs BigInts, dates `Date`s, binaries `Data`. */
declare namespace Hessian {
  /** The values the bytes hold, in order; throws on malformed input. */
  function decode(data: Data): any[];
  /** A value, or each element of an array, as Hessian bytes. */
  function encode(value: any): Data;
}

/** YAML (1.2 core schema): scalars are typed, keys keep their order. */
declare namespace YAML {
  /** The last document of a YAML text. */
  function decode(data: Data | string | null): any;
  /** The last document of a YAML text. */
  function parse(text: string): any;
  /** A value as a YAML document, in a Data. */
  function encode(value: any): Data | undefined;
  /** A value as a YAML document. */
  function stringify(value: any): string | undefined;
}

/** BGP-4 messages as `decodeBGP`/`encodeBGP` read and write them. */
declare namespace BGP {
  /** `{ type, body }`: `type` a message type's name (or number), `body` its fields as Pipy names them; address prefixes are CIDR strings. */
  interface Message {
    type?: 'OPEN' | 'UPDATE' | 'NOTIFICATION' | 'KEEPALIVE' | 'ROUTE_REFRESH' | number;
    body?: any;
  }
  /** Every whole message in `data`, up to the first that does not parse. */
  function decode(data: Data, enableAS4?: boolean): Message[];
  /** One message as bytes. */
  function encode(message: Message, enableAS4?: boolean): Data;
}

/** DNS messages as Pipy's objects: `{ id, qr, opcode, aa, tc, rd, ra, zero, rcode, question, answer, authority, additional }`. */
declare namespace DNS {
  /** A whole DNS message; throws if it does not parse. */
  function decode(data: Data): any;
  /** A DNS message as bytes (names uncompressed); throws naming a field that is wrong. */
  function encode(message: any): Data;
  /** The addresses of `hostname` from the system resolver, or `null` if it has none. */
  function resolve(hostname: string): Promise<string[] | null>;
}

/** An IPv4 or IPv6 address block in CIDR notation (Pipy's `Netmask`). */
declare class Netmask {
  /** `'10.0.0.1/24'` (no `/n`: width 0), or a width and 4 (IPv4) or 16 (IPv6) bytes. */
  constructor(cidr: string);
  constructor(bitmask: number, bytes: number[]);
  /** 4 or 6. */
  readonly version: 4 | 6;
  /** The address as written. */
  readonly ip: string;
  /** The mask width. */
  readonly bitmask: number;
  /** The address with the host bits cleared. */
  readonly base: string;
  /** The mask as an address. */
  readonly mask: string;
  /** The host bits as an address. */
  readonly hostmask: string;
  /** The address with all host bits set. */
  readonly broadcast: string;
  /** How many addresses the block has. */
  readonly size: number;
  /** The first host address. */
  readonly first: string;
  /** The last host address. */
  readonly last: string;
  /** The address as 4 bytes, or 8 16-bit groups for IPv6. */
  decompose(): number[];
  /** The address as 4 or 16 bytes. */
  toBytes(): number[];
  /** Whether an address of the same version is in the block. */
  contains(ip: string): boolean;
  /** The next host address of the block, from the first; `''` once all were handed out. */
  next(): string;
  /** `ip/bitmask`. */
  toString(): string;
}

/** Pipy's other name of `Netmask`: the same class. */
declare class IPMask extends Netmask {}

/** One IPv4 or IPv6 address. */
declare class IP {
  /** `'10.0.0.1'`, `'::1'`, or 4 bytes (IPv4) or 16 (more than 4: IPv6). */
  constructor(address: string | number[]);
  /** 4 or 6. */
  readonly version: 4 | 6;
  /** The address as 4 bytes, or 8 16-bit groups for IPv6. */
  decompose(): number[];
  /** The address as 4 or 16 bytes. */
  toBytes(): number[];
  /** The address as text (IPv6 compressed). */
  toString(): string;
  /** Whether `text` is an IPv4 address. */
  static isV4(text: string): boolean;
  /** Whether `text` is an IPv6 address. */
  static isV6(text: string): boolean;
}

/** An address, a port and a protocol; the fields may be changed. */
declare class IPEndpoint {
  /** `'10.0.0.1:80'`, `'[::1]:53'` or an address alone (port 0). */
  constructor(address: string | IP, protocol?: 'tcp' | 'udp');
  /** An address and a port. */
  constructor(address: string | IP, port: number, protocol?: 'tcp' | 'udp');
  protocol: 'tcp' | 'udp';
  ip: IP;
  port: number;
}

/** Whole-buffer compression: the zlib format (`deflate`/`inflate`) and gzip. `null` in, `null` out. */
declare namespace zlib {
  function deflate(data: Data): Data;
  function deflate(data: null | undefined): null;
  /** Throws on bytes that are not zlib, or a stream cut short. */
  function inflate(data: Data): Data;
  function inflate(data: null | undefined): null;
  function gzip(data: Data): Data;
  function gzip(data: null | undefined): null;
  /** Throws on bytes that are not gzip, or a stream cut short. */
  function gunzip(data: Data): Data;
  function gunzip(data: null | undefined): null;
}

/** A STUN mapped address: the IP as text (IPv6 as eight groups of four hex digits), the port and the family. */
interface STUNAddress {
  ip: string;
  port: number;
  family: 'IPv4' | 'IPv6';
}

/** STUN (RFC 5389) Binding messages, as Pipy's codec reads and writes them. */
declare namespace STUN {
  /** The 20 bytes of a Binding Request (`type` must be `'BindingRequest'`, `transactionId` 12 bytes). */
  function encode(message: { type: 'BindingRequest'; transactionId: Data }): Data;
  /** A Binding Request or Response; a response's first (XOR-)MAPPED-ADDRESS as `mappedAddress`. Throws on anything else. */
  function decode(data: Data): { type: 'BindingRequest' | 'BindingResponse'; transactionId: Data; mappedAddress?: STUNAddress };
}

/** The Redis protocol: strings, `Error`s, integers, `Data` (bulk strings), arrays and `null`. */
declare namespace RESP {
  /** Every whole value in `data` (a value cut short at the end is left out); throws on malformed bytes. */
  function decode(data: Data): any[];
  function decode(data: null | undefined): null;
  /** One value: a string is a simple string, a number an integer, a `Data` a bulk string, an `Error` an error, `null` the null bulk string, anything else its text. */
  function encode(value: any): Data;
}

/** XML documents as trees of `XML.Node`s; a document is a node named `''` whose only child is the root element. */
declare namespace XML {
  /** One element: its children are nodes and strings (text, whitespace included). */
  class Node {
    constructor(name: string, attributes?: Record<string, any> | null, children?: (Node | string)[] | null);
    readonly name: string;
    /** `null` for an element without attributes. */
    readonly attributes: Record<string, string> | null;
    readonly children: (Node | string)[] | null;
  }
  /** The document, or `null` when the text is not well-formed XML. */
  function parse(text: string): Node | null;
  /** The document, or `null` when the bytes are not well-formed XML. */
  function decode(data: Data): Node | null;
  function decode(data: null | undefined): null;
  /** The document's root element as text, indented by `space` (0 to 10) spaces a level; `''` for a document without exactly one root. */
  function stringify(doc: Node, space?: number): string;
  /** As `stringify`, in a Data. */
  function encode(doc: Node, space?: number): Data;
  function encode(doc: null | undefined, space?: number): null;
}

/** A URL split as Pipy splits it: no canonical form; no scheme is `http:`, no port the scheme's. */
declare class URL {
  constructor(url: string, base?: string);
  /** `user:password`. */
  readonly auth: string;
  /** `#fragment`. */
  readonly hash: string;
  /** `hostname:port` as written. */
  readonly host: string;
  readonly hostname: string;
  readonly href: string;
  /** `protocol//host`. */
  readonly origin: string;
  readonly password: string;
  /** `pathname` and `search`. */
  readonly path: string;
  readonly pathname: string;
  /** The port, or the scheme's (`'80'`, `'443'`, ...). */
  readonly port: string;
  /** `http:`. */
  readonly protocol: string;
  /** The query without `?`. */
  readonly query: string;
  /** The query with `?`. */
  readonly search: string;
  readonly searchParams: URLSearchParams;
  readonly username: string;
  /** Percent-encodes all but letters, digits, `-_.!~*'()` and `;/?:@&=+$,#` (UTF-8 bytes). */
  static encode(text: string): string;
  /** Percent-decodes all but the characters `encode` keeps; throws on a `%` without two hex digits. */
  static decode(text: string): string;
  /** Percent-encodes all but letters, digits and `-_.!~*'()`. */
  static encodeComponent(text: string): string;
  /** Percent-decodes all but the characters `encodeComponent` keeps; throws on a `%` without two hex digits. */
  static decodeComponent(text: string): string;
}

/** Query parameters: a name holds a string, or an array when given more than once. */
declare class URLSearchParams {
  constructor(search?: string | Record<string, any>);
  /** The first value, or `null`. */
  get(name: string): string | null;
  /** Every value. */
  getAll(name: string): string[];
  /** Replaces the values; `null` or `undefined` removes the name. */
  set(name: string, value: any): void;
  /** Names to a string or an array of strings. */
  toObject(): Record<string, string | string[]>;
  /** `a=1&a=2&b=x%20y`. */
  toString(): string;
}
