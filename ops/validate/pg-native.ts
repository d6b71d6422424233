/**
 * Over 300 lines: one algorithm (the bucket aggregate, the split of a differing bucket, the merge
 * compare of its rows) whose parts share the key-range arithmetic and the session settings.
 *
 * PostgreSQL ↔ PostgreSQL content comparison on the databases' own checksums.
 *
 * Each row is reduced by the server to one 64-bit hash of its output text (`hashtextextended(ROW(…)::text,
 * 0)`) under the session settings pinned in postgres.ts, so equal values print — and hash — alike on
 * both servers whatever their defaults. The first pass is one aggregate per side, both sides at once:
 * the table's rows grouped into key buckets (count and sum of hashes per bucket). Identical tables are
 * done there. A bucket that differs is split the same way inside its key span (an index range scan),
 * until it is small enough to merge-compare its rows' hashes in key order. Statements therefore grow
 * with differences × log(rows), and memory holds one bucket map and one page of rows per side.
 *
 * Buckets are value ranges of the first key column: arithmetic on min/max for an integer key, else
 * thresholds taken from the key's distribution (`percentile_disc` over a sample of the source).
 */
import type { KeyComparator } from "./keys";
import { DifferenceSink } from "./keys";
import { mergeDigests } from "./merge";
import type { PgConnection } from "./postgres";
import { quoteIdent } from "./pg-sql";
import type { Column, Key, RowDigest } from "./types";

export interface NativeSide {
  /** The table's name, for messages. */
  readonly name: string;
  readonly conn: PgConnection;
  /** Schema-qualified, quoted table name. */
  readonly table: string;
}

export interface NativeOptions {
  /** Buckets of at most this many rows (both sides) are compared row by row. */
  readonly leafRows: number;
  /** Most buckets per aggregate. */
  readonly maxFanout: number;
  readonly compare: KeyComparator;
  readonly sink: DifferenceSink;
  readonly stopAfter: number;
  /** The columns compared are every column of both tables, in the same order. */
  readonly wholeRow?: boolean;
  /** This process checks one slice of the key space (`--shard i/n`). */
  readonly shard?: { readonly index: number; readonly count: number };
  readonly onProgress?: (rows: number) => void;
}

export interface NativeResult {
  readonly counts: { readonly source: number; readonly target: number };
  readonly truncated: boolean;
  /** Aggregates over key buckets, per side. */
  readonly bucketQueries: number;
  /** Buckets compared row by row. */
  readonly leaves: number;
  /** The slice checked, for merging shard verdicts (`[lo, hi)` on the key, or a hash class). */
  readonly slice?: ShardSlice;
}

export type ShardSlice =
  | {
      readonly kind: "range";
      readonly index: number;
      readonly count: number;
      readonly lo?: string;
      readonly hi?: string;
    }
  | { readonly kind: "hash"; readonly index: number; readonly count: number };

const INT_TYPES = new Set(["int2", "int4", "int8"]);
const NUMERIC_ORDER = new Set(["int", "numeric", "float", "float4"]);
const PAGE_ROWS = 5000;
/** The alias the whole-row text is read through. */
const ROW_ALIAS = "cutover_row";

/** A column as it enters the row text: itself, or a form in which equal values print alike. */
export function rowValueExpr(c: Column, trimScale: boolean): string {
  const q = quoteIdent(c.name);
  const t = c.pg?.typname;
  // -0 = 0 for PostgreSQL but prints "-0": adding zero turns -0 into 0 (IEEE round-to-nearest).
  if (t === "float4" || t === "float8") return `(${q} + 0::${t})`;
  // Unconstrained numeric keeps the scale it was given: 1.0 and 1.00 are equal values.
  if (t === "numeric" && (c.pg?.typmod ?? -1) < 0 && trimScale) return `trim_scale(${q})`;
  // char(n) prints padded to its own n: 'SP' in char(2) and char(3) are equal values, and the copy's
  // canonical form (backfill/types.ts) has no trailing blanks, as the char → text cast gives it.
  if (t === "bpchar") return `${q}::text`;
  return q;
}

