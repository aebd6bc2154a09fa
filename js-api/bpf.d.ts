// Type declarations for Weir's `bpf` namespace and the `CStruct`/`CUnion` classes.
// Reference: bpf.md.

/** A field type: a scalar name, optionally with an array length, e.g. `'uint8[4]'`. */
type CFieldType = string | CStruct | CUnion;

interface CFieldInfo {
  offset: number;
  /** Size of one element in bytes. */
  size: number;
  count: number;
  isArray: boolean;
  isIntegral: boolean;
  isUnsigned: boolean;
}

declare class CStruct {
  /** Fields in declaration order: name -> type string or nested layout. */
  constructor(fields: { [name: string]: CFieldType });
  /** Total size in bytes (no trailing padding). */
  readonly size: number;
  /** Exactly `size` bytes; missing fields are zero. `null` in, `null` out. */
  encode(value: object | null): Data | null;
  /** 64-bit integer fields decode to BigInt. Short input reads as zero. */
  decode(data: Data | null): any;
  reflect(): { [name: string]: CFieldInfo };
}

declare class CUnion {
  constructor(fields: { [name: string]: CFieldType });
  readonly size: number;
  encode(value: object | null): Data | null;
  decode(data: Data | null): any;
  reflect(): { [name: string]: CFieldInfo };
}

declare namespace bpf {
  /** `'BPF_PROG_TYPE_*'` name or its number. */
  type ProgramType = string | number;
  /** `'BPF_*'` attach type name or its number. */
  type AttachType = string | number;

  interface Program {
    readonly name: string;
    /** 0 until loaded. */
    readonly fd: number;
    /** Kernel program id, 0 until loaded. */
    readonly id: number;
    /** Loads the program once and returns it. Types must match its ELF section. */
    load(progType: ProgramType, attachType?: AttachType): Program;
  }

  interface Map {
    readonly name: string;
    readonly fd: number;
    readonly id: number;
    /** BPF_MAP_TYPE_* number. */
    readonly type: number;
    readonly flags: number;
    readonly maxEntries: number;
    readonly keySize: number;
    readonly valueSize: number;
    /** From BTF; a scalar becomes a struct with the single field `i`. */
    readonly keyType: CStruct | CUnion | null;
    readonly valueType: CStruct | CUnion | null;
    update(key: object | Data | null, value: object | Data | null): void;
    /** Throws when the key is missing. */
    lookup(key: object | Data | null): any;
    /** Throws when the key is missing. */
    delete(key: object | Data | null): void;
    keys(): any[];
    entries(): [any, any][];
  }

  interface ObjectFile {
    readonly programs: Program[];
    readonly maps: Map[];
  }

  /** Loads (once per process) a BPF object file and creates its maps. */
  function object(data: Data): ObjectFile;

  /** Attaches a loaded program to a cgroup v2 directory with a bpf link. */
  function attach(attachType: AttachType, programFd: number, cgroupPath: string): void;

  /** Drops one reference to an attachment; the last one detaches it. */
  function detach(attachType: AttachType, programFd: number, cgroupPath: string): void;

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
}
