/**
 * Shared vocabulary of `cutover check validate`: type families, keys, ranges, and the interface every database
 * adapter (PostgreSQL, D1) implements so that the bisection core never knows which engine it talks to.
 */

/** How a column's values are normalized to one canonical text (see the README (cutover check validate) for the mapping). */
export type Family =
  | "bool"
  | "int"
  | "numeric"
  | "float"
  | "float4"
  | "text"
  | "uuid"
  | "timestamptz"
  | "timestamp"
  | "date"
  | "json"
  | "bytes";

export interface Column {
  readonly name: string;
  readonly family: Family;
  /** The engine's own type name (PostgreSQL `format_type`, SQLite declared type), for casts and reports. */
  readonly sqlType: string;
  /** PostgreSQL only: the base type (after domains) and its modifier (-1: none, e.g. unconstrained numeric). */
  readonly pg?: { readonly typname: string; readonly typmod: number };
}

/** A primary-key value: one normalized text per key column, in key-column order. */
export type Key = readonly string[];

/** Keys in `(lo, hi]`; an absent bound is open. */
export interface KeyRange {
  readonly lo?: Key;
  readonly hi?: Key;
}

/** Row count and the order-independent sum of 60-bit row hashes over a range. */
export interface Checksum {
  readonly count: number;
  readonly sum: bigint;
}

/** One row reduced to its key and the md5 (hex) of its normalized text. */
export interface RowDigest {
  readonly key: Key;
  readonly digest: string;
}

/** What the bisection core needs from one table on one side. Every method is bounded in memory. */
export interface TableSide {
  /** True when `checksum` runs inside the database (PostgreSQL); false when rows are streamed (D1). */
  readonly hashesInDatabase: boolean;
  count(): Promise<number>;
  checksum(range: KeyRange): Promise<Checksum>;
  /** Keys splitting `range` (holding `rows` rows) into about `parts` equal pieces, ascending. */
  splitPoints(range: KeyRange, parts: number, rows: number): Promise<Key[]>;
  /** Row digests of `range` in key order, keyset-paged. */
  digests(range: KeyRange): AsyncIterable<RowDigest>;
  /** Row digests of the given keys (any order; absent keys are simply not returned). */
  digestsOf(keys: readonly Key[]): Promise<RowDigest[]>;
  /** Up to `n` keys chosen at random. */
  randomKeys(n: number): Promise<Key[]>;
}

/** A table as one side sees it. `primaryKey` is empty when the table has none. */
export interface TableShape {
  readonly columns: readonly Column[];
  readonly primaryKey: readonly string[];
}

export type DifferenceKind = "missing" | "extra" | "changed";

/** Differences found in one table; keys beyond `limit` are counted, not kept (bounded memory). */
export interface Differences {
  readonly missing: Key[];
  readonly extra: Key[];
  readonly changed: Key[];
  /** Totals, including keys not kept. */
  readonly totals: Record<DifferenceKind, number>;
}