/**
 * The 64-bit hash of a row's text: every column, NULLs and nesting kept apart by the record format.
 * When the columns compared are the whole row on both sides and none needs a normal form, the row
 * itself (`cutover_row::text`, the table aliased so; a column of that name would shadow it, so it is refused) prints the same text without building a new record.
 */
export function rowHashExpr(columns: readonly Column[], trimScale: boolean, wholeRow = false): string {
  const values = columns.map((c) => rowValueExpr(c, trimScale));
  if (
    wholeRow &&
    values.every((v, i) => v === quoteIdent(columns[i].name)) &&
    !columns.some((c) => c.name === ROW_ALIAS)
  )
    return `hashtextextended(${ROW_ALIAS}::text, 0)`;
  return `hashtextextended(ROW(${values.join(", ")})::text, 0)`;
}

/** Order of the leaf pages and of the comparator: numbers by value, everything else byte-wise on text. */
function leafOrderExpr(c: Column): string {
  return NUMERIC_ORDER.has(c.family) ? quoteIdent(c.name) : `(${quoteIdent(c.name)}::text COLLATE "C")`;
}
const leafParam = (c: Column, n: number) =>
  NUMERIC_ORDER.has(c.family) ? `$${n}::${c.sqlType}` : `$${n}::text`;

/** How the first key column is split into buckets. */
type Bucketing =
  | { readonly kind: "int"; readonly lo: bigint; readonly width: bigint; readonly buckets: number }
  | { readonly kind: "thresholds"; readonly thresholds: readonly string[] };

/** A span of the first key column: `lo` inclusive, `hi` exclusive; absent bounds are open. */
interface Span {
  readonly lo?: string;
  readonly hi?: string;
}

interface Bucket {
  readonly count: bigint;
  readonly sum: string;
}

export class NativeComparison {
  private readonly key: Column;
  private readonly intKey: boolean;
  /** For a first key column ordered as text: compare and bound it as `text COLLATE "C"`. */
  private readonly keyExpr: string;
  private readonly keyType: string;
  /** trim_scale exists from PostgreSQL 13: both sides must build the same row text. */
  private readonly trimScale: boolean;
  private bucketQueries = 0;
  private leaves = 0;
  private truncated = false;

  constructor(
    private readonly source: NativeSide,
    private readonly target: NativeSide,
    private readonly keys: readonly Column[],
    private readonly columns: readonly Column[],
    private readonly opts: NativeOptions,
  ) {
    this.key = keys[0];
    this.intKey = INT_TYPES.has(this.key.pg?.typname ?? "");
    const byValue =
      NUMERIC_ORDER.has(this.key.family) ||
      ["uuid", "timestamptz", "timestamp", "date"].includes(this.key.family);
    this.keyExpr = byValue ? quoteIdent(this.key.name) : `(${quoteIdent(this.key.name)}::text COLLATE "C")`;
    this.keyType = byValue ? this.key.sqlType : "text";
    this.trimScale = source.conn.versionNum >= 130000 && target.conn.versionNum >= 130000;
  }

  private hashExpr(): string {
    return rowHashExpr(this.columns, this.trimScale, this.opts.wholeRow);
  }

  /** `[lo, hi)` on the first key column, plus the shard's own predicate; parameters numbered from `first`. */
  private spanPredicate(span: Span, first: number): { sql: string; params: string[] } {
    const parts: string[] = [];
    const params: string[] = [];
    if (span.lo !== undefined) {
      params.push(span.lo);
      parts.push(`${this.keyExpr} >= $${first + params.length - 1}::${this.keyType}`);
    }
    if (span.hi !== undefined) {
      params.push(span.hi);
      parts.push(`${this.keyExpr} < $${first + params.length - 1}::${this.keyType}`);
    }
    const shard = this.opts.shard;
    if (shard && !this.intKey)
      parts.push(
        `(hashtextextended(${quoteIdent(this.key.name)}::text, 7) & 9223372036854775807) % ${shard.count} = ${shard.index}`,
      );
    return { sql: parts.length ? parts.join(" AND ") : "true", params };
  }

