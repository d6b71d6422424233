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
 * the other tables go on. The legacy rows a round reads, share-locked: legacy-rows.ts.
 */
import type { Client } from "pg";
import { quoteIdent } from "../backfill/statements";
import type { KeysetQuery } from "../backfill/source";
import { canonicalExpression, selectExpression, toSqlite, type PgColumn } from "../backfill/types";
import type { PgCopyPlan } from "../backfill/pg-target";
import type { D1Target } from "../backfill/targets";
import { tableLockKey } from "../backfill/table-lock";
import { CAPTURE_SCHEMA } from "./install";
import type { Candidate } from "./after-cut";
import { applyToD1, applyToPg, type Applied } from "./write";
import { UsageError } from "../lib/errors";
import { canonicalKeys, currentRows, distinctKeys } from "./legacy-rows";

/** Where one legacy table's changes go. */
export type CaptureSink =
  | { readonly store: "supabase"; readonly plan: PgCopyPlan; readonly client: Client }
  | { readonly store: "d1"; readonly query: KeysetQuery; readonly target: D1Target };

export interface RoundResult {
  /** Changes taken from the log and applied. */
  readonly changes: number;
  readonly upserts: number;
  readonly deletes: number;
  /** After the final cut: rows the new store changed after their legacy change, kept as they are. */
  readonly kept: number;
  /** Tables left for a later round because a backfill holds them. */
  readonly busy: string[];
  /** Tables whose changes could not be applied this round: they stay in the log. */
  readonly failed: { readonly table: string; readonly pending: number; readonly error: string }[];
  /** Capture-to-apply time of each applied change, in ms. */
  readonly latenciesMs: number[];
  /** Changes applied a second time, their settle time over (see RoundOptions.recheckSeconds). */
  readonly rechecked: number;
}

export interface Backlog {
  readonly pending: number;
  /** Changes applied once, waiting for their second application (RoundOptions.recheckSeconds). */
  readonly rechecks: number;
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
  /** UTC, microseconds: `YYYY-MM-DDTHH:MM:SS.ffffffZ`. */
  readonly captured_at: string;
  /** Applied once already: this is its second application. */
  readonly recheck: boolean;
}

export interface RoundOptions {
  /** Tables whose changes failed a moment ago: they sit the round out, so they cannot hold the others back. */
  readonly skip?: ReadonlySet<string>;
  /** The final cut has happened: rows the new store changed after their change are kept (after-cut.ts). */
  readonly afterCut?: boolean;
  /**
   * Apply each change once more this many seconds after its first application (0: never). A Worker's
   * dual write whose client gave up can land its new-store half late — after the user's next write of
   * that key and after the applier applied it — and leave the new store parted from legacy with nothing
   * left in the log (found by the rehearsal). Applied again once no request can still be running, the
   * key gets legacy's state back. The second application is not counted as pending nor as lag. Across
   * the final cut rechecks go on (the Workers' last dual writes can still land late), under the after-cut
   * rule: a row the new store changed since is kept, and a row it no longer has is not brought back.
   * @default 0
   */
  readonly recheckSeconds?: number;
}

const LOG = `${CAPTURE_SCHEMA}.changes`;

/** Pending changes and the age of the oldest. */
export async function backlog(legacy: Client): Promise<Backlog> {
  const { rows } = await legacy.query(
    `SELECT table_name, count(*) FILTER (WHERE recheck_at IS NULL)::int AS n,
            count(*) FILTER (WHERE recheck_at IS NOT NULL)::int AS r,
            extract(epoch FROM clock_timestamp() - min(captured_at) FILTER (WHERE recheck_at IS NULL))::float8 AS age
       FROM ${LOG} GROUP BY table_name`,
  );
  const pending = rows.filter((r) => r.n > 0);
  return {
    pending: pending.reduce((n, r) => n + r.n, 0),
    rechecks: rows.reduce((n, r) => n + r.r, 0),
    lagSeconds: pending.reduce((a, r) => Math.max(a, r.age), 0),
    perTable: Object.fromEntries(pending.map((r) => [r.table_name, r.n])),
  };
}

