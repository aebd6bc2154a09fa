// TypeScript declarations of Weir's core JS API (see core.md). Pipy scripts are plain JS;
// these are for editors.

declare function println(...args: any[]): void;
declare function print(...args: any[]): void;

declare const console: {
  log(...args: any[]): void;
  info(...args: any[]): void;
  warn(...args: any[]): void;
  error(...args: any[]): void;
  debug(...args: any[]): void;
};

type Encoding = 'utf8' | 'hex' | 'base64' | 'base64url';

declare class Data {
  constructor(from?: string | Data | number[], encoding?: Encoding);
  static from(from: string, encoding?: Encoding): Data | null;
  readonly size: number;
  push(more: string | Data): Data;
  shift(n: number): Data;
  pop(n: number): Data;
  toArray(): number[];
  toString(encoding?: Encoding): string | undefined;
}

interface RequestHead {
  method?: string;
  path?: string;
  protocol?: string;
  headers?: Record<string, string | string[]>;
  headerNames?: Record<string, string>;
}

interface ResponseHead {
  status?: number;
  statusText?: string;
  protocol?: string;
  headers?: Record<string, string | string[]>;
  headerNames?: Record<string, string>;
}

type Head = RequestHead & ResponseHead;

declare class MessageStart {
  constructor(head?: Head | null);
  readonly type: 'MessageStart';
  readonly head: Head | null;
}

declare class MessageEnd {
  constructor(tail?: any, payload?: any);
  readonly type: 'MessageEnd';
  readonly tail: any;
  readonly payload: any;
}

declare class StreamEnd {
  constructor(error?: string | any);
  readonly type: 'StreamEnd';
  readonly error: string | any | undefined;
}

declare class Message {
  constructor(body?: string | Data);
  constructor(head: Head | null, body?: string | Data | null, tail?: any);
  readonly head: Head | null;
  readonly body: Data | null;
  readonly tail: any;
  readonly payload: any;
}

type Event = Data | MessageStart | MessageEnd | StreamEnd;
type Events = Event | Message | (Event | Message | null | undefined)[] | null | undefined;

declare class Timeout {
  constructor(seconds: number | string);
  wait(): Promise<void>;
}

interface Socket {
  getRawOption(level: number, optname: number, data: Data): number;
  setRawOption(level: number, optname: number, data: Data): number;
}

interface Inbound {
  readonly id: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly socket: Socket;
}

type Builder = ($: Designer) => Designer;
type Target = Builder | PipelineTemplate;

