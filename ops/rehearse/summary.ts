/**
 * The rehearsal's verdict and its text report: the positions with their writes, latency and checks, the
 * write window (here and projected), and each drill's outcome.
 */
import { describeProjection, formatSeconds } from "../../infra/engine/window";
import type { RehearsalReport } from "./run";

const s = (ms: number | null) => (ms === null ? "n/a" : `${(ms / 1000).toFixed(1)} s`);

export function renderReport(r: RehearsalReport): string {
  const lines = [
    `rehearsal of ${r.stack}/${r.migration}: ${r.rows} rows before the run, ${r.rate} writes/s — ${s(r.durationMs)}`,
    "",
    `  ${"POSITION".padEnd(24)} ${"ACCEPTED".padStart(8)} ${"REFUSED".padStart(8)} ${"ERRORS".padStart(7)} ${"P50 ms".padStart(7)} ${"P99 ms".padStart(7)}  CHECKS`,
    ...r.phases.map(
      (p) =>
        `  ${p.position.padEnd(24)} ${String(p.writes.accepted).padStart(8)} ${String(p.writes.refused).padStart(8)} ${String(p.writes.errors).padStart(7)} ${String(p.latencyMs.p50).padStart(7)} ${String(p.latencyMs.p99).padStart(7)}  ${
          p.checks.map((c) => `${c.ok ? "✓" : "✗"} ${c.name}`).join(", ") || "-"
        }`,
    ),
    "",
    `writes: ${r.writes.acknowledged} acknowledged, ${r.writes.foundInFinal} found in the final database (${r.final}), ${r.writes.lost} LOST, ${r.writes.duplicates} duplicates; ${r.writes.refused} refused (503), ${r.writes.errors} errors`,
    `replication: ${r.replication}, writeMove: ${r.writeMove}`,
    ...(r.switch
      ? [
          `the switch: ${s(r.switch.totalMs)} from the freeze to the candidate's smoke — ${r.switch.terms.map((t) => `${t.name} ${s(t.ms)}`).join(", ")}`,
        ]
      : []),
    `write window here: all writes refused ${s(r.window.allRefusedMs)} (first refused write at ${s(r.window.firstRefusedMs)}, first write accepted on the destination at ${s(r.window.firstOnDestinationMs)}); some writes refused ${s(r.window.someRefusedMs)} (every write accepted from ${s(r.window.allAcceptedMs)}); freeze → 100% on the candidate: ${s(r.window.freezeToFullMs)}`,
    `refused writes by position: ${r.window.refusedByPosition.map((p) => `${p.position} ${p.refused}`).join(", ") || "none"}`,
    `projected in production: ${describeProjection(r.projection)}`,
    ...(r.alternatives ?? []).map((a) => `projected with ${a.name}: ${describeProjection(a.projection)}`),
    ...r.projection.terms.map(
      (t) =>
        `  ${t.refusing === "all" ? "all " : "some"}  ${t.position.padEnd(11)} ${t.term.padEnd(20)} ${formatSeconds(t.seconds).padStart(10)}  ${t.bound}`,
    ),
    `sequence collisions after promotion: ${r.sequenceCollisions}`,
    ...(r.validation
      ? [
          `validation after the freeze: ${r.validation.identical ? "identical" : "DIFFERENT"} (${r.validation.detail})`,
        ]
      : []),
    ...(r.drill
      ? [
          `drill: rollback from ${r.drill.from}: first write accepted by the stable revision ${r.drill.toStableMs === null ? "never" : `${r.drill.toStableMs} ms`} after the rollback, service ${r.drill.serviceOk ? "working" : "NOT working"}; ${r.drill.writesOnlyOnDestination} write(s) made on the destination after promotion are not on the source (the plan's warning; not counted as lost)`,
        ]
      : []),
  ];
  return lines.join("\n") + "\n";
}

export function passed(r: RehearsalReport): boolean {
  return (
    r.writes.lost === 0 &&
    r.sequenceCollisions === 0 &&
    r.phases.every((p) => p.checks.every((c) => c.ok)) &&
    (r.validation?.identical ?? true) &&
    (r.drill?.serviceOk ?? true)
  );
}

/** A drill's outcome, as the summary lists it. */
export interface DrillResult {
  readonly from: string;
  readonly toStableMs: number | null;
  readonly serviceOk: boolean;
  readonly writesOnlyOnDestination: number;
  readonly acknowledged: number;
  readonly lost: number;
  readonly passed: boolean;
}

export const drillOf = (r: RehearsalReport): DrillResult => ({
  from: r.drill!.from,
  toStableMs: r.drill!.toStableMs,
  serviceOk: r.drill!.serviceOk,
  writesOnlyOnDestination: r.drill!.writesOnlyOnDestination,
  acknowledged: r.writes.acknowledged,
  lost: r.writes.lost,
  passed: passed(r),
});

export function renderDrills(drills: readonly DrillResult[]): string {
  if (drills.length === 0) return "";
  return (
    [
      "",
      "drills (each on a fresh stand-in: walk to the phase, roll back, check the service)",
      `  ${"FROM".padEnd(11)} ${"TO STABLE".padStart(9)} ${"SERVICE".padEnd(11)} ${"ACKED".padStart(6)} ${"LOST".padStart(5)} ${"ONLY ON DESTINATION".padStart(19)}`,
      ...drills.map(
        (d) =>
          `  ${d.from.padEnd(11)} ${(d.toStableMs === null ? "n/a" : `${d.toStableMs} ms`).padStart(9)} ${(d.serviceOk ? "working" : "NOT WORKING").padEnd(11)} ${String(d.acknowledged).padStart(6)} ${String(d.lost).padStart(5)} ${String(d.writesOnlyOnDestination).padStart(19)}`,
      ),
    ].join("\n") + "\n"
  );
}
