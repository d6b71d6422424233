/**
 * `capture run`: rounds of the applier until the log is drained (or Ctrl-C with --follow), through one
 * session of connections that is reopened with backoff when a database restarts.
 */
import type { Client } from "pg";
import { positionOf } from "../../infra/engine/plan";
import { DUAL_WRITE_PHASE_TABLE } from "../../infra/engine/dual-write-phases";
import type { DualWritePhase } from "../../infra/config/dual-write";
import type { DualWriteMigration } from "../../infra/config/schema";
import { boundsOf, type ConnectionFlags } from "../lib/bounds";
import { UsageError } from "../lib/errors";
import { connectSource } from "../backfill/source";
import { databaseUrl, pgTableSpec } from "../backfill/plan";
import { resolveTarget, type TargetOptions } from "../backfill/target-options";
import { openLocalTarget, openRemoteTarget, type D1Target } from "../backfill/targets";
import { planTable } from "../backfill/run";
import { planPgTable } from "../backfill/pg-target";
import { capturedTables, captureTables } from "./install";
import { applyRound, backlog, type CaptureSink, type RoundResult } from "./applier";
import { isConnectionLoss, reconnectWithBackoff, watchLoss } from "../lib/reconnect";

export interface Flags extends TargetOptions, ConnectionFlags {
  readonly source?: string;
  readonly target?: string;
  readonly follow?: boolean;
  readonly batch: number;
  /** Seconds after which each applied change is applied again (0: never). */
  readonly recheck?: number;
  /** Seconds to pause when the log is empty. */
  readonly interval: number;
  readonly dropLog?: boolean;
  readonly json?: boolean;
  readonly store?: string;
  readonly evidence?: boolean;
  readonly over: number;
  readonly giveUpAfter: number;
}

/** How long a table whose changes failed waits before the applier tries it again. */
const RETRY_MS = 5000;

/** The migration with only the tables of one store (--store), for status and run. */
export function ofStore(spec: DualWriteMigration, store: string | undefined): DualWriteMigration {
  if (store === undefined) return spec;
  if (store !== "d1" && store !== "supabase")
    throw new UsageError(`--store ${store} is not a store; hint: d1 or supabase`);
  return { ...spec, tables: spec.tables.filter((t) => t.store === store) };
}

/** The sink of every table: the new schema's plan (mapping) or the D1 table's. */
async function openSinks(
  spec: DualWriteMigration,
  legacy: Client,
  opts: Flags,
  closers: (() => Promise<void>)[],
  probes: (() => string | undefined)[] = [],
): Promise<Map<string, CaptureSink>> {
  const sinks = new Map<string, CaptureSink>();
  const pgTables = spec.tables.filter((t) => t.store === "supabase");
  if (pgTables.length) {
    const target = await connectSource(databaseUrl("target", opts.target, spec), boundsOf(opts, "target"));
    probes.push(watchLoss(target));
    closers.push(() => target.end());
    for (const t of pgTables) {
      const plan = await planPgTable(legacy, target, pgTableSpec(spec, t));
      sinks.set(t.name, { store: "supabase", plan, client: target });
    }
  }
  const d1Tables = spec.tables.filter((t) => t.store === "d1");
  if (d1Tables.length) {
    if (!opts.local && !opts.remote)
      throw new UsageError(
        "the migration has D1 tables: choose --local or --remote for them; hint: the applier writes every table's changes to its own store",
      );
    const resolved = await resolveTarget(opts, process.env, "data capture");
    const opened = new Map<string, D1Target>();
    for (const db of resolved.databases) {
      const d1 = resolved.local
        ? await openLocalTarget(db, resolved.persistTo)
        : openRemoteTarget(resolved.client!, resolved.accountId!, db);
      opened.set(db.name, d1);
      closers.push(() => d1.close());
    }
    for (const t of d1Tables) {
      const target = opened.get(t.d1Database!)!;
      const query = await planTable(legacy, target, {
        name: t.name,
        schema: spec.legacy.schema,
        primaryKey: t.primaryKey,
        updatedAtColumn: t.updatedAtColumn,
      });
      sinks.set(t.name, { store: "d1", query, target });
    }
  }
  return sinks;
}

