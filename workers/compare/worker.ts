/**
 * The comparison Worker of runbook 2 ("a background Worker compares random records between both
 * databases"). On each cron trigger it takes `sample` random keys per table of the migration from the
 * legacy PostgreSQL, reads the same keys from the new store — D1 through its binding, the new Supabase
 * schema through Hyperdrive, the path Workers use to reach PostgreSQL — and compares them with
 * `validate`'s own sampled comparison (same normalisation of values, same column mapping), then writes
 * a summary (sampled, equal, differing keys) to KV, where `cutover check compare status` and the gate
 * evidence read it. Bindings: LEGACY_DB and TARGET_DB (Hyperdrive), RESULTS (KV), one D1 binding per
 * database of the spec, COMPARE_SPEC (JSON, rendered from the stack).
 */
import { compareTable, mappingOf, STORE_SEARCH, type TableReport } from "../../ops/validate/run";
import type { Database } from "../../ops/validate/database";
import type { D1Executor } from "../../ops/validate/d1";
import type { SqliteValue } from "../../ops/validate/normalize";
import { PgConnection } from "../../ops/validate/postgres";
import { d1Database, postgresDatabase } from "../../ops/validate/sides";
import {
  parseCompareSpec,
  summaryKey,
  type CompareSpec,
  type CompareSummary,
  type TableSummary,
} from "../../ops/compare/spec";

// Minimal shapes of the bindings used (keeps the Worker free of type packages).
interface D1Binding {
  prepare(sql: string): {
    bind(...values: unknown[]): { all(): Promise<{ results: Record<string, SqliteValue>[] }> };
  };
}
interface Hyperdrive {
  readonly connectionString: string;
}
interface KV {
  put(key: string, value: string): Promise<void>;
}
interface Env {
  readonly LEGACY_DB: Hyperdrive;
  readonly TARGET_DB?: Hyperdrive;
  readonly RESULTS: KV;
  readonly COMPARE_SPEC: string;
  readonly [binding: string]: unknown;
}
interface ScheduledController {
  readonly cron: string;
  readonly scheduledTime: number;
}

/** Keys listed per kind of difference in the summary. */
const KEYS_KEPT = 20;
const TIMEOUTS = { connectMs: 10_000, statementMs: 20_000 };
/**
 * Both stores are written live while this runs (dual writes, the change capture): a key read between a
 * write's two halves differs for a moment. Differing keys are read again this much later, and only those
 * that still differ count; the others are reported as in flight.
 */
const RECHECK_MS = 2000;

/** D1 through the Worker's binding, as validate's D1 side reads it. */
function d1Executor(binding: D1Binding, label: string): D1Executor {
  return {
    label,
    query: async (sql, params) =>
      (
        await binding
          .prepare(sql)
          .bind(...params)
          .all()
      ).results,
    close: async () => undefined,
  };
}

function tableSummary(t: CompareSpec["tables"][number], r: TableReport): TableSummary {
  const differing = r.totals.missing + r.totals.changed + r.totals.extra;
  const sampled = r.sampled ?? 0;
  const problem = r.method === "none" || r.method === "table-checksum" ? r.notes.join("; ") : undefined;
  return {
    table: t.name,
    store: t.store,
    sampled,
    equal: Math.max(0, sampled - differing),
    ...(r.inFlight ? { inFlight: r.inFlight } : {}),
    missing: r.differences.missing.slice(0, KEYS_KEPT),
    changed: r.differences.changed.slice(0, KEYS_KEPT),
    differing,
    ...(problem ? { error: problem } : {}),
  };
}

/** One run: every table of the spec, each compared on its own (one failing table does not stop the rest). */
export async function compareOnce(env: Env, cron: string, now = new Date()): Promise<CompareSummary> {
  const spec = parseCompareSpec(env.COMPARE_SPEC);
  const started = Date.now();
  const opened: Database[] = [];
  const open = async (which: "legacy" | "target"): Promise<Database> => {
    const hd = which === "legacy" ? env.LEGACY_DB : env.TARGET_DB;
    if (!hd) throw new Error(`no ${which === "legacy" ? "LEGACY_DB" : "TARGET_DB"} Hyperdrive binding`);
    const schema = which === "legacy" ? spec.legacySchema : spec.targetSchema;
    const db = postgresDatabase(await PgConnection.open(hd.connectionString, which, TIMEOUTS), which, schema);
    opened.push(db);
    return db;
  };
  const tables: TableSummary[] = [];
  try {
    let legacy: Database | undefined;
    let target: Database | undefined;
    for (const t of spec.tables) {
      try {
        legacy ??= await open("legacy");
        let store: Database;
        if (t.store === "d1") {
          const binding = t.d1Binding === undefined ? undefined : (env[t.d1Binding] as D1Binding | undefined);
          if (!binding) throw new Error(`no D1 binding ${t.d1Binding ?? "(none named)"} for ${t.name}`);
          store = d1Database(d1Executor(binding, t.d1Binding!), t.d1Binding!);
        } else {
          target ??= await open("target");
          store = target;
        }
        const report = await compareTable(t.name, legacy, store, {
          sample: spec.sample,
          recheckMs: RECHECK_MS,
          maxDifferences: KEYS_KEPT,
          ...STORE_SEARCH,
          mapping: mappingOf(t),
        });
        tables.push(tableSummary(t, report));
      } catch (error) {
        tables.push({
          table: t.name,
          store: t.store,
          sampled: 0,
          equal: 0,
          missing: [],
          changed: [],
          differing: 0,
          error: error instanceof Error ? error.message : String(error),
        });
      }
    }
  } finally {
    for (const db of opened) await db.close().catch(() => undefined);
  }
  const sum = (f: (t: TableSummary) => number) => tables.reduce((n, t) => n + f(t), 0);
  return {
    stack: spec.stack,
    migration: spec.migration,
    at: now.toISOString(),
    cron,
    durationMs: Date.now() - started,
    sampled: sum((t) => t.sampled),
    equal: sum((t) => t.equal),
    differing: sum((t) => t.differing),
    identical: tables.every((t) => t.differing === 0 && t.error === undefined),
    tables,
  };
}

export default {
  async scheduled(controller: ScheduledController, env: Env): Promise<void> {
    const summary = await compareOnce(env, controller.cron, new Date(controller.scheduledTime));
    await env.RESULTS.put(summaryKey(summary.migration), JSON.stringify(summary));
    // Workers Logs keep one line per run; the keys stay in KV.
    console.log(
      `compare ${summary.migration}: ${summary.sampled} sampled, ${summary.equal} equal, ${summary.differing} differing${summary.identical ? "" : " (NOT identical)"} in ${summary.durationMs} ms`,
    );
  },
  // No HTTP surface: the summary is read from KV, never through a public route.
  async fetch(): Promise<Response> {
    return new Response("not found\n", { status: 404 });
  },
};
