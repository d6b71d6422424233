/**
 * The applier's writes into each store: the rows legacy holds now and the keys it no longer holds, in
 * one transaction (the new schema) or one batch (D1). After the final cut, the candidates the new store
 * changed since their change are kept (after-cut.ts).
 */
import type { Client } from "pg";
import { buildUpserts, D1_LIMITS, quoteIdent, type Statement } from "../backfill/statements";
import { upsertFrom, type PgCopyPlan } from "../backfill/pg-target";
import type { KeysetQuery } from "../backfill/source";
import type { D1Target } from "../backfill/targets";
import { guardD1, keptInD1, keptInPg, type Candidate } from "./after-cut";

export interface Applied {
  readonly upserts: number;
  readonly deletes: number;
  readonly kept: number;
}

/** Drops the candidates at `kept` (rows first, then gone keys) from both lists. */
function without<R, G>(rows: R[], gone: G[], kept: ReadonlySet<number>): { rows: R[]; gone: G[] } {
  return {
    rows: rows.filter((_, i) => !kept.has(i)),
    gone: gone.filter((_, i) => !kept.has(rows.length + i)),
  };
}

/** Rows and deletes into the new schema in one transaction; after the cut, newer rows are locked and kept. */
export async function applyToPg(
  plan: PgCopyPlan,
  client: Client,
  allRows: (string | null)[][],
  allGone: (string | null)[][],
  afterCut: readonly Candidate[] | undefined,
): Promise<Applied> {
  const columns = plan.target.map((_, i) => `c${i}`);
  await client.query("BEGIN");
  try {
    const kept = afterCut ? await keptInPg(client, plan, afterCut) : new Set<number>();
    const { rows, gone } = without(allRows, allGone, kept);
    if (rows.length) {
      const unnest = `unnest(${columns.map((_, i) => `$${i + 1}::text[]`).join(", ")}) WITH ORDINALITY AS s(${columns.join(", ")}, ord)`;
      await client.query(
        upsertFrom(plan, unnest),
        columns.map((_, i) => rows.map((r) => r[i])),
      );
    }
    if (gone.length) {
      const keyColumns = plan.targetKey.map((k) => plan.target.find((c) => c.name === k)!);
      const casts = keyColumns.map((c, i) => `d.k${i}::${c.sqlType}`).join(", ");
      await client.query(
        `DELETE FROM ${quoteIdent(plan.spec.targetSchema)}.${quoteIdent(plan.spec.targetName)} WHERE (${plan.targetKey.map(quoteIdent).join(", ")}) IN ` +
          `(SELECT ${casts} FROM unnest(${keyColumns.map((_, i) => `$${i + 1}::text[]`).join(", ")}) AS d(${keyColumns.map((_, i) => `k${i}`).join(", ")}))`,
        keyColumns.map((_, i) => gone.map((k) => k[i])),
      );
    }
    await client.query("COMMIT");
    return { upserts: rows.length, deletes: gone.length, kept: kept.size };
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  }
}

/** Rows and deletes into D1 in one batch; after the cut, newer rows are kept and each statement guarded. */
export async function applyToD1(
  q: KeysetQuery,
  target: D1Target,
  allRows: (string | null)[][],
  allGone: (string | null)[][],
  afterCut: readonly Candidate[] | undefined,
): Promise<Applied> {
  const kept = afterCut ? await keptInD1(target, q, afterCut) : new Set<number>();
  const { rows, gone } = without(allRows, allGone, kept);
  const shape = {
    table: q.table,
    columns: q.columns.map((c) => c.name),
    primaryKey: q.primaryKey.map((c) => c.name),
  };
  const deleteOf = (key: (string | null)[]): Statement => ({
    // A NULL key part cannot be bound (D1 binds strings): it is written as IS NULL.
    sql: `DELETE FROM ${quoteIdent(q.table)} WHERE ${q.primaryKey.map((c, i) => `${quoteIdent(c.name)} ${key[i] === null ? "IS NULL" : "= ?"}`).join(" AND ")}`,
    params: key.filter((v): v is string => v !== null),
  });
  let statements: Statement[];
  if (afterCut) {
    // One statement per row, each guarded with its own change's time.
    const remaining = afterCut.filter((_, j) => !kept.has(j));
    statements = [
      ...rows.map((r, i) => guardD1(buildUpserts(shape, [r], D1_LIMITS)[0], q, remaining[i].capturedAt)),
      ...gone.map((k, i) => guardD1(deleteOf(k), q, remaining[rows.length + i].capturedAt)),
    ];
  } else {
    statements = [...buildUpserts(shape, rows, D1_LIMITS), ...gone.map(deleteOf)];
  }
  if (statements.length) await target.batch(statements);
  return { upserts: rows.length, deletes: gone.length, kept: kept.size };
}
