// The `algo` namespace: routing, load balancing and quotas. Reference: core.md.

/** Routing, load balancing and quotas. */
declare namespace algo {
  /** Maps URLs (`'host/path'`, `'/path/*'`, `'*.domain/path'`) to values. */
  class URLRouter {
    /** Rules: URL patterns to values. */
    constructor(rules?: Record<string, any>);
    /** Adds a rule. */
    add(pattern: string, value: any): void;
    /** The value of the most specific rule for the URL made of `parts` joined by `/`; `undefined` if none. */
    find(...parts: string[]): any;
  }

  /** A target handed out by a load balancer. */
  interface LoadBalancerResource {
    /** The target (same as `target`). */
    readonly id: any;
    /** The target. */
    readonly target: any;
    /** Gives a `LoadBalancer` allocation back. */
    free(): void;
  }

  /**
   * What the three balancers below share: a target handed out for a borrower, kept for it,
   * chosen by the balancer's own rule (and `key`, where the rule uses one).
   */
  interface TargetBorrowing {
    /** A target for `borrower` (kept for it, given back when it closes), or for the current inbound connection. */
    next(borrower?: object | null, key?: any): LoadBalancerResource | null;
    /** Same as `next`. */
    borrow(borrower?: object | null, key?: any): LoadBalancerResource | null;
  }

  /** Pipy's smooth weighted round robin; one target per inbound connection; a `key` keeps its choice. */
  class RoundRobinLoadBalancer {
    /** Targets: an array (weight 1 each) or an object of targets to weights. */
    constructor(targets?: string[] | Record<string, number>);
    /** The next target's name, the same one again for the same `key`. */
    select(key?: any): string | undefined;
    /** Sets one target's weight. */
    set(target: string, weight: number): void;
    /** Replaces the targets. */
    set(targets: string[] | Record<string, number>): void;
    /** Accepted for Pipy compatibility; does nothing. */
    deselect(target?: any): void;
  }
  interface RoundRobinLoadBalancer extends TargetBorrowing {}

  /** The target at the key's hash (of its string form): a key keeps its target while the targets stay. */
  class HashingLoadBalancer {
    /** Targets: an array, or an object whose keys are the targets (weights are ignored). */
    constructor(targets?: string[] | Record<string, number>);
    /** The target of `key`'s hash; `undefined` with no targets. */
    select(key?: any): string | undefined;
    /** Adds a target. */
    add(target: string): void;
    /** Replaces the targets. */
    set(targets: string[] | Record<string, number>): void;
    /** Accepted for Pipy compatibility; does nothing. */
    deselect(target?: any): void;
  }
  interface HashingLoadBalancer extends TargetBorrowing {}

  /** The target with the least work per weight; work is a target handed out and not given back. */
  class LeastWorkLoadBalancer {
    /** Targets: an array (weight 1 each) or an object of targets to weights. */
    constructor(targets?: string[] | Record<string, number>);
    /** The least worked target's name (one more work on it), the same one again for the same `key`. */
    select(key?: any): string | undefined;
    /** Sets one target's weight, keeping its work. */
    set(target: string, weight: number): void;
    /** Replaces the targets. */
    set(targets: string[] | Record<string, number>): void;
    /** Gives one work on `target` back. */
    deselect(target?: string): void;
  }
  interface LeastWorkLoadBalancer extends TargetBorrowing {}

  /** A string-keyed map every worker thread shares by name; values are copied (objects as JSON data). */
  class SharedMap {
    /** Opens the map named `name`, made empty on first use. */
    constructor(name: string);
    /** How many keys it has. */
    readonly size: number;
    /** Removes every key. */
    clear(): void;
    /** Removes `key`; whether it was there. */
    delete(key: string): boolean;
    /** Whether `key` is there. */
    has(key: string): boolean;
    /** A copy of the value of `key`, or `undefined`. */
    get(key: string): any;
    /** Sets `key` to a copy of `value`. */
    set(key: string, value: any): void;
    /** Adds `n` to the number at `key` (0 if none) at once for all workers; returns the sum. */
    add(key: string, n: number): number;
    /** Subtracts `n` from the number at `key` (0 if none); returns the difference. */
    sub(key: string, n: number): number;
  }