interface Designer {
  onStart(start: Events | ((arg?: any) => Events | Promise<Events>)): Designer;
  onEnd(fn: () => any): Designer;
  to(sub: Target | string): Designer;
  connect(target: string | (() => string), options?: {
    retryCount?: number; retryDelay?: number | string; connectTimeout?: number | string; idleTimeout?: number | string;
  }): Designer;
  fork(init?: any): Designer;
  decodeHTTPRequest(handler?: (head: RequestHead) => any): Designer;
  decodeHTTPResponse(): Designer;
  encodeHTTPRequest(options?: { bufferSize?: number | string }): Designer;
  encodeHTTPResponse(options?: { bufferSize?: number | string }): Designer;
  /** `bufferLimit` (default 16 MiB): the most request body a handler is given. */
  serveHTTP(handler: Message | ((request: Message) => Message | Promise<Message>), options?: { bufferSize?: number | string; bufferLimit?: number | string }): Designer;
  demuxHTTP(options?: { bufferSize?: number }): Designer;
  muxHTTP(selector?: () => any, options?: { maxQueue?: number; maxMessages?: number; maxIdle?: number | string; bufferSize?: number }): Designer;
  handle(fn: (evt: Event, index: number) => any): Designer;
  handleStreamStart(fn: (evt: Event) => any): Designer;
  handleMessageStart(fn: (evt: MessageStart, index: number) => any): Designer;
  handleData(fn: (evt: Data, index: number) => any): Designer;
  handleMessageEnd(fn: (evt: MessageEnd, index: number) => any): Designer;
  handleStreamEnd(fn: (evt: StreamEnd, index: number) => any): Designer;
  /** `bufferLimit` (default 16 MiB): a bigger message ends the stream with `BufferOverflow`. */
  handleMessage(fn: (msg: Message, index: number) => any, options?: { bufferLimit?: number | string }): Designer;
  handleMessage(sizeLimit: number | string, fn: (msg: Message, index: number) => any): Designer;
  /** `bufferLimit` (default 16 MiB): a bigger message ends the stream with `BufferOverflow`. */
  replaceMessage(replacement?: Events | ((msg: Message, index: number) => Events | Promise<Events>), options?: { bufferLimit?: number | string }): Designer;
  replaceMessage(sizeLimit: number | string, replacement: Events | ((msg: Message, index: number) => Events | Promise<Events>)): Designer;
  replaceStreamStart(replacement?: Events | ((evt: Event) => Events | Promise<Events>)): Designer;
  replaceMessageStart(replacement?: Events | ((evt: MessageStart) => Events | Promise<Events>)): Designer;
  replaceData(replacement?: Events | ((evt: Data) => Events | Promise<Events>)): Designer;
  replaceMessageEnd(replacement?: Events | ((evt: MessageEnd) => Events | Promise<Events>)): Designer;
  replaceStreamEnd(replacement?: Events | ((evt: StreamEnd) => Events | Promise<Events>)): Designer;
  branch(...condsAndSubs: any[]): Designer;
  branchMessageStart(...condsAndSubs: any[]): Designer;
  branchMessage(...condsAndSubs: any[]): Designer;
  link(name: string | (() => string | undefined)): Designer;
  print(): Designer;
  dump(tag?: string): Designer;
}

interface PipelineTemplate {}
declare function pipeline(builder: Builder): PipelineTemplate;

interface Configuration extends Designer {
  listen(port: number | string, options?: { maxConnections?: number; idleTimeout?: number | string }): Configuration;
  pipeline(name?: string): Configuration;
  task(interval?: number | string): Configuration;
  repeat(items: number | any[], fn: ($: Configuration, item: any, index: number) => any): Configuration;
}

declare const pipy: {
  (contextPrototype?: object | (() => object)): Configuration;
  listen(port: number | string, builder: Target): void;
  listen(port: number | string, options: { maxConnections?: number; idleTimeout?: number | string }, builder: Target): void;
  listen(port: number | string, protocol: 'tcp', options: object, builder: Target): void;
  load(path: string): Data | null;
  exit(callback: () => any): void;
  exit(code?: number): void;
  exec(command: string | string[]): Data;
  now(): number;
  readonly pid: number;
  readonly argv: string[];
  readonly version: string;
  readonly thread: { readonly id: number; readonly concurrency: number };
};

interface Stat {
  size: number; atime: number; mtime: number; ctime: number;
  isFile(): boolean; isDirectory(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean;
  isFIFO(): boolean; isSymbolicLink(): boolean; isSocket(): boolean;
}

declare const os: {
  readonly env: Record<string, string>;
  readonly platform: 'linux';
  read(path: string): Data;
  readFile(path: string): Data | null;
  write(path: string, data: string | Data): void;
  writeFile(path: string, data: string | Data): void;
  mkdir(path: string, options?: { recursive?: boolean }): void;
  rmdir(path: string, options?: { recursive?: boolean; force?: boolean }): boolean;
  rm(path: string, options?: { recursive?: boolean; force?: boolean }): boolean;
  unlink(path: string): boolean;
  stat(path: string): Stat | null;
  readDir(path: string): string[];
  list(path: string): string[];
};

interface JSON {
  decode(data: Data | string, reviver?: (key: string, value: any) => any): any;
  encode(value: any, replacer?: any, space?: string | number): Data | undefined;
}
