/**
 * The change capture's applier as a Worker (runbook 2, "backfill + change capture" until the final cut):
 * on each cron trigger it runs the applier's rounds (ops/capture/applier.ts, the same code as `cutover
 * data capture run`) for `budgetSeconds`, reading the capture log and the legacy rows through Hyperdrive
 * (LEGACY_DB), writing the new schema through Hyperdrive (TARGET_DB) and D1 through its bindings, then
 * writes a summary — applied, kept, failed tables, capture-to-apply latency, the lag left — to KV
 * (RESULTS, `cutover:<migration>:capture`) and one line to Workers Logs. A failing table stays in the log
 * and is named in the summary; the next run tries it again.
 */
import type { Client } from "pg";
import { pgTableSpec } from "../../ops/backfill/plan";
import { planPgTable } from "../../ops/backfill/pg-target";
import { planTable } from "../../ops/backfill/run";
import { connectSource } from "../../ops/backfill/source";
import type { Statement } from "../../ops/backfill/statements";
import type { D1Target } from "../../ops/backfill/targets";
import { applyRound, backlog, type CaptureSink } from "../../ops/capture/applier";
import {
  captureSummaryKey,
  parseCaptureSpec,
  type CaptureSummary,
  type CaptureWorkerSpec,
} from "../../ops/capture/worker-spec";

// Minimal shapes of the bindings used (keeps the Worker free of type packages).
interface D1Prepared {
  bind(...values: unknown[]): D1Prepared;
  all(): Promise<{ results: Record<string, unknown>[] }>;
}
interface D1Binding {
  prepare(sql: string): D1Prepared;
  batch(statements: D1Prepared[]): Promise<unknown>;
}
interface Hyperdrive {
  readonly connectionString: string;
}
interface KV {
  put(key: string, value: string): Promise<void>;
}
export interface Env {
  readonly LEGACY_DB: Hyperdrive;
  readonly TARGET_DB?: Hyperdrive;
  readonly RESULTS: KV;
  readonly CAPTURE_SPEC: string;
  readonly [binding: string]: unknown;
}
interface ScheduledController {
  readonly cron: string;
  readonly scheduledTime: number;
}

const BOUNDS = { connectTimeoutMs: 10_000, queryTimeoutMs: 30_000 };
/** The pause after a round that found nothing to apply. */
const IDLE_MS = 500;

/** A D1 database through the Worker's binding, as the applier writes it. */
function d1Target(binding: D1Binding, name: string): D1Target {
  const prepare = (s: Statement) => binding.prepare(s.sql).bind(...s.params);
  return {
    description: `D1 ${name}`,
    async batch(statements) {
      if (statements.length) await binding.batch(statements.map(prepare));
    },
    all: async (sql, params = []) => (await prepare({ sql, params }).all()).results,
    close: async () => undefined,
  };
}

async function sinksOf(s: CaptureWorkerSpec, env: Env, legacy: Client, target: Client | undefined) {
  const sinks = new Map<string, CaptureSink>();
  for (const t of s.spec.tables) {
    if (t.store === "supabase") {
      if (!target) throw new Error("no TARGET_DB Hyperdrive binding for the new schema's tables");
      sinks.set(t.name, {
        store: "supabase",
        plan: await planPgTable(legacy, target, pgTableSpec(s.spec, t)),
        client: target,
      });
    } else {
      const db = s.spec.d1.find((d) => d.name === t.d1Database);
      const binding = db ? (env[db.binding] as D1Binding | undefined) : undefined;
      if (!db || !binding) throw new Error(`no D1 binding for ${t.name} (database ${t.d1Database})`);
      const d1 = d1Target(binding, db.name);
      const query = await planTable(legacy, d1, {
        name: t.name,
        schema: s.spec.legacy.schema,
        primaryKey: t.primaryKey,
        updatedAtColumn: t.updatedAtColumn,
      });
      sinks.set(t.name, { store: "d1", query, target: d1 });
    }
  }
  return sinks;
}

const pct = (sorted: number[], p: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : null;

/** One run: rounds for the budget (or `budgetMs`), then what is left. */
export async function applyForBudget(env: Env, now = new Date(), budgetMs?: number): Promise<CaptureSummary> {
  const s = parseCaptureSpec(env.CAPTURE_SPEC);
  const started = Date.now();
  const until = started + (budgetMs ?? s.budgetSeconds * 1000);
  const legacy = await connectSource(env.LEGACY_DB.connectionString, { ...BOUNDS, side: "legacy" });
  const needsTarget = s.spec.tables.some((t) => t.store === "supabase");
  let target: Client | undefined;
  try {
    if (needsTarget && env.TARGET_DB)
      target = await connectSource(env.TARGET_DB.connectionString, { ...BOUNDS, side: "target" });
    const sinks = await sinksOf(s, env, legacy, target);
    let rounds = 0;
    let applied = 0;
    let kept = 0;
    const latencies: number[] = [];
    const failed = new Map<string, string>();
    while (Date.now() < until) {
      // A table that failed waits for the next run; the others go on.
      const r = await applyRound(legacy, sinks, s.batch, {
        afterCut: s.afterCut,
        skip: new Set(failed.keys()),
        recheckSeconds: s.recheckSeconds ?? 0,
      });
      rounds++;
      applied += r.changes;
      kept += r.kept;
      latencies.push(...r.latenciesMs);
      for (const f of r.failed) failed.set(f.table, f.error);
      if (r.changes + r.rechecked === 0)
        await new Promise((res) => setTimeout(res, Math.min(IDLE_MS, until - Date.now())));
    }
    const left = await backlog(legacy);
    latencies.sort((a, b) => a - b);
    return {
      stack: s.stack,
      migration: s.migration,
      at: now.toISOString(),
      afterCut: s.afterCut,
      durationMs: Date.now() - started,
      rounds,
      applied,
      kept,
      failed: [...failed].map(([table, error]) => ({ table, error })),
      latencyMs: { p50: pct(latencies, 50), p99: pct(latencies, 99), max: latencies.at(-1) ?? null },
      lagSeconds: left.lagSeconds,
      pending: left.pending,
      rechecks: left.rechecks,
    };
  } finally {
    await legacy.end().catch(() => undefined);
    await target?.end().catch(() => undefined);
  }
}

export default {
  async scheduled(controller: ScheduledController, env: Env): Promise<void> {
    const summary = await applyForBudget(env, new Date(controller.scheduledTime));
    await env.RESULTS.put(captureSummaryKey(summary.migration), JSON.stringify(summary));
    console.log(
      `capture ${summary.migration}: ${summary.applied} applied in ${summary.rounds} rounds, lag ${summary.lagSeconds.toFixed(1)} s, ${summary.pending} pending${summary.failed.length ? `, FAILED: ${summary.failed.map((f) => f.table).join(", ")}` : ""}`,
    );
  },
  // No HTTP surface: the summary is read from KV.
  async fetch(): Promise<Response> {
    return new Response("not found\n", { status: 404 });
  },
};