  /** Samples counted into buckets, and percentiles estimated from them. */
  class Percentile {
    /** `buckets`: upper limits, ascending; a sample above the last is not counted. */
    constructor(buckets: number[]);
    /** Forgets every sample. */
    reset(): void;
    /** Counts a sample in the first bucket whose limit it does not pass. */
    observe(sample: number): void;
    /** The value below which `percentage`% of the samples fall, interpolated in its bucket. */
    calculate(percentage: number): number;
  }

  /** Options of a `LoadBalancer`: each a value, or a function of the target. */
  interface LoadBalancerOptions {
    /** `'round-robin'` (default) or `'least-load'`. */
    algorithm?: 'round-robin' | 'least-load';
    /** The key a target is allocated by (default: the target as a string). */
    key?: any | ((target: any) => any);
    /** Relative weight (default 1). */
    weight?: number | ((target: any) => number);
    /** Allocations per resource before another one is made; 0 is unlimited. */
    capacity?: number | ((target: any) => number);
  }

  /** Weighted load balancing with allocations that are given back with `free()`. */
  class LoadBalancer {
    constructor(targets?: any[], options?: LoadBalancerOptions);
    /** A resource of the target keyed `tag`, or of the next target `validator(target)` accepts. */
    allocate(tag?: any, validator?: (target: any) => boolean): LoadBalancerResource | null;
    /** Replaces the targets, keeping the state of those that stay. */
    provision(targets: any[]): void;
    /** The next `count` targets in order, without allocating. */
    schedule(count: number): any[];
  }

  /** Options of a `Quota`. */
  interface QuotaOptions {
    /** Refill period: this long after the first consumption the quota is refilled (default: never). */
    per?: Duration;
    /** Tokens added per period at most (default: back to `initial` at once). */
    produce?: number;
    /** Cap of `produce()` (default: none). */
    max?: number;
    /** Quotas with the same key share their tokens across all workers. */
    key?: string;
  }

  /** A token bucket, as the throttle filters use it. */
  class Quota {
    constructor(initial: number, options?: QuotaOptions);
    /** Tokens when full. */
    readonly initial: number;
    /** Tokens now. */
    readonly current: number;
    /** Takes up to `n` tokens; returns how many it got. */
    consume(n: number): number;
    /** Adds `n` tokens (up to `max`) and resumes who waits for them. */
    produce(n: number): void;
    /** Back to `initial` tokens (not for a keyed quota). */
    reset(): void;
  }
  /** Resources reused per tag: freed ones are handed out again before new ones are made. */
  class ResourcePool {
    /** `allocator(tag)` makes a resource when the tag has no free one. */
    constructor(allocator: (tag: any) => any);
    /** A free resource of `tag`, oldest freed first, or a new one. */
    allocate(tag?: any): any;
    /** Gives a resource back to the pool of the tag it was allocated for. */
    free(resource: any): void;
  }

  /** Options of a `Cache`. */
  interface CacheOptions {
    /** Entries kept at most; the least recently used go first (default: no limit). */
    size?: number;
    /** How long an entry lives (default: for ever). */
    ttl?: Duration;
  }

  /** A key-value cache; keys compare as `Map` keys do. */
  class Cache {
    constructor(allocate?: ((key: any) => any) | null, free?: ((key: any, value: any) => void) | null, options?: CacheOptions);
    constructor(allocate: ((key: any) => any) | null, options?: CacheOptions);
    constructor(options?: CacheOptions);
    /** The value of `key`, made by `allocate(key)` and kept when there is none. */
    get(key: any): any;
    /** Sets the value of `key`, giving the least recently used entries past `size` to `free`. */
    set(key: any, value: any): void;
    /** Whether `key` has a live value. */
    has(key: any): boolean;
    /** The value of `key`, or `undefined`. */
    find(key: any): any;
    /** Removes `key`, giving its entry to `free`; whether it was there. */
    remove(key: any): boolean;
    /** Removes every entry, giving each to `free`. */
    clear(): void;
  }
}
