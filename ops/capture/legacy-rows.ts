/**
 * What a round of the applier reads of legacy: the distinct keys of a table's changes, the current rows
 * of those keys (share-locked until the round's transaction ends, see applier.ts), and the keys gone
 * from legacy printed the way each store holds them.
 */
import type { Client } from "pg";
import { quoteIdent } from "../backfill/statements";
import { RAW_TEXT, type KeysetQuery } from "../backfill/source";
import type { PgColumn } from "../backfill/types";

/** The distinct keys of a table's changes (last change last), and when each key's last change was captured. */
export function distinctKeys(changes: readonly { readonly key: string[]; readonly captured_at: string }[]): {
  keys: string[][];
  capturedAt: Map<string, string>;
} {
  const byKey = new Map<string, string[]>();
  const capturedAt = new Map<string, string>();
  for (const c of changes) {
    const id = JSON.stringify(c.key);
    byKey.delete(id);
    byKey.set(id, c.key);
    // Fixed-width UTC text: the greater string is the later time.
    if ((capturedAt.get(id) ?? "") < c.captured_at) capturedAt.set(id, c.captured_at);
  }
  return { keys: [...byKey.values()], capturedAt };
}

/** Reads the current legacy rows of `keys`; returns the rows (select order) and the keys that are gone. */
export async function currentRows(
  legacy: Client,
  q: KeysetQuery,
  select: readonly string[],
  keys: readonly string[][],
): Promise<{ rows: (string | null)[][]; rowKeys: string[][]; gone: string[][] }> {
  const pk = q.primaryKey.map((c) => quoteIdent(c.name));
  const unnest = q.primaryKey.map((_, i) => `$${i + 1}::text[]`).join(", ");
  const casts = q.primaryKey.map((c, i) => `u.k${i}::${c.sqlType}`).join(", ");
  const alias = q.primaryKey.map((_, i) => `k${i}`).join(", ");
  const result = await legacy.query({
    text:
      // The key printed by the trigger's own expression (to_jsonb ->>), so that equal keys compare equal.
      `SELECT ${[...select, ...q.primaryKey.map((c) => `to_jsonb(x) ->> ${legacy.escapeLiteral(c.name)}`)].join(", ")} FROM ${quoteIdent(q.schema)}.${quoteIdent(q.table)} x ` +
      `WHERE (${pk.join(", ")}) IN (SELECT ${casts} FROM unnest(${unnest}) AS u(${alias})) FOR SHARE OF x`,
    values: q.primaryKey.map((_, i) => keys.map((k) => k[i])),
    types: RAW_TEXT,
    rowMode: "array",
  });
  const width = select.length;
  const all = result.rows as (string | null)[][];
  const present = new Set(all.map((r) => JSON.stringify(r.slice(width))));
  return {
    rows: all.map((r) => r.slice(0, width)),
    rowKeys: all.map((r) => r.slice(width) as string[]),
    gone: keys.filter((k) => !present.has(JSON.stringify(k))),
  };
}

/**
 * The keys of rows gone from legacy, in the form each store holds them: the trigger logs a key as
 * to_jsonb prints it (a char(n) padded, a timestamp in ISO 'T' form, a boolean as true), while the rows
 * were written in the copy's canonical form; PostgreSQL re-prints each key through the same expression
 * the copy used, so a delete finds the row the copy wrote.
 */
export async function canonicalKeys(
  legacy: Client,
  primaryKey: readonly PgColumn[],
  keys: readonly string[][],
  expression: (column: PgColumn, quoted: string) => string,
): Promise<(string | null)[][]> {
  const alias = primaryKey.map((_, i) => `k${i}`).join(", ");
  const result = await legacy.query({
    text:
      `SELECT ${primaryKey.map((c, i) => expression(c, `u.k${i}::${c.sqlType}`)).join(", ")} ` +
      `FROM unnest(${primaryKey.map((_, i) => `$${i + 1}::text[]`).join(", ")}) WITH ORDINALITY AS u(${alias}, ord) ORDER BY ord`,
    values: primaryKey.map((_, i) => keys.map((k) => k[i])),
    types: RAW_TEXT,
    rowMode: "array",
  });
  return result.rows as (string | null)[][];
}
