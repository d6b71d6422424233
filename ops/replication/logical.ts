/**
 * The `replication: logical` path: PostgreSQL's own publication on the source and a subscription on
 * Cloud SQL, for sources that cannot feed Database Migration Service (no pglogical, no superuser:
 * Supabase). What it does, in order, each step idempotent so that a re-run finishes what a broken run
 * left:
 *
 *   start   the schema of the published schemas is copied (pg_dump --schema-only, applied with psql);
 *           one publication of every table with a replica identity, one insert-only publication of the
 *           tables without (publishing updates of such a table would make the source refuse them);
 *           a subscription on the destination with its own slot, which copies the data then streams
 *           changes.
 *   status  the slot's lag on the source, each table's copy state, the subscription's errors.
 *   stop    (the `promote` step) refuses unless every table finished its copy; takes the source's WAL
 *           position after the freeze as a marker and waits until the slot confirmed it; copies the
 *           sequence positions (logical replication does not carry them); drops the subscription
 *           (with its slot) and the publications. Cloud SQL was a primary throughout: nothing to
 *           promote, backups and PITR never stopped.
 * `start` is in logical-start.ts; what the steps share (options, names, connections) in logical-parts.ts.
 */
import type { Client } from "pg";
import { UsageError } from "../lib/errors";
import { isConnectionLoss, reconnectWithBackoff } from "../lib/reconnect";
import {
  exists,
  ident,
  names,
  ReplicationError,
  sourceTables,
  withBoth,
  type LogicalEndpoints,
  type LogicalOptions,
} from "./logical-parts";

export { ReplicationError, type LogicalEndpoints, type LogicalOptions };
export { startLogical, type StartResult } from "./logical-start";

export interface TableState {
  readonly table: string;
  /** `init`, `copying`, `synced`, `ready` (streaming), or `missing` (not in the subscription yet). */
  readonly state: "init" | "copying" | "synced" | "ready" | "missing";
}

export interface LogicalStatus {
  readonly publication: boolean;
  readonly subscription: boolean;
  readonly enabled: boolean;
  /** WAL bytes the slot has not confirmed; null without a slot. */
  readonly lagBytes: number | null;
  readonly tables: readonly TableState[];
  /** Tables published insert-only (no replica identity): updates and deletes do not reach Cloud SQL. */
  readonly insertOnly: readonly string[];
  /** Apply and copy errors the subscription counted (PostgreSQL 15+), 0 when unknown. */
  readonly errors: number;
  /** Every table copied and streaming. */
  readonly ready: boolean;
}

export interface StopResult {
  /** The source WAL position taken after the freeze, which the slot confirmed before the stop. */
  readonly marker: string;
  readonly waitedMs: number;
  readonly sequences: number;
  /** False when an earlier run had already stopped this replication (nothing left to drop). */
  readonly stopped: boolean;
}

const STATES: Record<string, TableState["state"]> = {
  i: "init",
  d: "copying",
  f: "copying",
  s: "synced",
  r: "ready",
};

async function readStatus(source: Client, destination: Client, opts: LogicalOptions): Promise<LogicalStatus> {
  const n = names(opts);
  const schemas = opts.schemas ?? ["public"];
  const publication = await exists(source, "select 1 from pg_publication where pubname = any($1)", [
    [n.publication, n.insertOnly],
  ]);
  const insertOnly = (
    await source.query<{ name: string }>(
      `select format('%I.%I', schemaname, tablename) as name from pg_publication_tables where pubname = $1 order by 1`,
      [n.insertOnly],
    )
  ).rows.map((r) => r.name);
  const sub = (
    await destination.query<{ oid: number; enabled: boolean }>(
      "select oid, subenabled as enabled from pg_subscription where subname = $1",
      [n.subscription],
    )
  ).rows[0];
  const slot = (
    await source.query<{ lag: string | null }>(
      `select pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint as lag
         from pg_replication_slots where slot_name = $1`,
      [n.subscription],
    )
  ).rows[0];
  const published = (await sourceTables(source, schemas)).map((t) => t.table);
  const rel = sub
    ? (
        await destination.query<{ name: string; state: string }>(
          `select format('%I.%I', n.nspname, c.relname) as name, r.srsubstate as state
             from pg_subscription_rel r join pg_class c on c.oid = r.srrelid
             join pg_namespace n on n.oid = c.relnamespace where r.srsubid = $1`,
          [sub.oid],
        )
      ).rows
    : [];
  const byName = new Map(rel.map((r) => [r.name, STATES[r.state] ?? "copying"]));
  const tables = published.map((table) => ({ table, state: byName.get(table) ?? ("missing" as const) }));
  let errors = 0;
  if (sub) {
    const stats = await destination.query<{ n: string }>(
      `select coalesce(sum(apply_error_count + sync_error_count), 0) as n from pg_stat_subscription_stats
        where subid = $1`,
      [sub.oid],
    );
    errors = Number(stats.rows[0]?.n ?? 0);
  }
  return {
    publication,
    subscription: Boolean(sub),
    enabled: sub?.enabled ?? false,
    lagBytes: slot?.lag === null || slot === undefined ? null : Number(slot.lag),
    tables,
    insertOnly,
    errors,
    ready: Boolean(sub?.enabled) && tables.length > 0 && tables.every((t) => t.state === "ready"),
  };
}