/** One round: take up to `limit` finished changes, apply them, remove them from the log. */
export async function applyRound(
  legacy: Client,
  sinks: ReadonlyMap<string, CaptureSink>,
  limit: number,
  { skip = new Set(), afterCut = false, recheckSeconds = 0 }: RoundOptions = {},
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
      `SELECT seq::text, table_name, op, key, (extract(epoch FROM captured_at) * 1000)::bigint::text AS captured_ms,
              to_char(captured_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS captured_at,
              recheck_at IS NOT NULL AS recheck
         FROM ${LOG}
        WHERE txid < pg_snapshot_xmin(pg_current_snapshot()) AND table_name = ANY ($1::text[])
          AND (recheck_at IS NULL OR recheck_at <= clock_timestamp())
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
    let kept = 0;
    const failed: RoundResult["failed"][number][] = [];
    const done: Change[] = [];
    const byTable = new Map<string, Change[]>();
    for (const c of rows) byTable.set(c.table_name, [...(byTable.get(c.table_name) ?? []), c]);
    for (const [table, changes] of byTable) {
      let applied: Applied;
      try {
        applied = await applyTable(legacy, sinks.get(table)!, changes, afterCut);
      } catch (error) {
        // Left in the log: a later round retries, and the lag shows what is waiting.
        failed.push({ table, pending: changes.length, error: (error as Error).message });
        continue;
      }
      done.push(...changes);
      upserts += applied.upserts;
      deletes += applied.deletes;
      kept += applied.kept;
      await legacy.query("BEGIN");
      try {
        // First applications wait for their recheck (when asked for); second ones leave the log.
        const again = recheckSeconds > 0 ? changes.filter((c) => !c.recheck) : [];
        const gone = changes.filter((c) => !again.includes(c));
        if (gone.length)
          await legacy.query(`DELETE FROM ${LOG} WHERE seq = ANY ($1::bigint[])`, [gone.map((c) => c.seq)]);
        if (again.length)
          await legacy.query(
            `UPDATE ${LOG} SET recheck_at = clock_timestamp() + make_interval(secs => $2) WHERE seq = ANY ($1::bigint[])`,
            [again.map((c) => c.seq), recheckSeconds],
          );
        await legacy.query(
          `INSERT INTO ${CAPTURE_SCHEMA}.applied AS a (table_name, upserts, deletes, last_applied_at, last_latency_ms)
           VALUES ($1, $2, $3, clock_timestamp(), (extract(epoch FROM clock_timestamp()) * 1000)::bigint - $4::bigint)
           ON CONFLICT (table_name) DO UPDATE SET upserts = a.upserts + excluded.upserts, deletes = a.deletes + excluded.deletes,
             last_applied_at = excluded.last_applied_at, last_latency_ms = COALESCE(excluded.last_latency_ms, a.last_latency_ms)`,
          // A recheck's latency is its settle time, not the capture's: only first applications count.
          [
            table,
            applied.upserts,
            applied.deletes,
            changes.filter((c) => !c.recheck).at(-1)?.captured_ms ?? null,
          ],
        );
        await legacy.query("COMMIT");
      } catch (error) {
        await legacy.query("ROLLBACK").catch(() => undefined);
        throw error;
      }
    }
    const now = Date.now();
    const first = done.filter((c) => !c.recheck);
    return {
      changes: first.length,
      upserts,
      deletes,
      kept,
      busy,
      failed,
      latenciesMs: first.map((c) => now - Number(c.captured_ms)),
      rechecked: done.length - first.length,
    };
  } finally {
    for (const table of free) await legacy.query(`SELECT pg_advisory_unlock(${tableLockKey("$1")})`, [table]);
  }
}

/**
 * One table's changes, applied while the legacy rows read stay share-locked: a writer of one of those rows
 * (the Workers' dual write: legacy first, then the new store) waits until the applier has written the new
 * store, so the applier's copy can never land after the writer's newer one and undo it. Without the lock,
 * the rehearsal served reads of older values from the new store after an acknowledged dual write.
 */
async function applyTable(
  legacy: Client,
  sink: CaptureSink,
  changes: readonly Change[],
  afterCut: boolean,
): Promise<Applied> {
  await legacy.query("BEGIN");
  try {
    const applied = await applyLocked(legacy, sink, changes, afterCut);
    await legacy.query("COMMIT");
    return applied;
  } catch (error) {
    await legacy.query("ROLLBACK").catch(() => undefined);
    throw error;
  }
}

async function applyLocked(
  legacy: Client,
  sink: CaptureSink,
  changes: readonly Change[],
  afterCut: boolean,
): Promise<Applied> {
  const { keys, capturedAt } = distinctKeys(changes);
  const q = sink.store === "supabase" ? sink.plan.source : sink.query;
  const d1 = sink.store === "d1";
  const where = (c: string) => `${q.table}.${c}`;
  const expression = d1 ? selectExpression : canonicalExpression;
  const current = await currentRows(
    legacy,
    q,
    q.columns.map((c) => expression(c, quoteIdent(c.name))),
    keys,
  );
  const toStore = (row: (string | null)[], columns: readonly PgColumn[]) =>
    d1 ? row.map((v, i) => toSqlite(columns[i], v, where(columns[i].name))) : row;
  const rows = current.rows.map((r) => toStore(r, q.columns));
  const gone = current.gone.length
    ? (await canonicalKeys(legacy, q.primaryKey, current.gone, expression)).map((k) =>
        toStore(k, q.primaryKey),
      )
    : [];
  // Each candidate's key in the store's form, when its last change was captured, and whether only
  // rechecks carry it (after the cut).
  const keyAt = q.primaryKey.map((k) => q.columns.findIndex((c) => c.name === k.name));
  const fresh = new Set(changes.filter((c) => !c.recheck).map((c) => JSON.stringify(c.key)));
  const candidate = (key: (string | null)[], legacyKey: string[]): Candidate => ({
    key,
    capturedAt: capturedAt.get(JSON.stringify(legacyKey))!,
    recheckOnly: !fresh.has(JSON.stringify(legacyKey)),
  });
  const candidates: Candidate[] = [
    ...rows.map((r, i) =>
      candidate(
        keyAt.map((j) => r[j]),
        current.rowKeys[i],
      ),
    ),
    ...gone.map((k, i) => candidate(k, current.gone[i])),
  ];
  return sink.store === "supabase"
    ? applyToPg(sink.plan, sink.client, rows, gone, afterCut ? candidates : undefined)
    : applyToD1(q, sink.target, rows, gone, afterCut ? candidates : undefined);
}
