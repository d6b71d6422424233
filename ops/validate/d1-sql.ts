/**
 * SQL text for D1/SQLite. SQLite has no hash function, so D1 statements only select rows (keyset
 * pages) and the hashing happens in Node. Every parameter is bound as text (the REST API only takes
 * strings); integer keys are cast back so comparisons stay numeric.
 */
import { quoteIdent } from "./pg-sql";
import type { Column, KeyRange } from "./types";

/** Integers leave SQLite as decimal text: a JS number would round anything beyond 2^53. */
export function selectValue(col: Column, alias: string): string {
  const c = quoteIdent(col.name);
  return `CASE WHEN typeof(${c}) = 'integer' THEN CAST(${c} AS TEXT) ELSE ${c} END AS ${quoteIdent(alias)}`;
}

const param = (col: Column) => (col.family === "int" ? "CAST(? AS INTEGER)" : "?");

export function rangePredicate(keys: readonly Column[], range: KeyRange): { sql: string; params: string[] } {
  const lhs =
    keys.length === 1 ? quoteIdent(keys[0].name) : `(${keys.map((k) => quoteIdent(k.name)).join(", ")})`;
  const rhs = keys.length === 1 ? param(keys[0]) : `(${keys.map(param).join(", ")})`;
  const parts: string[] = [];
  const params: string[] = [];
  if (range.lo) {
    parts.push(`${lhs} > ${rhs}`);
    params.push(...range.lo);
  }
  if (range.hi) {
    parts.push(`${lhs} <= ${rhs}`);
    params.push(...range.hi);
  }
  return { sql: parts.length ? parts.join(" AND ") : "1", params };
}

export interface D1TableSql {
  readonly table: string;
  readonly keys: readonly Column[];
  readonly columns: readonly Column[];
}

const keySelect = (keys: readonly Column[]) => keys.map((k, i) => selectValue(k, `k${i}`)).join(", ");
const keyOrder = (keys: readonly Column[]) => keys.map((k) => quoteIdent(k.name)).join(", ");

/** One keyset page of whole rows (keys as k0…, columns as c0…) after `after`, in key order. */
export function rowPageSql(
  t: D1TableSql,
  range: KeyRange,
  after: readonly string[] | undefined,
  limit: number,
) {
  const where = rangePredicate(t.keys, { lo: after ?? range.lo, hi: range.hi });
  const cols = t.columns.map((c, i) => selectValue(c, `c${i}`)).join(", ");
  return {
    sql: `SELECT ${keySelect(t.keys)}, ${cols} FROM ${quoteIdent(t.table)} WHERE ${where.sql} ORDER BY ${keyOrder(t.keys)} LIMIT ${limit}`,
    params: where.params,
  };
}

/** Tables without a primary key are read by rowid (order does not matter for a sum of hashes). */
export function rowidPageSql(t: D1TableSql, after: string | undefined, limit: number) {
  const cols = t.columns.map((c, i) => selectValue(c, `c${i}`)).join(", ");
  return {
    sql: `SELECT CAST(rowid AS TEXT) AS r, ${cols} FROM ${quoteIdent(t.table)} WHERE rowid > CAST(? AS INTEGER) ORDER BY rowid LIMIT ${limit}`,
    params: [after ?? "-9223372036854775808"],
  };
}

export function splitPointsSql(t: D1TableSql, range: KeyRange, step: number, rows: number) {
  const where = rangePredicate(t.keys, range);
  const cols = t.keys.map((_, i) => `k${i}`).join(", ");
  return {
    sql:
      `SELECT ${cols} FROM (SELECT ${keySelect(t.keys)}, row_number() OVER (ORDER BY ${keyOrder(t.keys)}) AS rn ` +
      `FROM ${quoteIdent(t.table)} WHERE ${where.sql}) WHERE rn % ${step} = 0 AND rn < ${rows} ORDER BY rn`,
    params: where.params,
  };
}

export function rowsOfSql(t: D1TableSql, keys: readonly (readonly string[])[]) {
  const cols = t.columns.map((c, i) => selectValue(c, `c${i}`)).join(", ");
  const lhs = `(${t.keys.map((k) => quoteIdent(k.name)).join(", ")})`;
  const tuple = `(${t.keys.map(param).join(", ")})`;
  return {
    sql: `SELECT ${keySelect(t.keys)}, ${cols} FROM ${quoteIdent(t.table)} WHERE ${lhs} IN (VALUES ${keys.map(() => tuple).join(", ")})`,
    params: keys.flat(),
  };
}

export function randomKeysSql(t: D1TableSql, n: number): string {
  return `SELECT ${keySelect(t.keys)} FROM ${quoteIdent(t.table)} ORDER BY random() LIMIT ${n}`;
}