export function statusLogical(opts: LogicalOptions): Promise<LogicalStatus> {
  return ridingOut(opts, "status", () =>
    withBoth(opts, (source, destination) => readStatus(source, destination, opts)),
  );
}

/**
 * Runs a step again on new connections when either server restarts under it, with a bounded, announced
 * backoff (`giveUpMs`). Only steps that are safe to repeat go through here: status, the wait for the
 * copy, and stop (which takes a new marker, never older than the last, and finds what is already done).
 */
async function ridingOut<T>(opts: LogicalOptions, step: string, run: () => Promise<T>): Promise<T> {
  const say = opts.say ?? ((line: string) => process.stderr.write(line + "\n"));
  for (;;) {
    try {
      return await run();
    } catch (error) {
      if (!isConnectionLoss(error)) throw error;
      try {
        await reconnectWithBackoff(
          "the source and the destination",
          (error as Error).message,
          () => withBoth(opts, async () => undefined),
          {
            giveUpMs: opts.giveUpMs ?? 120_000,
            say: (line) => say(`replication ${step}: ${line}; the step starts again from what is committed`),
          },
        );
      } catch (failure) {
        if (failure instanceof UsageError)
          throw new ReplicationError(failure.message, failure.hint, true, error);
        throw failure;
      }
    }
  }
}

/** Waits until every table is copied and streaming (the end of the initial copy). */
export async function waitReady(
  opts: LogicalOptions,
  { timeoutMs = 600_000, pollMs = 500 } = {},
): Promise<LogicalStatus> {
  const started = Date.now();
  for (;;) {
    const status = await statusLogical(opts);
    if (status.ready) return status;
    if (Date.now() - started > timeoutMs) {
      const pending = status.tables.filter((t) => t.state !== "ready");
      throw new ReplicationError(
        `the initial copy is not done after ${Math.round(timeoutMs / 1000)} s: ${pending.length} table(s) not streaming (${pending
          .slice(0, 5)
          .map((t) => `${t.table} ${t.state}`)
          .join(", ")})`,
        "look at the destination's log for copy errors; status shows the progress",
      );
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/**
 * The promotion of the logical path. Refuses while a table is still copying (its rows would be lost);
 * waits until the slot confirms the marker, then moves the sequences and drops the replication. With the
 * replication already gone (a re-run after success), it does nothing and says so.
 */
export async function stopLogical(
  opts: LogicalOptions,
  { catchUpTimeoutMs = 120_000, pollMs = 100 } = {},
): Promise<StopResult> {
  const n = names(opts);
  return ridingOut(opts, "stop", () =>
    withBoth(opts, async (source, destination) => {
      const status = await readStatus(source, destination, opts);
      if (!status.subscription) {
        if (status.publication) await dropPublications(source, n);
        return { marker: "", waitedMs: 0, sequences: 0, stopped: false };
      }
      const pending = status.tables.filter((t) => t.state !== "ready");
      if (pending.length > 0)
        throw new ReplicationError(
          `refusing to stop replication: ${pending.length} table(s) have not finished their initial copy (${pending
            .slice(0, 5)
            .map((t) => `${t.table} ${t.state}`)
            .join(", ")})`,
          "wait until status says every table is ready, then promote again",
        );
      const marker = (await source.query<{ lsn: string }>("select pg_current_wal_lsn()::text as lsn")).rows[0]
        .lsn;
      const started = Date.now();
      for (;;) {
        const { rows } = await source.query<{ done: boolean | null }>(
          "select confirmed_flush_lsn >= $2::pg_lsn as done from pg_replication_slots where slot_name = $1",
          [n.subscription, marker],
        );
        if (rows[0]?.done) break;
        if (Date.now() - started > catchUpTimeoutMs)
          throw new ReplicationError(
            `replication has not confirmed the source's position ${marker} after ${Math.round(catchUpTimeoutMs / 1000)} s; nothing was stopped`,
            "check that writes are frozen (a source that keeps writing never lets the marker be reached) and the subscription's errors",
          );
        await new Promise((r) => setTimeout(r, pollMs));
      }
      const waitedMs = Date.now() - started;
      const sequences = await copySequences(source, destination, opts.schemas ?? ["public"]);
      // DROP SUBSCRIPTION drops its slot on the source too.
      await destination.query(`drop subscription ${ident(n.subscription)}`);
      await dropPublications(source, n);
      return { marker, waitedMs, sequences, stopped: true };
    }),
  );
}

async function dropPublications(source: Client, n: ReturnType<typeof names>): Promise<void> {
  await source.query(`drop publication if exists ${ident(n.publication)}, ${ident(n.insertOnly)}`);
}

/** Each sequence of the published schemas takes the source's position (logical replication skips them). */
async function copySequences(
  source: Client,
  destination: Client,
  schemas: readonly string[],
): Promise<number> {
  const { rows } = await source.query<{ name: string; last: string | null; called: boolean }>(
    `select format('%I.%I', schemaname, sequencename) as name, last_value::text as last,
            last_value is not null as called
       from pg_sequences where schemaname = any($1)`,
    [schemas],
  );
  let moved = 0;
  for (const r of rows) {
    if (r.last === null) continue; // never used on the source: the destination's start is right
    await destination.query("select setval($1::regclass, $2::bigint, true)", [r.name, r.last]);
    moved += 1;
  }
  return moved;
}
