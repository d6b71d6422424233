/**
 * The gate checks of runbook 2 as the rehearsal runs them, one runner per check the phase table can
 * declare: the phase row names the gates, this registry only says how each is produced on the stand-in
 * (with the project's own validate, capture status and comparison Worker). A gate declared by a row
 * and missing here stops the rehearsal with its name, instead of being skipped.
 */
import type { Client } from "pg";
import type { DualWriteMigration } from "../../../infra/config/schema";
import type { GateCheck } from "../../../infra/engine/phase-row";
import { backlog } from "../../capture/applier";
import { CAPTURE_SCHEMA } from "../../capture/install";
import { formatKey } from "../../validate/keys";
import { summaryProblem } from "../../compare/results";
import type { CompareSummary } from "../../compare/spec";
import { PgConnection } from "../../validate/postgres";
import { compareTable, mappingOf, STORE_SEARCH, type TableReport } from "../../validate/run";
import { d1Database, postgresDatabase } from "../../validate/sides";
import type { D1Executor } from "../../validate/d1";
import { runDeclaredGates, type GateRunners } from "../declared-gates";

export interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
  /** What validate found, for a gate that ran it. */
  readonly divergence?: readonly Divergence[];
}

/** Rows differing between legacy and each table's new store, as validate finds them. */
export interface Divergence {
  readonly table: string;
  readonly store: "d1" | "supabase";
  readonly missing: number;
  readonly changed: number;
  readonly extra: number;
  /** Keys still differing when checked again (a write in flight differs once, not twice). */
  readonly persistent: number;
  /** A few of them, to look at. */
  readonly keys: readonly string[];
}

/** What a gate runner may use. */
export interface GateContext {
  readonly migration: string;
  readonly spec: DualWriteMigration;
  readonly legacyUrl: string;
  readonly targetUrl: string;
  readonly legacy: Client;
  readonly d1: (name: string) => D1Executor;
  readonly compareOnce: () => Promise<CompareSummary | null>;
}

const TIMEOUTS = { connectMs: 10_000, statementMs: 120_000 };
const MAX_DIFFERENCES = 100_000;
/** How long a difference must last to count: a write between the two stores takes milliseconds. */
const RECHECK_MS = 2000;

/** Every table compared once with validate's full comparison (checksums and bisection). */
async function compareAll(c: GateContext): Promise<Map<string, TableReport>> {
  const legacy = postgresDatabase(
    await PgConnection.open(c.legacyUrl, "legacy", TIMEOUTS),
    "legacy",
    c.spec.legacy.schema,
  );
  let target: ReturnType<typeof postgresDatabase> | undefined;
  const reports = new Map<string, TableReport>();
  try {
    for (const t of c.spec.tables) {
      const store =
        t.store === "d1"
          ? d1Database(c.d1(t.d1Database!), t.d1Database!)
          : (target ??= postgresDatabase(
              await PgConnection.open(c.targetUrl, "target", TIMEOUTS),
              "target",
              c.spec.target.schema,
            ));
      reports.set(
        t.name,
        await compareTable(t.name, legacy, store, {
          maxDifferences: MAX_DIFFERENCES,
          ...STORE_SEARCH,
          mapping: mappingOf(t),
        }),
      );
    }
  } finally {
    await legacy.close().catch(() => undefined);
    await target?.close().catch(() => undefined);
  }
  return reports;
}

const keysOf = (r: TableReport) =>
  new Set([...r.differences.missing, ...r.differences.changed, ...r.differences.extra]);

/** Keys (`table:id=7`) with a change in the capture's log not applied yet: the capture carries them. */
async function pendingKeys(c: GateContext): Promise<Set<string>> {
  const { rows } = await c.legacy.query<{ table_name: string; key: string[] }>(
    `SELECT DISTINCT table_name, key FROM ${CAPTURE_SCHEMA}.changes`,
  );
  const keyOf = new Map(c.spec.tables.map((t) => [t.name, t.primaryKey]));
  return new Set(
    rows
      .filter((r) => keyOf.has(r.table_name))
      .map((r) => `${r.table_name}:${formatKey(keyOf.get(r.table_name)!, r.key)}`),
  );
}

