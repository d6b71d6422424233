/**
 * The read switch's advance gate as a pure function: after a step's bake, the new stores' calls (errors,
 * read latency) decide to wait, hold, advance to the next ramp step, or that they are failing. No step is
 * taken on missing evidence, and never onto the final cut: that step is irreversible, a person takes it.
 */
import type { Position } from "../../infra/engine/transitions";
import { positionLabel } from "../../infra/engine/transitions";
import { stillBaking, type AdvanceDecision } from "./decide";
import type { StoreHealth } from "./store-health";

export interface ReadSwitchThresholds {
  readonly bakeMinutes: number;
  readonly maxErrorRatePercent: number;
  readonly maxLatencyP99Ms: number;
  readonly minRequests: number;
}

export interface ReadSwitchFacts {
  readonly position: Position;
  readonly appliedAt: string;
  readonly now: Date;
  /** The next step per the transition table (undefined where there is none). */
  readonly next?: Position;
  readonly health?: StoreHealth;
  /** For the hint at the end of the ramp. */
  readonly stack: string;
  readonly migration: string;
}

export function decideReadSwitch(f: ReadSwitchFacts, t: ReadSwitchThresholds): AdvanceDecision {
  if (f.position.phase !== "read-switch")
    return {
      action: "hold",
      reason: `advance drives the read switch only; the migration is at ${positionLabel(f.position)}`,
    };
  const baking = stillBaking(f.appliedAt, f.now, t.bakeMinutes);
  if (baking) return baking;
  if (!f.health) return { action: "hold", reason: "no store metrics were read" };
  if (f.health.kind === "error") return { action: "hold", reason: f.health.message };
  const fresh = f.health.byStore.new;
  const reads = fresh?.reads ?? 0;
  if (!fresh || reads < t.minRequests)
    return {
      action: "hold",
      reason: `${reads} read(s) served by the new stores during the bake, fewer than ${t.minRequests}: no evidence either way (do the Workers bind CUTOVER_METRICS and pass it to migrationFlags?)`,
    };
  const errorRate = (100 * fresh.errors) / Math.max(1, fresh.requests);
  const legacy = f.health.byStore.legacy;
  const beside = legacy
    ? ` (legacy: ${((100 * legacy.errors) / Math.max(1, legacy.requests)).toFixed(2)}%, p99 ${legacy.readP99Ms === undefined ? "n/a" : `${Math.round(legacy.readP99Ms)} ms`})`
    : "";
  if (errorRate > t.maxErrorRatePercent)
    return {
      action: "failing",
      reason: `the new stores failed ${errorRate.toFixed(2)}% of ${fresh.requests} calls, above ${t.maxErrorRatePercent}%${beside}`,
    };
  if (fresh.readP99Ms === undefined) return { action: "hold", reason: "no read latency for the new stores" };
  if (fresh.readP99Ms > t.maxLatencyP99Ms)
    return {
      action: "failing",
      reason: `reads from the new stores: p99 ${Math.round(fresh.readP99Ms)} ms, above ${t.maxLatencyP99Ms} ms${beside}`,
    };
  const evidence = `new stores: ${errorRate.toFixed(2)}% failed of ${fresh.requests} calls, read p99 ${Math.round(fresh.readP99Ms)} ms${beside}`;
  if (!f.next || f.next.phase !== "read-switch")
    return {
      action: "hold",
      reason: `${evidence}. The read switch is complete; the next step, the final cut, is irreversible and taken by a person: cutover phase next -s ${f.stack} -m ${f.migration}`,
    };
  return { action: "advance", to: f.next, reason: evidence };
}
