// The `stats` namespace: metrics served by the admin port (`--admin-port`) at `/metrics`.

declare namespace stats {
  /** What every metric has. `withLabels` goes one level down the label names per value. */
  interface Metric<T> {
    /** The value here (a histogram: how many observations). */
    readonly value: number;
    /** The last label value on the way here; undefined at the root. */
    readonly label: string | undefined;
    /** The metric for these label values, below this one; null past the last label name. */
    withLabels(...labels: any[]): T | null;
    /** Zero here and everywhere below. */
    zero(): void;
    /** Forget the label values below. */
    clear(): void;
  }

  /** A value that only goes up: `# TYPE name counter`. */
  class Counter implements Metric<Counter> {
    constructor(name: string, labelNames?: string[]);
    readonly value: number;
    readonly label: string | undefined;
    withLabels(...labels: any[]): Counter | null;
    zero(): void;
    clear(): void;
    increase(n?: number): void;
  }

  /** A value that goes up and down: `# TYPE name gauge`. */
  class Gauge implements Metric<Gauge> {
    /** `onCollect` is called with the gauge, on the thread that made it, each time the admin
     *  port's `/metrics` is asked, before it answers: it can `set` values there. */
    constructor(name: string, labelNames?: string[], onCollect?: (gauge: Gauge) => void);
    readonly value: number;
    readonly label: string | undefined;
    withLabels(...labels: any[]): Gauge | null;
    zero(): void;
    clear(): void;
    set(n: number): void;
    increase(n?: number): void;
    decrease(n?: number): void;
  }

  /** Observations counted into buckets by upper bound: `# TYPE name histogram`. */
  class Histogram implements Metric<Histogram> {
    constructor(name: string, buckets: number[], labelNames?: string[]);
    readonly value: number;
    readonly label: string | undefined;
    withLabels(...labels: any[]): Histogram | null;
    zero(): void;
    clear(): void;
    observe(n: number): void;
  }
}