/**
 * The project's validate on every table, twice when the first run finds differences: a key that differs
 * in both runs, {@link RECHECK_MS} apart, and has no change waiting in the capture's log, is a divergence;
 * one that differs once was a write in flight, one with a waiting change is the capture's to carry.
 * `allowed` keys (written after the final cut, when legacy is no longer the truth) are not counted.
 */
export async function divergence(
  c: GateContext,
  allowed: (table: string, key: string) => boolean = () => false,
): Promise<Divergence[]> {
  const first = await compareAll(c);
  const counted = (r: TableReport) => [...keysOf(r)].filter((k) => !allowed(r.table, k));
  const again = [...first.values()].some((r) => counted(r).length > 0)
    ? await new Promise((r) => setTimeout(r, RECHECK_MS)).then(() => compareAll(c))
    : first;
  const carried = again === first ? new Set<string>() : await pendingKeys(c);
  return c.spec.tables.map((t) => {
    const r = first.get(t.name)!;
    // Still differing, and not a change the capture has yet to apply (its lag is the capture gate's).
    const later = new Set(counted(again.get(t.name)!).filter((k) => !carried.has(`${t.name}:${k}`)));
    const only = (keys: string[]) => keys.filter((k) => !allowed(t.name, k)).length;
    const persistent = counted(r).filter((k) => later.has(k));
    return {
      table: t.name,
      store: t.store,
      missing: only(r.differences.missing),
      changed: only(r.differences.changed),
      extra: only(r.differences.extra),
      persistent: persistent.length,
      keys: persistent.slice(0, 5),
    };
  });
}

export const describeDivergence = (d: readonly Divergence[]) => {
  const off = d.filter((x) => x.persistent > 0);
  return off.length
    ? off.map((x) => `${x.table} (${x.store}): ${x.persistent} keys differ (${x.keys.join(", ")})`).join(", ")
    : `${d.length} tables equal (${d.reduce((n, x) => n + x.missing + x.changed + x.extra, 0)} keys in flight)`;
};

/** How the rehearsal produces each gate check; the phase rows decide which run where. */
export const GATE_RUNNERS: GateRunners<GateContext, Check> = {
  async validate(c) {
    const d = await divergence(c);
    return {
      name: "validate",
      ok: d.every((x) => x.persistent === 0),
      detail: describeDivergence(d),
      divergence: d,
    };
  },
  async capture(c) {
    // As `check capture --evidence` judges it: the highest lag over a few seconds, within the bound.
    let max = 0;
    let pending = 0;
    for (let i = 0; i < 3; i++) {
      if (i) await new Promise((r) => setTimeout(r, 1000));
      const b = await backlog(c.legacy);
      max = Math.max(max, b.lagSeconds);
      pending = b.pending;
    }
    const bound = c.spec.captureMaxLagSeconds;
    return {
      name: "capture",
      ok: max <= bound,
      detail: `lag ${max.toFixed(1)} s (bound ${bound} s), ${pending} pending`,
    };
  },
  async compare(c) {
    const summary = await c.compareOnce();
    const problem = summaryProblem(summary, c.migration, c.spec.compare.maxAgeMinutes, new Date());
    return {
      name: "compare",
      ok: problem === undefined,
      detail:
        problem ?? `${summary!.sampled} sampled keys equal (comparison Worker, ${summary!.durationMs} ms)`,
    };
  },
};

/** The gates `phase` declares, each run by its runner; a gate with no runner is an error, not a pass. */
export const runGates = (phase: string, gates: readonly GateCheck[] | undefined, c: GateContext) =>
  runDeclaredGates(phase, gates, GATE_RUNNERS, c, "ops/rehearse/dual-write/gates.ts");
