/**
 * The change capture applier: drains cutover_capture.changes in sequence order and brings each changed
 * key of the new stores to the row's current state in legacy — the row when it exists, a delete when it
 * does not. Applying a key's current state is idempotent, so a restart that re-reads changes whose
 * removal from the log did not commit applies the same state again: nothing lost, nothing doubled.
 *
 * Commit order: a change is taken only once its transaction and every older one have ended (txid below
 * the snapshot's xmin); two changes of one key are ordered by the row lock their writers took, so the
 * log's order per key is commit order, and the state read afterwards includes both.
 *
 * Legacy is the truth: each target row is made equal to the legacy row whatever either updated_at says
 * (a key swap, a re-insert with an older or NULL timestamp and a clock moved back all keep their
 * change). A table whose changes cannot be applied keeps them in the log (the lag grows and says so);
 * the other tables go on.
 */
import type { Client } from "pg";
import { quoteIdent } from "../backfill/statements";
import { buildUpserts, D1_LIMITS, type Statement } from "../backfill/statements";
import { RAW_TEXT, type KeysetQuery } from "../backfill/source";
import { canonicalExpression, selectExpression, toSqlite, type PgColumn } from "../backfill/types";
import { upsertFrom, type PgCopyPlan } from "../backfill/pg-target";
import type { D1Target } from "../backfill/targets";
import { tableLockKey } from "../backfill/table-lock";
import { CAPTURE_SCHEMA } from "./install";
import { UsageError } from "../lib/cli";

/** Where one legacy table's changes go. */
export type CaptureSink =
  | { readonly store: "supabase"; readonly plan: PgCopyPlan; readonly client: Client }
  | { readonly store: "d1"; readonly query: KeysetQuery; readonly target: D1Target };

export interface RoundResult {
  /** Changes taken from the log and applied. */
  readonly changes: number;
  readonly upserts: number;
  readonly deletes: number;
  /** Tables left for a later round because a backfill holds them. */
  readonly busy: string[];
  /** Tables whose changes could not be applied this round: they stay in the log. */
  readonly failed: { readonly table: string; readonly pending: number; readonly error: string }[];
  /** Capture-to-apply time of each applied change, in ms. */
  readonly latenciesMs: number[];
}

export interface Backlog {
  readonly pending: number;
  /** Age of the oldest change not yet applied (0 when none): the capture lag. */
  readonly lagSeconds: number;
  readonly perTable: Record<string, number>;
}

interface Change {
  readonly seq: string;
  readonly table_name: string;
  readonly op: string;
  readonly key: string[];
  readonly captured_ms: string;
}

const LOG = `${CAPTURE_SCHEMA}.changes`;

/** Pending changes and the age of the oldest. */
export async function backlog(legacy: Client): Promise<Backlog> {
  const { rows } = await legacy.query(
    `SELECT table_name, count(*)::int AS n, extract(epoch FROM clock_timestamp() - min(captured_at))::float8 AS age
       FROM ${LOG} GROUP BY table_name`,
  );
  return {
    pending: rows.reduce((n, r) => n + r.n, 0),
    lagSeconds: rows.reduce((a, r) => Math.max(a, r.age), 0),
    perTable: Object.fromEntries(rows.map((r) => [r.table_name, r.n])),
  };
}

/**
 * One round: take up to `limit` finished changes, apply them, remove them from the log. Tables in `skip`
 * (whose changes failed a moment ago) sit the round out, so that they cannot hold the others back.
 */
