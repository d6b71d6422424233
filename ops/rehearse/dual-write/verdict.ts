/**
 * The end of a rehearsal, judged from outside: every key a user wrote is read back from the store that
 * is authoritative at the end (the new stores after the final cut, legacy after a rollback) with plain
 * SQL, and compared with what the user was told.
 */
import { Client } from "pg";
import type { DualWriteMigration } from "../../../infra/config/schema";
import { quoteIdent } from "../../validate/pg-sql";
import { keyOf, type Table } from "./load";
import type { StandIn } from "./stand-in";

export interface FinalState {
  /** Acknowledged writes the store does not hold (a row missing or holding another value). */
  readonly lost: number;
  /** Acknowledged deletes whose row is there again. */
  readonly resurrected: number;
  readonly duplicates: number;
}

/** Each table's text column, in legacy and in its new store (as workers/api reads it). */
const TEXT_COLUMN: Record<Table, string> = { listings: "title", cities: "name" };
const D1_PARAMS = 100;

export async function finalState(
  s: StandIn,
  spec: DualWriteMigration,
  expected: ReadonlyMap<string, ReadonlySet<string | null>>,
  final: "new" | "legacy",
): Promise<FinalState> {
  const ids: Record<Table, number[]> = { listings: [], cities: [] };
  for (const key of expected.keys()) {
    const [table, id] = key.split(":") as [Table, string];
    ids[table].push(Number(id));
  }
  const held = new Map<string, string>();
  let duplicates = 0;
  for (const table of ["listings", "cities"] as const) {
    const t = spec.tables.find((x) => x.name === table);
    if (!t) throw new Error(`the migration has no table ${table}: the rehearsal's API writes it`);
    const column = TEXT_COLUMN[table];
    if (final === "new" && t.store === "d1") {
      const d1 = s.edge.d1(t.d1Database!);
      for (let i = 0; i < ids[table].length; i += D1_PARAMS) {
        const chunk = ids[table].slice(i, i + D1_PARAMS);
        const rows = await d1.all(
          `SELECT id, ${quoteIdent(column)} AS text FROM ${quoteIdent(table)} WHERE id IN (${chunk.map(() => "?").join(", ")})`,
          chunk.map(String),
        );
        for (const r of rows) held.set(keyOf(table, Number(r.id)), String(r.text));
      }
      const [{ n }] = await d1.all(`SELECT count(*) - count(DISTINCT id) AS n FROM ${quoteIdent(table)}`);
      duplicates += Number(n);
    } else {
      const url = final === "new" ? s.targetUrl : s.legacyUrl;
      const schema = final === "new" ? spec.target.schema : spec.legacy.schema;
      const name = `${quoteIdent(schema)}.${quoteIdent(final === "new" ? (t.targetName ?? table) : table)}`;
      const c = new Client({ connectionString: url });
      await c.connect();
      try {
        const { rows } = await c.query(
          `SELECT id::int AS id, ${quoteIdent(column)} AS text FROM ${name} WHERE id = ANY ($1::bigint[])`,
          [ids[table]],
        );
        for (const r of rows) held.set(keyOf(table, r.id), r.text);
        duplicates += (await c.query(`SELECT count(*) - count(DISTINCT id) AS n FROM ${name}`)).rows[0].n;
      } finally {
        await c.end();
      }
    }
  }
  let lost = 0;
  let resurrected = 0;
  for (const [key, values] of expected) {
    const value = held.get(key) ?? null;
    if (values.has(value)) continue;
    if (values.size === 1 && values.has(null)) resurrected++;
    else lost++;
  }
  return { lost, resurrected, duplicates: Number(duplicates) };
}