  private async bucketsOf(side: NativeSide, span: Span, b: Bucketing): Promise<Map<number, Bucket>> {
    const where = this.spanPredicate(span, 1);
    const n = where.params.length;
    const bucket =
      b.kind === "int"
        ? `((${quoteIdent(this.key.name)}::int8 - $${n + 1}::int8) / $${n + 2}::int8)`
        : `width_bucket(${this.keyExpr}, $${n + 1}::${this.keyType}[])`;
    const params = b.kind === "int" ? [String(b.lo), String(b.width)] : [b.thresholds];
    const rows = await side.conn.query<{ b: number; n: string; s: string }>(
      `SELECT ${bucket}::int AS b, count(*)::text AS n, sum(${this.hashExpr()})::text AS s ` +
        `FROM ${side.table} ${ROW_ALIAS} WHERE ${where.sql} GROUP BY 1`,
      [...where.params, ...params],
      `checksumming key buckets of ${side.name}`,
    );
    return new Map(rows.map((r) => [Number(r.b), { count: BigInt(r.n), sum: r.s ?? "0" }]));
  }

  /** The span of bucket `i` (the parent span's bounds at both ends). */
  private spanOf(parent: Span, b: Bucketing, i: number): Span {
    if (b.kind === "int") {
      const lo = b.lo + BigInt(i) * b.width;
      return {
        lo: i === 0 && parent.lo === undefined ? undefined : String(lo),
        hi: i === b.buckets - 1 && parent.hi === undefined ? undefined : String(lo + b.width),
      };
    }
    const t = b.thresholds;
    return { lo: i === 0 ? parent.lo : t[i - 1], hi: i === t.length ? parent.hi : t[i] };
  }

  /** Integer keys: `fanout` equal value ranges over `[lo, hi)`; undefined when the span holds one value. */
  private intBucketing(lo: bigint, hi: bigint, fanout: number): Bucketing | undefined {
    const span = hi - lo;
    if (span <= 1n) return undefined;
    const width = (span + BigInt(fanout) - 1n) / BigInt(fanout);
    return { kind: "int", lo, width, buckets: Number((span + width - 1n) / width) };
  }

  /** Thresholds splitting `span` into about `fanout` parts by the rows of the fuller side. */
  private async thresholdBucketing(
    side: NativeSide,
    span: Span,
    fanout: number,
    sample?: number,
  ): Promise<Bucketing | undefined> {
    if (fanout < 2) return undefined;
    const fractions = Array.from({ length: fanout - 1 }, (_, i) => (i + 1) / fanout);
    const where = this.spanPredicate(span, 2);
    const from =
      sample !== undefined && sample < 100
        ? `${side.table} TABLESAMPLE SYSTEM (${sample.toFixed(6)}) REPEATABLE (7)`
        : side.table;
    const [row] = await side.conn.query<{ t: string[] | null }>(
      `SELECT array_agg(DISTINCT v::text) AS t FROM unnest((SELECT percentile_disc($1::float8[]) WITHIN GROUP (ORDER BY ${this.keyExpr}) FROM ${from} WHERE ${where.sql})) AS v`,
      [fractions, ...where.params],
      `choosing key buckets of ${side.name}`,
    );
    const values = (row?.t ?? []).filter((v) => v !== null);
    if (values.length === 0) return undefined;
    // Ascending in the bucket order: sort where it is defined, in the database.
    const [sorted] = await side.conn.query<{ t: string[] }>(
      `SELECT array_agg(v::text ORDER BY v${this.keyType === "text" ? ' COLLATE "C"' : ""}) AS t FROM unnest($1::${this.keyType}[]) AS v`,
      [values],
      `ordering key buckets of ${side.name}`,
    );
    const inside = sorted.t.filter((v) => (span.lo === undefined || v !== span.lo) && v !== span.hi);
    return inside.length ? { kind: "thresholds", thresholds: inside } : undefined;
  }

  private fanoutFor(rows: bigint): number {
    const want = Number((rows + BigInt(this.opts.leafRows) - 1n) / BigInt(this.opts.leafRows));
    return Math.max(2, Math.min(this.opts.maxFanout, want));
  }

