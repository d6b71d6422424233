/**
 * SQL text for PostgreSQL: normalized row text, checksums and key ranges. Pure string building, so the
 * statements can be read in tests; the adapter in postgres.ts only runs them.
 */
import type { Column, Family, KeyRange } from "./types";

export const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** PostgreSQL base type (after domains) → normalization family. */
export function pgFamily(typname: string, typcategory: string): Family {
  if (typcategory === "A") return "json"; // arrays compare as their JSON form (D1 stores them as JSON)
  const map: Record<string, Family> = {
    bool: "bool",
    int2: "int",
    int4: "int",
    int8: "int",
    oid: "int",
    numeric: "numeric",
    float4: "float4",
    float8: "float",
    uuid: "uuid",
    timestamptz: "timestamptz",
    timestamp: "timestamp",
    date: "date",
    json: "json",
    jsonb: "json",
    bytea: "bytes",
  };
  return map[typname] ?? "text";
}

const ISO_MICROS = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`;

/** `infinity` and `-infinity` print as themselves (to_char gives NULL for them, which would hash as nothing). */
const finite = (c: string, expr: string) => `CASE WHEN isfinite(${c}) THEN ${expr} ELSE ${c}::text END`;
/** Years before the common era carry ` BC` (the year alone is printed without its era). */
const era = (c: string) => ` || CASE WHEN to_char(${c}, 'BC') = 'BC' THEN ' BC' ELSE '' END`;

/** The canonical text of a non-null value (mirrors normalizeValue in normalize.ts). */
export function normalizedExpr(col: Column): string {
  const c = quoteIdent(col.name);
  switch (col.family) {
    case "bool":
      return `CASE WHEN ${c} THEN 'true' ELSE 'false' END`;
    case "int":
    case "uuid":
    case "text":
      return `${c}::text`;
    case "numeric":
      return `trim_scale(${c})::text`;
    case "float":
      return `trim_scale(${c}::numeric)::text`;
    case "float4":
      // Every real is exactly a double: at 15 digits of that double no two reals print alike.
      return `trim_scale(${c}::float8::numeric)::text`;
    case "timestamptz":
      return finite(c, `to_char(${c} AT TIME ZONE 'UTC', ${ISO_MICROS})${era(`${c} AT TIME ZONE 'UTC'`)}`);
    case "timestamp":
      return finite(c, `to_char(${c}, ${ISO_MICROS})${era(c)}`);
    case "date":
      return finite(c, `to_char(${c}, 'YYYY-MM-DD')${era(c)}`);
    case "json":
      return col.sqlType.endsWith("[]") ? `to_jsonb(${c})::text` : `${c}::jsonb::text`;
    case "bytes":
      return `encode(${c}, 'hex')`;
  }
}

/** `~` for NULL, else `<octets>:<text>` — the same token encodeToken builds in Node. */
export function tokenExpr(col: Column): string {
  const e = normalizedExpr(col);
  return `CASE WHEN ${quoteIdent(col.name)} IS NULL THEN '~' ELSE octet_length(${e})::text || ':' || ${e} END`;
}

export function rowTextExpr(columns: readonly Column[]): string {
  return columns.map(tokenExpr).join(" || ");
}

/** The order both engines agree on: text keys byte-wise (COLLATE "C"), the rest by value. */
export function orderExpr(col: Column): string {
  const byValue = ["int", "numeric", "float", "float4", "uuid", "timestamptz", "timestamp", "date"];
  return byValue.includes(col.family) ? quoteIdent(col.name) : `(${quoteIdent(col.name)}::text COLLATE "C")`;
}

function paramExpr(col: Column, n: number): string {
  return orderExpr(col).startsWith("(") ? `$${n}::text` : `$${n}::${col.sqlType}`;
}

/** A WHERE clause for `(lo, hi]` plus the parameters it binds, numbered from `firstParam`. */
export function rangePredicate(
  keys: readonly Column[],
  range: KeyRange,
  firstParam = 1,
): { sql: string; params: string[] } {
  const lhs = keys.length === 1 ? orderExpr(keys[0]) : `(${keys.map(orderExpr).join(", ")})`;
  const parts: string[] = [];
  const params: string[] = [];
  for (const [op, bound] of [
    [">", range.lo],
    ["<=", range.hi],
  ] as const) {
    if (!bound) continue;
    const ps = keys.map((k, i) => paramExpr(k, firstParam + params.length + i));
    parts.push(`${lhs} ${op} ${keys.length === 1 ? ps[0] : `(${ps.join(", ")})`}`);
    params.push(...bound);
  }
  return { sql: parts.length ? parts.join(" AND ") : "true", params };
}

export interface PgTableSql {
  readonly table: string;
  readonly keys: readonly Column[];
  readonly columns: readonly Column[];
}

const keySelect = (keys: readonly Column[]) => keys.map((k, i) => `${normalizedExpr(k)} AS k${i}`).join(", ");
const keyOrder = (keys: readonly Column[]) => keys.map(orderExpr).join(", ");

export function checksumSql(t: PgTableSql, range: KeyRange): { sql: string; params: string[] } {
  const where = rangePredicate(t.keys, range);
  const hash = `('x' || substr(md5(${rowTextExpr(t.columns)}), 1, 15))::bit(60)::bigint`;
  return {
    sql: `SELECT count(*)::text AS n, coalesce(sum(${hash}), 0)::text AS s FROM ${t.table} WHERE ${where.sql}`,
    params: where.params,
  };
}

/** Whole-table checksum for tables without a primary key (no ranges, so no bisection). */
export function tableChecksumSql(table: string, columns: readonly Column[]): string {
  const hash = `('x' || substr(md5(${rowTextExpr(columns)}), 1, 15))::bit(60)::bigint`;
  return `SELECT count(*)::text AS n, coalesce(sum(${hash}), 0)::text AS s FROM ${table}`;
}

export function splitPointsSql(t: PgTableSql, range: KeyRange, step: number, rows: number) {
  const where = rangePredicate(t.keys, range);
  const n = where.params.length;
  const cols = t.keys.map((_, i) => `k${i}`).join(", ");
  return {
    sql:
      `SELECT ${cols} FROM (SELECT ${keySelect(t.keys)}, row_number() OVER (ORDER BY ${keyOrder(t.keys)}) AS rn ` +
      `FROM ${t.table} WHERE ${where.sql}) s WHERE rn % $${n + 1} = 0 AND rn < $${n + 2} ORDER BY rn`,
    params: [...where.params, String(step), String(rows)],
  };
}

/** One keyset page of digests: rows of `range` after `after` (exclusive), in key order. */
export function digestPageSql(
  t: PgTableSql,
  range: KeyRange,
  after: readonly string[] | undefined,
  limit: number,
) {
  const where = rangePredicate(t.keys, { lo: after ?? range.lo, hi: range.hi });
  return {
    sql:
      `SELECT ${keySelect(t.keys)}, md5(${rowTextExpr(t.columns)}) AS d FROM ${t.table} ` +
      `WHERE ${where.sql} ORDER BY ${keyOrder(t.keys)} LIMIT ${limit}`,
    params: where.params,
  };
}

export function digestsOfSql(t: PgTableSql, keys: readonly (readonly string[])[]) {
  const cols = `(${t.keys.map((k) => quoteIdent(k.name)).join(", ")})`;
  const tuples = keys.map(
    (_, r) => `(${t.keys.map((k, i) => `$${r * t.keys.length + i + 1}::${k.sqlType}`).join(", ")})`,
  );
  return {
    sql: `SELECT ${keySelect(t.keys)}, md5(${rowTextExpr(t.columns)}) AS d FROM ${t.table} WHERE ${cols} IN (${tuples.join(", ")})`,
    params: keys.flat(),
  };
}

export function randomKeysSql(t: PgTableSql, n: number, rows: number): string {
  // BERNOULLI keeps the scan cheap on big tables; twice the needed share absorbs sampling variance.
  const percent = Math.min(100, rows === 0 ? 100 : (200 * n) / rows);
  return `SELECT ${keySelect(t.keys)} FROM ${t.table} TABLESAMPLE BERNOULLI (${percent}) ORDER BY random() LIMIT ${n}`;
}
