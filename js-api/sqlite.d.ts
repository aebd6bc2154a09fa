/// <reference path="core.d.ts" />

/** Opens (creating it if need be) the SQLite database file `filename`, relative to the working directory; `flags` are SQLite's `SQLITE_OPEN_*` bits. */
declare function sqlite(filename: string, flags?: number): sqlite.Database;

declare namespace sqlite {
  /** A value of a column: `number` (a `bigint` past 2^53), `string`, `Data` for a blob, `null`. */
  type Value = number | bigint | string | Data | null;

  interface Database {
    /** Prepares one statement; throws `SQLite error: ...` on a mistake. */
    sql(text: string): Statement;
    /** Runs every statement of `text`; the rows of all, each column as text or `null`. */
    exec(text: string): Record<string, string | null>[];
    /** Closes the database; later calls throw `Database is closed`. */
    close(): void;
  }

  interface Statement {
    /** Binds parameter `i` (from 1): a number as a real, a boolean as 0/1, a bigint as an integer, `Data` as a blob, null/undefined as NULL, else text. */
    bind(i: number, value: any): Statement;
    /** Goes to the next row: `false` while there is one, `true` once done (Pipy's sense). */
    step(): boolean;
    /** The current row as an object of column names to values; `null` when not on a row. */
    row(): Record<string, Value> | null;
    /** Column `i` (from 0) of the current row; `undefined` when there is none. */
    column(i: number): Value | undefined;
    /** The rows not stepped over yet. */
    exec(): Record<string, Value>[];
    /** Back to before the first row; the bindings stay. */
    reset(): Statement;
  }
}