  /** Merge-compares the rows of a span in key order (keyset pages of key text and row hash). */
  private async compareRows(span: Span, rows: number): Promise<void> {
    this.leaves++;
    const pages = (side: NativeSide) => this.rowsOf(side, span);
    await mergeDigests(pages(this.source), pages(this.target), this.opts.compare, this.opts.sink);
    this.opts.onProgress?.(rows);
  }

  private async *rowsOf(side: NativeSide, span: Span): AsyncIterable<RowDigest> {
    let after: Key | undefined;
    const keyText = this.keys.map((k, i) => `${quoteIdent(k.name)}::text AS k${i}`).join(", ");
    const order = this.keys.map(leafOrderExpr);
    for (;;) {
      const where = this.spanPredicate(span, 1);
      const params = [...where.params];
      let keyset = "";
      if (after) {
        const ps = this.keys.map((k, i) => leafParam(k, params.length + i + 1));
        keyset = ` AND (${order.join(", ")}) > (${ps.join(", ")})`;
        params.push(...after);
      }
      const rows = await side.conn.query(
        `SELECT ${keyText}, ${this.hashExpr()}::text AS d FROM ${side.table} ${ROW_ALIAS} WHERE ${where.sql}${keyset} ` +
          `ORDER BY ${order.join(", ")} LIMIT ${PAGE_ROWS}`,
        params,
        `reading rows of ${side.name}`,
      );
      for (const r of rows)
        yield { key: this.keys.map((_, i) => r[`k${i}`] as string), digest: r.d as string };
      if (rows.length < PAGE_ROWS) return;
      const last = rows[rows.length - 1];
      after = this.keys.map((_, i) => last[`k${i}`] as string);
    }
  }

  private async compareSpan(span: Span, b: Bucketing | undefined, rows: bigint): Promise<void> {
    if (this.opts.sink.total >= this.opts.stopAfter) {
      this.truncated = true;
      return;
    }
    if (b === undefined || rows <= BigInt(this.opts.leafRows)) return this.compareRows(span, Number(rows));
    this.bucketQueries++;
    const [s, t] = await Promise.all([
      this.bucketsOf(this.source, span, b),
      this.bucketsOf(this.target, span, b),
    ]);
    await this.walkBuckets(span, b, s, t);
  }

  private async walkBuckets(
    span: Span,
    b: Bucketing,
    s: Map<number, Bucket>,
    t: Map<number, Bucket>,
  ): Promise<void> {
    const ids = [...new Set([...s.keys(), ...t.keys()])].sort((x, y) => x - y);
    for (const i of ids) {
      const [x, y] = [s.get(i), t.get(i)];
      if (x && y && x.count === y.count && x.sum === y.sum) {
        this.opts.onProgress?.(Number(x.count));
        continue;
      }
      if (this.opts.sink.total >= this.opts.stopAfter) {
        this.truncated = true;
        return;
      }
      const sub = this.spanOf(span, b, i);
      const rows = (x?.count ?? 0n) > (y?.count ?? 0n) ? (x?.count ?? 0n) : (y?.count ?? 0n);
      await this.compareSpan(sub, await this.bucketingOf(sub, rows, x && y && x.count >= y.count), rows);
    }
  }

  /** How to split a differing span: integer arithmetic on its bounds, or thresholds from its rows. */
  private async bucketingOf(
    span: Span,
    rows: bigint,
    sourceFuller: boolean | undefined,
  ): Promise<Bucketing | undefined> {
    if (rows <= BigInt(this.opts.leafRows)) return undefined;
    const fanout = this.fanoutFor(rows);
    if (this.intKey && span.lo !== undefined && span.hi !== undefined)
      return this.intBucketing(BigInt(span.lo), BigInt(span.hi), fanout);
    if (this.intKey) {
      const [lo, hi] = await this.intBounds(span);
      return lo === undefined ? undefined : this.intBucketing(lo, hi!, fanout);
    }
    return this.thresholdBucketing(sourceFuller === false ? this.target : this.source, span, fanout);
  }