export async function applyRound(
  legacy: Client,
  sinks: ReadonlyMap<string, CaptureSink>,
  limit: number,
  skip: ReadonlySet<string> = new Set(),
): Promise<RoundResult> {
  // Tables a backfill is copying are left alone; the lock is tried, never waited for.
  const free: string[] = [];
  const busy: string[] = [];
  for (const table of sinks.keys()) {
    if (skip.has(table)) continue;
    const { rows } = await legacy.query(`SELECT pg_try_advisory_lock(${tableLockKey("$1")}) AS ok`, [table]);
    (rows[0].ok ? free : busy).push(table);
  }
  try {
    const { rows } = await legacy.query<Change>(
      `SELECT seq::text, table_name, op, key, (extract(epoch FROM captured_at) * 1000)::bigint::text AS captured_ms
         FROM ${LOG}
        WHERE txid < pg_snapshot_xmin(pg_current_snapshot()) AND table_name = ANY ($1::text[])
        ORDER BY seq LIMIT $2`,
      [free, limit],
    );
    const truncated = rows.find((c) => c.op === "T");
    if (truncated)
      throw new UsageError(
        `legacy table ${truncated.table_name} was truncated (change ${truncated.seq}): a TRUNCATE has no rows to replay; hint: truncate the table in its new store too, delete that change from ${LOG}, then run the backfill with --full --tables ${truncated.table_name}`,
      );
    const unknown = rows.find((c) => !sinks.has(c.table_name));
    if (unknown) throw new Error(`change ${unknown.seq} is for ${unknown.table_name}, which has no sink`);
    let upserts = 0;
    let deletes = 0;
    const failed: RoundResult["failed"][number][] = [];
    const done: Change[] = [];
    const byTable = new Map<string, Change[]>();
    for (const c of rows) byTable.set(c.table_name, [...(byTable.get(c.table_name) ?? []), c]);
    for (const [table, changes] of byTable) {
      let applied: { upserts: number; deletes: number };
      try {
        applied = await applyTable(legacy, sinks.get(table)!, changes);
      } catch (error) {
        // Left in the log: a later round retries, and the lag shows what is waiting.
        failed.push({ table, pending: changes.length, error: (error as Error).message });
        continue;
      }
      done.push(...changes);
      upserts += applied.upserts;
      deletes += applied.deletes;
      await legacy.query("BEGIN");
      try {
        await legacy.query(`DELETE FROM ${LOG} WHERE seq = ANY ($1::bigint[])`, [changes.map((c) => c.seq)]);
        await legacy.query(
          `INSERT INTO ${CAPTURE_SCHEMA}.applied AS a (table_name, upserts, deletes, last_applied_at, last_latency_ms)
           VALUES ($1, $2, $3, clock_timestamp(), (extract(epoch FROM clock_timestamp()) * 1000)::bigint - $4::bigint)
           ON CONFLICT (table_name) DO UPDATE SET upserts = a.upserts + excluded.upserts, deletes = a.deletes + excluded.deletes,
             last_applied_at = excluded.last_applied_at, last_latency_ms = excluded.last_latency_ms`,
          [table, applied.upserts, applied.deletes, changes[changes.length - 1].captured_ms],
        );
        await legacy.query("COMMIT");
      } catch (error) {
        await legacy.query("ROLLBACK").catch(() => undefined);
        throw error;
      }
    }
    const now = Date.now();
    return {
      changes: done.length,
      upserts,
      deletes,
      busy,
      failed,
      latenciesMs: done.map((c) => now - Number(c.captured_ms)),
    };
  } finally {
    for (const table of free) await legacy.query(`SELECT pg_advisory_unlock(${tableLockKey("$1")})`, [table]);
  }
}

/** The distinct keys of a table's changes, last change last. */
function distinctKeys(changes: readonly Change[]): string[][] {
  const byKey = new Map<string, string[]>();
  for (const c of changes) {
    const id = JSON.stringify(c.key);
    byKey.delete(id);
    byKey.set(id, c.key);
  }
  return [...byKey.values()];
}

