/**
 * `capture status`: pending changes per table, the lag and what was applied; with `evidence`, the lag is
 * read once a second for `over` seconds and the verdict (installed on every table, highest lag within
 * captureMaxLagSeconds) is the evidence `dual-write → read-switch` needs.
 */
import type { Client } from "pg";
import { setTimeout as sleep } from "node:timers/promises";
import { positionOf } from "../../infra/engine/plan";
import { positionLabel } from "../../infra/engine/transitions";
import type { DualWriteMigration } from "../../infra/config/schema";
import { recordEvidence } from "../../infra/evidence";
import { pgFingerprint } from "../lib/fingerprint";
import { capturedTables, captureTables } from "./install";
import { backlog } from "./applier";

export interface StatusOptions {
  readonly json: boolean;
  /** Write the verdict as gate evidence (stack and migration named), reading the lag for `over` seconds. */
  readonly evidence?: { readonly stack: string; readonly migration: string; readonly over: number };
}

export async function status(spec: DualWriteMigration, legacy: Client, opts: StatusOptions): Promise<number> {
  const installed = await capturedTables(legacy, captureTables(spec));
  const hasLog = (await legacy.query("SELECT to_regclass('cutover_capture.changes') IS NOT NULL AS ok"))
    .rows[0].ok;
  const read = async () =>
    hasLog
      ? await backlog(legacy)
      : { pending: 0, rechecks: 0, lagSeconds: 0, perTable: {} as Record<string, number> };
  // The highest lag seen over the window is what the gate judges: one lucky reading is not evidence.
  let b = await read();
  let maxLag = b.lagSeconds;
  for (let s = 0; s < (opts.evidence?.over ?? 0); s++) {
    await sleep(1000);
    b = await read();
    maxLag = Math.max(maxLag, b.lagSeconds);
  }
  const applied = hasLog
    ? (
        await legacy.query(
          "SELECT table_name, upserts::int, deletes::int, last_applied_at, last_latency_ms::int FROM cutover_capture.applied",
        )
      ).rows
    : [];
  const byTable = new Map(applied.map((a) => [a.table_name, a]));
  const tables = spec.tables.map((t) => ({
    table: t.name,
    store: t.store,
    captured: installed.has(t.name),
    pending: b.perTable[t.name] ?? 0,
    upserts: byTable.get(t.name)?.upserts ?? 0,
    deletes: byTable.get(t.name)?.deletes ?? 0,
    lastAppliedAt: byTable.get(t.name)?.last_applied_at?.toISOString() ?? null,
  }));
  const all = tables.every((t) => t.captured);
  const bound = spec.captureMaxLagSeconds;
  const keepsUp = maxLag <= bound;
  const report = {
    // The gate's verdict (every check command's `passed`): installed on every table and keeping up.
    passed: all && keepsUp,
    installed: all,
    pending: b.pending,
    rechecks: b.rechecks,
    lagSeconds: Number(b.lagSeconds.toFixed(3)),
    maxLagSeconds: Number(maxLag.toFixed(3)),
    boundSeconds: bound,
    keepsUp,
    tables,
  };
  const missing = tables.filter((t) => !t.captured).map((t) => t.table);
  if (opts.json) {
    process.stdout.write(JSON.stringify(report, null, 2) + "\n");
  } else {
    process.stdout.write(
      `change capture: ${all ? "installed on every table" : `NOT installed on ${missing.join(", ")}`}; ${b.pending} pending (${b.rechecks} applied once, waiting for their recheck), lag ${b.lagSeconds.toFixed(1)} s${
        opts.evidence?.over ? ` (highest over ${opts.evidence.over} s: ${maxLag.toFixed(1)} s)` : ""
      }, bound ${bound} s${keepsUp ? "" : " EXCEEDED"}\n` +
        tables
          .map(
            (t) =>
              `  ${t.table.padEnd(16)} ${t.store.padEnd(9)} ${t.captured ? "captured" : "NOT captured"}  pending ${t.pending}  applied ${t.upserts} upserts / ${t.deletes} deletes`,
          )
          .join("\n") +
        "\n",
    );
  }
  const passed = all && keepsUp;
  if (opts.evidence) {
    const file = recordEvidence(process.cwd(), {
      stack: opts.evidence.stack,
      migration: opts.evidence.migration,
      check: "capture",
      endpoints: [await pgFingerprint(legacy, "source")],
      position: positionLabel(positionOf(spec)),
      attempt: positionOf(spec).attempt,
      passed,
      summary: !all
        ? `capture NOT installed on ${missing.join(", ")}`
        : `capture on ${tables.length} table(s); highest lag ${maxLag.toFixed(1)} s over ${opts.evidence.over} s (bound ${bound} s)${keepsUp ? "" : " EXCEEDED"}; ${b.pending} pending`,
      report: JSON.stringify(report),
    });
    process.stderr.write(`capture: evidence written to ${file}\n`);
  }
  return passed ? 0 : 1;
}