  /** Smallest key and one past the largest, over both sides, within `span`. */
  private async intBounds(span: Span): Promise<[bigint | undefined, bigint | undefined]> {
    const where = this.spanPredicate(span, 1);
    const k = quoteIdent(this.key.name);
    const q = (side: NativeSide) =>
      side.conn.query<{ lo: string | null; hi: string | null }>(
        `SELECT min(${k})::text AS lo, max(${k})::text AS hi FROM ${side.table} WHERE ${where.sql}`,
        where.params,
        `reading the key bounds of ${side.name}`,
      );
    const [[a], [b]] = await Promise.all([q(this.source), q(this.target)]);
    const los = [a.lo, b.lo].filter((v): v is string => v !== null).map(BigInt);
    const his = [a.hi, b.hi].filter((v): v is string => v !== null).map(BigInt);
    if (los.length === 0) return [undefined, undefined];
    return [los.reduce((m, v) => (v < m ? v : m)), his.reduce((m, v) => (v > m ? v : m)) + 1n];
  }

  private async estimatedRows(): Promise<bigint> {
    const [row] = await this.source.conn.query<{ n: string }>(
      `SELECT greatest(reltuples, 0)::bigint::text AS n FROM pg_class WHERE oid = $1::regclass`,
      [this.source.table],
      `reading the statistics of ${this.source.name}`,
    );
    return BigInt(row?.n ?? "0");
  }

  /** The whole comparison: the top pass over every bucket, then the differing ones only. */
  async run(): Promise<NativeResult> {
    let span: Span = {};
    let slice: ShardSlice | undefined;
    const estimate = await this.estimatedRows();
    let first: Bucketing | undefined;
    if (this.intKey) {
      const [lo, hi] = await this.intBounds({});
      if (lo !== undefined && hi! - lo < 1n << 62n) {
        const shard = this.opts.shard;
        if (shard) {
          // Value slices: every shard derives the same cut from the same bounds; the merge checks they tile.
          const w = (hi! - lo + BigInt(shard.count) - 1n) / BigInt(shard.count);
          const sLo = shard.index === 0 ? undefined : String(lo + BigInt(shard.index) * w);
          const sHi = shard.index === shard.count - 1 ? undefined : String(lo + BigInt(shard.index + 1) * w);
          span = { lo: sLo, hi: sHi };
          slice = { kind: "range", index: shard.index, count: shard.count, lo: sLo, hi: sHi };
        }
        const sliceLo = span.lo !== undefined ? BigInt(span.lo) : lo;
        const sliceHi = span.hi !== undefined ? BigInt(span.hi) : hi!;
        const share = this.opts.shard ? estimate / BigInt(this.opts.shard.count) : estimate;
        first =
          sliceHi > sliceLo
            ? this.intBucketing(sliceLo, sliceHi, this.fanoutFor(share > 0n ? share : sliceHi - sliceLo))
            : undefined;
      }
    } else if (this.opts.shard) {
      slice = { kind: "hash", index: this.opts.shard.index, count: this.opts.shard.count };
    }
    if (first === undefined && !this.intKey) {
      let rows = estimate;
      if (rows === 0n) {
        const [r] = await this.source.conn.query<{ n: string }>(
          `SELECT count(*)::text AS n FROM ${this.source.table}`,
          [],
          `counting rows of ${this.source.name}`,
        );
        rows = BigInt(r.n);
      }
      if (this.opts.shard) rows = rows / BigInt(this.opts.shard.count);
      // A sample of about 30 rows per bucket fixes thresholds without reading the whole key order.
      const fanout = this.fanoutFor(rows);
      const percent = estimate > 0n ? Math.min(100, (100 * 30 * fanout) / Number(estimate)) : 100;
      first = await this.thresholdBucketing(this.source, span, fanout, percent);
    }
    if (first === undefined) first = { kind: "thresholds", thresholds: [] };
    this.bucketQueries++;
    const [s, t] = await Promise.all([
      this.bucketsOf(this.source, span, first),
      this.bucketsOf(this.target, span, first),
    ]);
    const total = (m: Map<number, Bucket>) => [...m.values()].reduce((a, b) => a + b.count, 0n);
    await this.walkBuckets(span, first, s, t);
    return {
      counts: { source: Number(total(s)), target: Number(total(t)) },
      truncated: this.truncated,
      bucketQueries: this.bucketQueries,
      leaves: this.leaves,
      ...(slice ? { slice } : {}),
    };
  }
}
