/// <reference path="core.d.ts" />

/** Static files as HTTP responses (`http.File`, `http.Directory`), an HTTP client (`http.Agent`) and path patterns (`http.Match`). */
declare namespace http {
  /** A file of the script's folder with its precompressed variants (`name.gz`, `name.br`). */
  class File {
    /** Reads `path` (relative to the script's folder), else `path/index.html`; throws when neither is there. */
    constructor(path: string);
    /** As the constructor, `null` instead of throwing. */
    static from(path: string): File | null;
    /** The `br` variant if `acceptEncoding` names br and it exists, else the `gzip` one likewise, else the plain file (400 if only a variant exists and it does not decompress). */
    toMessage(acceptEncoding?: string): Message;
  }

  interface DirectoryOptions {
    /** Read `path` relative to the working directory, not the script's folder. */
    fs?: boolean;
    /** Index file names tried for a folder (default `['index', 'index.html']`). */
    index?: string | string[];
    /** Extension (lower case, from the name's first dot) to content type; or a function of (request, pathname) returning a type, or such an object. */
    contentTypes?: Record<string, string> | ((request: Message, pathname: string) => string | Record<string, string> | null | undefined);
    /** The content type of an extension not in the table (default `application/octet-stream`). */
    defaultContentType?: string;
    /** Asked when a request accepts gzip or br and no variant is beside the file: return `'gzip'` to have the file gzipped. */
    compression?: (request: Message, accepted: { gzip?: boolean; br?: boolean }, pathname: string, size: number) => 'gzip' | false | null | undefined;
  }

  /** A folder served to requests. */
  class Directory {
    /** Pipy's extension to content type table. */
    static readonly defaultContentTypes: Record<string, string>;
    constructor(path: string, options?: DirectoryOptions);
    /** The response for `request`'s path (a file, a folder's index file; a single byte range gets 206), or `null` when nothing under the folder matches. */
    serve(request: Message): Message | null;
  }

  /** A small HTTP client: `muxHTTP(options)` to `[connectTLS(options.tls) to] connect(host, options)`. */
  class Agent {
    /** `host` is `name[:port]` (80 by default, 443 with `tls`); `options` are muxHTTP's and connect's (`maxQueue`, `maxIdle`, `version`, `connectTimeout`, `readTimeout`...) and `tls` (connectTLS's). */
    constructor(host: string, options?: { tls?: object; [option: string]: any });
    /** Sends a request (with a `host` header unless `headers` has one); resolves with the response, or with a made-up 502/504 one when the connection failed, as Pipy does. */
    request(method: string, path: string, headers?: Record<string, string | string[]> | null, body?: string | Data): Promise<Message>;
    request(message: Message): Promise<Message>;
  }

  /** `new http.Match('/users/{id}/*')`: a function of a path or request head returning its parameters (`*` for a trailing wildcard's rest), or `null` when it does not match. */
  const Match: {
    new (pattern: string): (path: string | { path: string }) => Record<string, string> | null;
  };
}