const percentile = (sorted: number[], p: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : null;

/** The legacy connection and the sinks a run writes through, with what tells that one was lost. */
interface Session {
  readonly legacy: Client;
  readonly sinks: Map<string, CaptureSink>;
  readonly closers: (() => Promise<void>)[];
  /** Why a connection of the session is gone, or undefined while all are usable. */
  readonly lost: () => string | undefined;
}

async function openSession(
  spec: DualWriteMigration,
  opts: Flags,
  legacy: Client,
  legacyLost: () => string | undefined,
): Promise<Session> {
  const closers: (() => Promise<void>)[] = [];
  const probes = [legacyLost];
  try {
    const sinks = await openSinks(spec, legacy, opts, closers, probes);
    return { legacy, sinks, closers, lost: () => probes.map((p) => p()).find(Boolean) };
  } catch (error) {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    throw error;
  }
}

async function closeSession(s: Session): Promise<void> {
  for (const close of [...s.closers].reverse()) await close().catch(() => undefined);
  await s.legacy.end().catch(() => undefined);
}

export async function run(
  spec: DualWriteMigration,
  first: { client: Client; lost: () => string | undefined },
  connectLegacy: () => Promise<{ client: Client; lost: () => string | undefined }>,
  opts: Flags,
): Promise<number> {
  const installed = await capturedTables(first.client, captureTables(spec));
  const missing = spec.tables.filter((t) => !installed.has(t.name)).map((t) => t.name);
  if (missing.length)
    throw new UsageError(
      `change capture is not installed on ${missing.join(", ")}; hint: cutover data capture install --stack <stack> --migration <name> (at shadow, before the first backfill)`,
    );
  // The phase table says whether the final cut has happened: from then on the new stores are the truth
  // for rows they changed after a change still in the log (capture/after-cut.ts).
  const afterCut = DUAL_WRITE_PHASE_TABLE[positionOf(spec).phase as DualWritePhase].cut;
  if (afterCut)
    process.stderr.write(
      "capture: after the final cut: a row the new store changed after its legacy change is kept as it is\n",
    );
  let stopping = false;
  const stop = () => {
    stopping = true;
  };
  process.once("SIGINT", stop).once("SIGTERM", stop);
  const say = (line: string) => (opts.json ? process.stderr : process.stdout).write(line + "\n");
  const started = Date.now();
  const totals = { changes: 0, upserts: 0, deletes: 0, kept: 0, rounds: 0, reconnects: 0 };
  const latencies: number[] = [];
  let lastReport = 0;
  // A table whose changes failed sits out the next rounds for RETRY_MS, then is tried again; its last
  // failure is what the report names.
  const failing = new Map<string, { at: number; failure: RoundResult["failed"][number] }>();
  const reconnect = (reason: string) =>
    reconnectWithBackoff(
      "the legacy database and the new stores",
      reason,
      async () => {
        const legacy = await connectLegacy();
        try {
          return await openSession(spec, opts, legacy.client, legacy.lost);
        } catch (e) {
          await legacy.client.end().catch(() => undefined);
          throw e;
        }
      },
      {
        giveUpMs: opts.giveUpAfter * 1000,
        say: (line) => process.stderr.write(`capture: ${line}\n`),
        stopping: () => stopping,
      },
    );
  let session: Session | undefined;
  try {
    session = await openSession(spec, opts, first.client, first.lost);
  } catch (error) {
    // A long-running applier waits for a store that is restarting as it starts.
    await first.client.end().catch(() => undefined);
    if (!opts.follow || !isConnectionLoss(error)) throw error;
    session = await reconnect((error as Error).message);
    if (session === undefined) return 0;
  }
  try {
    for (;;) {
      try {
        const { legacy, sinks } = session;
        const now = Date.now();
        const resting = new Set([...failing].filter(([, f]) => now - f.at < RETRY_MS).map(([t]) => t));
        const r = await applyRound(legacy, sinks, opts.batch, {
          skip: resting,
          afterCut,
          recheckSeconds: opts.recheck ?? 0,
        });
        // A round whose target went away reports its tables as failed: that is a lost connection,
        // handled below, not a change the new store refuses.
        const gone = session.lost();
        if (gone) throw Object.assign(new Error(gone), { code: "08006" });
        for (const t of sinks.keys()) if (!resting.has(t)) failing.delete(t);
        for (const f of r.failed) failing.set(f.table, { at: Date.now(), failure: f });
        for (const f of r.failed)
          process.stderr.write(
            `capture: ${f.pending} change(s) of ${f.table} could not be applied and stay in the log: ${f.error}\n`,
          );
        totals.changes += r.changes;
        totals.upserts += r.upserts;
        totals.deletes += r.deletes;
        totals.kept += r.kept;
        totals.rounds += 1;
        latencies.push(...r.latenciesMs);
        const idle = r.changes === 0;
        if (Date.now() - lastReport > 5000 || (idle && !opts.follow)) {
          lastReport = Date.now();
          const b = await backlog(legacy);
          say(
            `capture: ${totals.changes} changes applied (${totals.upserts} upserts, ${totals.deletes} deletes${afterCut ? `; ${totals.kept} rows kept: the new store changed them after the cut` : ""}); ${b.pending} pending, lag ${b.lagSeconds.toFixed(1)} s` +
              (r.busy.length ? `; waiting for the backfill of ${r.busy.join(", ")}` : ""),
          );
        }
        if (
          stopping ||
          // Without --follow: stop once nothing moves, a failing table having had its retry.
          (idle && !opts.follow && r.busy.length === 0 && (resting.size === 0 || r.failed.length > 0))
        )
          break;
        if (idle || r.busy.length || r.failed.length)
          await new Promise((res) => setTimeout(res, opts.interval * 1000));
      } catch (error) {
        if (!isConnectionLoss(error) && session.lost() === undefined) throw error;
        // A restart of either database: drop this session, reconnect with backoff, resume from the
        // log. A change leaves the log only in the round that applied it, so none is lost or skipped.
        const reason: string = session.lost() ?? (error as Error).message;
        await closeSession(session);
        session = undefined;
        totals.reconnects += 1;
        session = await reconnect(reason);
        if (session === undefined) break;
      }
    }
  } finally {
    process.off("SIGINT", stop).off("SIGTERM", stop);
    if (session) for (const close of [...session.closers].reverse()) await close().catch(() => undefined);
  }
  const legacy = session?.legacy ?? (await connectLegacy()).client;
  const seconds = (Date.now() - started) / 1000;
  const after = await backlog(legacy);
  latencies.sort((a, b) => a - b);
  const report = {
    ...totals,
    seconds: Number(seconds.toFixed(3)),
    changesPerSecond: Math.round(totals.changes / seconds),
    applyLatencyMs: {
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      max: latencies.at(-1) ?? null,
    },
    pending: after.pending,
    lagSeconds: Number(after.lagSeconds.toFixed(3)),
    failed: [...failing.values()].map((f) => f.failure),
  };
  if (opts.json) process.stdout.write(JSON.stringify(report, null, 2) + "\n");
  if (report.failed.length)
    process.stderr.write(
      `capture: stopped with ${report.failed.reduce((n, f) => n + f.pending, 0)} change(s) of ${report.failed.map((f) => f.table).join(", ")} left in the log; hint: fix the cause above and run again (nothing was dropped)\n`,
    );
  await legacy.end().catch(() => undefined);
  return report.failed.length ? 1 : 0;
}
