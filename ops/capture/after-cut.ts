/**
 * The applier after the final cut (the phase row's `cut`): the Workers write only the new stores, and
 * the changes still in the log are legacy writes from before the cut. Legacy is no longer the truth for
 * a row the new store changed after such a change was captured: that row is kept as it is (and counted),
 * instead of being overwritten by the older legacy state. "Changed after" is the new store's updated_at
 * later than the change's capture time (legacy's clock_timestamp, in UTC). A row the new store deleted
 * after the cut leaves no trace to compare with: drain the log right after the cut, as the plan says.
 * A recheck (a change applied once already, applied again to undo a late dual write) only corrects a row
 * the new store still has: it never brings back a row that is gone from it.
 */
import type { Client } from "pg";
import { quoteIdent, type Statement } from "../backfill/statements";
import type { PgCopyPlan } from "../backfill/pg-target";
import type { KeysetQuery } from "../backfill/source";
import type { D1Target } from "../backfill/targets";

/** A row to write or a key to delete, in the store's own form, and when its last change was captured. */
export interface Candidate {
  readonly key: readonly (string | null)[];
  /** `YYYY-MM-DDTHH:MM:SS.ffffffZ`, UTC. */
  readonly capturedAt: string;
  /** Every change of this key in the batch is a recheck: a row missing from the new store stays missing. */
  readonly recheckOnly?: boolean;
}

/** The new schema's column that carries legacy's updated_at: without it nothing tells a newer row. */
export function targetUpdatedAt(plan: PgCopyPlan): string {
  const i = plan.source.columns.findIndex((c) => c.name === plan.source.updatedAt.name);
  if (i < 0)
    throw new Error(
      `after the final cut the applier keeps rows the new store changed since, which needs ${plan.source.updatedAt.name} in ${plan.spec.targetSchema}.${plan.spec.targetName}; hint: add the column to the new table, or drain the log before the cut`,
    );
  return plan.target[i].name;
}

/**
 * Indexes of the candidates to keep as the new schema has them — a row newer than its change, or a
 * recheck's row the new store no longer has — with every candidate row found locked (FOR UPDATE) until
 * the caller's transaction ends, so that no write slips in between this judgement and the apply.
 */
export async function keptInPg(
  client: Client,
  plan: PgCopyPlan,
  candidates: readonly Candidate[],
): Promise<Set<number>> {
  if (candidates.length === 0) return new Set();
  const keys = plan.targetKey.map((k) => plan.target.find((c) => c.name === k)!);
  const alias = [...keys.map((_, i) => `k${i}`), "thr"].join(", ");
  const { rows } = await client.query<{ ord: string; newer: boolean }>(
    `SELECT d.ord, t.${quoteIdent(targetUpdatedAt(plan))} > d.thr::timestamptz AS newer ` +
      `FROM ${quoteIdent(plan.spec.targetSchema)}.${quoteIdent(plan.spec.targetName)} t ` +
      `JOIN unnest(${[...keys, null].map((_, i) => `$${i + 1}::text[]`).join(", ")}) WITH ORDINALITY AS d(${alias}, ord) ` +
      `ON (${keys.map((c) => `t.${quoteIdent(c.name)}`).join(", ")}) = (${keys.map((c, i) => `d.k${i}::${c.sqlType}`).join(", ")}) ` +
      `FOR UPDATE OF t`,
    [...keys.map((_, i) => candidates.map((c) => c.key[i])), candidates.map((c) => c.capturedAt)],
  );
  return keptOf(
    candidates,
    rows.map((r) => ({ i: Number(r.ord) - 1, newer: r.newer })),
  );
}

/** The candidates kept, from the rows found in the new store: newer ones, and rechecks of rows not found. */
function keptOf(
  candidates: readonly Candidate[],
  found: readonly { i: number; newer: boolean }[],
): Set<number> {
  const present = new Set(found.map((f) => f.i));
  const kept = new Set(found.filter((f) => f.newer).map((f) => f.i));
  candidates.forEach((c, i) => {
    if (c.recheckOnly && !present.has(i)) kept.add(i);
  });
  return kept;
}

/** The capture time as D1 holds this column's timestamps (a `timestamp` column has no zone). */
const d1Time = (q: KeysetQuery, capturedAt: string) =>
  q.updatedAt.type === "timestamp" ? capturedAt.slice(0, -1) : capturedAt;

/** Indexes of the candidates to keep as D1 has them: a row newer than its change, a recheck's row not there. */
export async function keptInD1(
  target: D1Target,
  q: KeysetQuery,
  candidates: readonly Candidate[],
): Promise<Set<number>> {
  const found: { i: number; newer: boolean }[] = [];
  const width = q.primaryKey.length + 1;
  const perQuery = Math.max(1, Math.floor(100 / width)); // D1 binds at most 100 parameters
  const u = quoteIdent(q.updatedAt.name);
  // A key with a NULL part equals nothing: it is never found.
  const comparable = candidates.flatMap((c, i) => (c.key.every((k) => k !== null) ? [{ ...c, i }] : []));
  for (let start = 0; start < comparable.length; start += perQuery) {
    const chunk = comparable.slice(start, start + perQuery);
    const values = chunk.map((c) => `(${[...q.primaryKey.map(() => "?"), "?", String(c.i)].join(", ")})`);
    const on = q.primaryKey.map((c, i) => `t.${quoteIdent(c.name)} = v.column${i + 1}`).join(" AND ");
    const rows = await target.all(
      `SELECT v.column${width + 1} AS ord, t.${u} > v.column${width} AS newer FROM ${quoteIdent(q.table)} t ` +
        `JOIN (VALUES ${values.join(", ")}) v ON ${on}`,
      chunk.flatMap((c) => [...(c.key as string[]), d1Time(q, c.capturedAt)]),
    );
    for (const r of rows) found.push({ i: Number(r.ord), newer: Number(r.newer) === 1 });
  }
  return keptOf(candidates, found);
}

/**
 * A single-row statement made safe for a write that lands between keptInD1 and the batch: the upsert
 * updates, and the delete deletes, only a row not newer than the change.
 */
export function guardD1(s: Statement, q: KeysetQuery, capturedAt: string): Statement {
  const u = `${quoteIdent(q.table)}.${quoteIdent(q.updatedAt.name)}`;
  const guard = `(${u} IS NULL OR ${u} <= ?)`;
  if (s.sql.startsWith("DELETE"))
    return { sql: `${s.sql} AND ${guard}`, params: [...s.params, d1Time(q, capturedAt)] };
  if (!s.sql.includes(" DO UPDATE SET ")) return s;
  return { sql: `${s.sql} WHERE ${guard}`, params: [...s.params, d1Time(q, capturedAt)] };
}
