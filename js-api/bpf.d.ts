// Type declarations for Weir's `bpf` namespace and the `CStruct`/`CUnion` classes.
// Reference: bpf.md.

/** A field type: a scalar name, optionally with an array length, e.g. `'uint8[4]'`. */
type CFieldType = string | CStruct | CUnion;

/** Where a field of a `CStruct`/`CUnion` lies, from `reflect()`. */
interface CFieldInfo {
  /** Byte offset in the layout. */
  offset: number;
  /** Size of one element in bytes. */
  size: number;
  /** Number of elements (1 unless an array). */
  count: number;
  /** Declared with `[N]`. */
  isArray: boolean;
  /** An integer type (or char). */
  isIntegral: boolean;
  /** An unsigned integer type. */
  isUnsigned: boolean;
}

/** A C struct layout (Pipy's layout rules) that encodes objects to Data and back. */
declare class CStruct {
  /** Fields in declaration order: name -> type string or nested layout. */
  constructor(fields: { [name: string]: CFieldType });
  /** Total size in bytes (no trailing padding). */
  readonly size: number;
  /** Exactly `size` bytes; missing fields are zero. `null` in, `null` out. */
  encode(value: object | null): Data | null;
  /** 64-bit integer fields decode to BigInt. Short input reads as zero. */
  decode(data: Data | null): any;
  /** Offset, size and kind of every field. */
  reflect(): { [name: string]: CFieldInfo };
}

/** A C union layout: every member starts at offset 0. */
declare class CUnion {
  /** Members in declaration order: name -> type string or nested layout. */
  constructor(fields: { [name: string]: CFieldType });
  /** Size of the largest member in bytes. */
  readonly size: number;
  /** Exactly `size` bytes from the one member set in `value`. `null` in, `null` out. */
  encode(value: object | null): Data | null;
  /** Every member decoded from the same bytes. */
  decode(data: Data | null): any;
  /** Offset, size and kind of every member. */
  reflect(): { [name: string]: CFieldInfo };
}

/** Loads eBPF objects, fills their maps and attaches their programs (Linux, root). */
declare namespace bpf {
  /** `'BPF_PROG_TYPE_*'` name or its number. */
  type ProgramType = string | number;
  /** `'BPF_*'` attach type name or its number. */
  type AttachType = string | number;

  /** A program of a loaded object. */
  interface Program {
    /** Its function name. */
    readonly name: string;
    /** Number of instructions in the object file. */
    readonly size: number;
    /** 0 until loaded. */
    readonly fd: number;
    /** Kernel program id, 0 until loaded. */
    readonly id: number;
    /**
     * Loads the program once and returns it. Types must match its ELF section; a program in
     * `.text` (no `SEC()`, as in Pipy's samples) takes them as given.
     */
    load(progType: ProgramType, attachType?: AttachType): Program;
  }

  /** A map of a loaded object, created in the kernel when the object was loaded. */
  interface Map {
    /** Its name in the object. */
    readonly name: string;
    /** Map fd. */
    readonly fd: number;
    /** Kernel map id. */
    readonly id: number;
    /** BPF_MAP_TYPE_* number. */
    readonly type: number;
    /** `map_flags` as declared. */
    readonly flags: number;
    /** `max_entries` as declared. */
    readonly maxEntries: number;
    /** Key size in bytes, as C (BTF) has it, padding included. */
    readonly keySize: number;
    /** Value size in bytes, as C (BTF) has it, padding included. */
    readonly valueSize: number;
    /** From BTF; a scalar becomes a struct with the single field `i`. */
    readonly keyType: CStruct | CUnion | null;
    /** From BTF, like `keyType`. */
    readonly valueType: CStruct | CUnion | null;
    /**
     * Inserts or replaces an entry (keys and values: objects encoded with the BTF types, or raw
     * Data). A per-CPU map takes an array with a value per possible CPU, or one value for all.
     */
    update(key: object | Data | null, value: object | Data | null): void;
    /** Throws when the key is missing. A per-CPU map gives an array, a value per possible CPU. */
    lookup(key: object | Data | null): any;
    /** Throws when the key is missing. */
    delete(key: object | Data | null): void;
    /**
     * Weir's: the value under the key, removed from the map by the same syscall
     * (`BPF_MAP_LOOKUP_AND_DELETE_ELEM`), or null when there is none (no exception). Hash maps
     * (LRU and per-CPU too) only; other map types throw.
     */
    lookupAndDelete(key: object | Data | null): any;
    /** Every key, decoded. */
    keys(): any[];
    /** Every `[key, value]`, decoded; per-CPU values as in `lookup`. */
    entries(): [any, any][];
    /** Returns the map, which exists since the object was loaded. */
    create(): Map;
  }

  /** What `bpf.Program.list()` tells of each program in the kernel. */
  interface ProgramInfo {
    readonly name: string;
    readonly id: number;
    /** BPF_PROG_TYPE_* number. */
    readonly type: number;
  }

  /** Programs in the kernel. */
  const Program: {
    /** Every program in the kernel (Pipy's returns null). */
    list(): ProgramInfo[];
  };

  /** What `bpf.Map.list()` tells of each map in the kernel. */
  interface MapInfo {
    readonly name: string;
    readonly id: number;
    readonly type: number;
    readonly flags: number;
    readonly maxEntries: number;
    readonly keySize: number;
    readonly valueSize: number;
  }

  /** Maps made by other objects or processes. */
  const Map: {
    /** Every map in the kernel. */
    list(): MapInfo[];
    /** A map by its kernel id; keys and values use the given layouts, or Data without them. */
    open(id: number, keyType?: CStruct | CUnion | null, valueType?: CStruct | CUnion | null): Map;
  };

  /** What `bpf.object()` returns. */
  interface ObjectFile {
    /** The object's programs, not loaded yet. */
    readonly programs: Program[];
    /** The object's maps, already created. */
    readonly maps: Map[];
  }

  /** Loads (once per process) a BPF object file and creates its maps. */
  function object(data: Data): ObjectFile;

  /** Pins a program, map or link fd at a path on a bpffs; the pin outlives the process. */
  function pin(pathname: string, fd: number): void;

  /** An fd for what is pinned at `pathname`, open for the life of the process. */
  function get(pathname: string): number;

  /**
   * Attaches a program with a bpf link to a cgroup v2 directory (a path), to an fd (e.g. a
   * sockmap), or with no target to Weir's own network namespace.
   */
  function attach(attachType: AttachType, programFd: number, target?: string | number): void;

  /** Drops one reference to an attachment; the last one detaches it. */
  function detach(attachType: AttachType, programFd: number, target?: string | number): void;

  /** Cgroup id of a cgroup v2 directory, `0n` if it is not one. */
  function cgroup(path: string): bigint;

  /**
   * Weir only: ids of the programs attached directly to a cgroup v2 directory for
   * `attachType`, in the order they run (BPF_PROG_QUERY).
   */
  function attached(attachType: AttachType, cgroupPath: string): number[];

  /**
   * Weir only: the cookie `bpf_get_netns_cookie()` returns for sockets of the network
   * namespace Weir runs in. Throws where SO_NETNS_COOKIE is missing (Linux before 5.14).
   */
  function netnsCookie(): bigint;

  /**
   * Weir only: the device and inode of the PID namespace Weir runs in, as
   * `bpf_get_ns_current_pid_tgid()` takes them; in that namespace Weir's id is `pipy.pid`.
   */
  function pidNamespace(): { dev: number; ino: number };
}