/** Reads the current legacy rows of `keys`; returns the rows (select order) and the keys that are gone. */
async function currentRows(
  legacy: Client,
  q: KeysetQuery,
  select: readonly string[],
  keys: readonly string[][],
): Promise<{ rows: (string | null)[][]; gone: string[][] }> {
  const pk = q.primaryKey.map((c) => quoteIdent(c.name));
  const unnest = q.primaryKey.map((_, i) => `$${i + 1}::text[]`).join(", ");
  const casts = q.primaryKey.map((c, i) => `u.k${i}::${c.sqlType}`).join(", ");
  const alias = q.primaryKey.map((_, i) => `k${i}`).join(", ");
  const result = await legacy.query({
    text:
      // The key printed by the trigger's own expression (to_jsonb ->>), so that equal keys compare equal.
      `SELECT ${[...select, ...q.primaryKey.map((c) => `to_jsonb(x) ->> ${legacy.escapeLiteral(c.name)}`)].join(", ")} FROM ${quoteIdent(q.schema)}.${quoteIdent(q.table)} x ` +
      `WHERE (${pk.join(", ")}) IN (SELECT ${casts} FROM unnest(${unnest}) AS u(${alias}))`,
    values: q.primaryKey.map((_, i) => keys.map((k) => k[i])),
    types: RAW_TEXT,
    rowMode: "array",
  });
  const width = select.length;
  const all = result.rows as (string | null)[][];
  const present = new Set(all.map((r) => JSON.stringify(r.slice(width))));
  return {
    rows: all.map((r) => r.slice(0, width)),
    gone: keys.filter((k) => !present.has(JSON.stringify(k))),
  };
}

/**
 * The keys of rows gone from legacy, in the form each store holds them: the trigger logs a key as
 * to_jsonb prints it (a char(n) padded, a timestamp in ISO 'T' form, a boolean as true), while the rows
 * were written in the copy's canonical form; PostgreSQL re-prints each key through the same expression
 * the copy used, so a delete finds the row the copy wrote.
 */
async function canonicalKeys(
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

async function applyTable(
  legacy: Client,
  sink: CaptureSink,
  changes: readonly Change[],
): Promise<{ upserts: number; deletes: number }> {
  const keys = distinctKeys(changes);
  if (sink.store === "supabase") {
    const { plan, client } = sink;
    const q = plan.source;
    const { rows, gone: goneKeys } = await currentRows(
      legacy,
      q,
      q.columns.map((c) => canonicalExpression(c, quoteIdent(c.name))),
      keys,
    );
    const gone = goneKeys.length
      ? await canonicalKeys(legacy, q.primaryKey, goneKeys, canonicalExpression)
      : [];
    const columns = plan.target.map((_, i) => `c${i}`);
    await client.query("BEGIN");
    try {
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
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw error;
    }
    return { upserts: rows.length, deletes: gone.length };
  }
  const { query: q, target } = sink;
  const select = q.columns.map((c) => selectExpression(c, quoteIdent(c.name)));
  const { rows, gone: goneKeys } = await currentRows(legacy, q, select, keys);
  const where = (c: string) => `${q.table}.${c}`;
  const gone = goneKeys.length
    ? (await canonicalKeys(legacy, q.primaryKey, goneKeys, selectExpression)).map((k) =>
        k.map((v, i) => toSqlite(q.primaryKey[i], v, where(q.primaryKey[i].name))),
      )
    : [];
  const mapped = rows.map((row) => row.map((v, i) => toSqlite(q.columns[i], v, where(q.columns[i].name))));
  const statements: Statement[] = buildUpserts(
    {
      table: q.table,
      columns: q.columns.map((c) => c.name),
      primaryKey: q.primaryKey.map((c) => c.name),
    },
    mapped,
    D1_LIMITS,
  );
  for (const key of gone) {
    // A NULL key part cannot be bound (D1 binds strings): it is written as IS NULL.
    const pk = q.primaryKey.map((c, i) => `${quoteIdent(c.name)} ${key[i] === null ? "IS NULL" : "= ?"}`);
    statements.push({
      sql: `DELETE FROM ${quoteIdent(q.table)} WHERE ${pk.join(" AND ")}`,
      params: key.filter((v): v is string => v !== null),
    });
  }
  if (statements.length) await target.batch(statements);
  return { upserts: rows.length, deletes: gone.length };
}
