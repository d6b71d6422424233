/**
 * The advance gate as a pure function: given where the migration stands, when the step was applied, what
 * the smoke check and Cloud Monitoring said of the candidate, it decides to wait, hold, advance, or that
 * the candidate is failing (the caller judges again, and rolls back only when the stack opts in). No step
 * is ever taken on missing evidence: no data, API errors and an unreachable candidate hold.
 */
import type { Position } from "../../infra/engine/transitions";

export interface AdvanceThresholds {
  readonly bakeMinutes: number;
  readonly maxErrorRatePercent: number;
  readonly maxLatencyP95Ms: number;
  readonly minRequests: number;
}

/** What Cloud Monitoring said of the candidate revision over the bake. */
export type CandidateMetrics =
  | {
      readonly kind: "data";
      readonly requests: number;
      readonly errors5xx: number;
      readonly latencyP95Ms?: number;
    }
  | { readonly kind: "error"; readonly message: string };

export interface AdvanceFacts {
  readonly position: Position;
  /** When the ledger recorded this position as applied. */
  readonly appliedAt: string;
  readonly now: Date;
  /** The next step per the transition table (undefined at the end of the runbook). */
  readonly next?: Position;
  readonly smokePassed?: boolean;
  /** Why the smoke check could not reach the candidate (a network error, no answer): no evidence. */
  readonly smokeUnreached?: string;
  readonly metrics?: CandidateMetrics;
}

export type AdvanceDecision =
  | { readonly action: "wait"; readonly until: string; readonly reason: string }
  | { readonly action: "hold"; readonly reason: string }
  | { readonly action: "advance"; readonly to: Position; readonly reason: string }
  /** The candidate answered and fails a criterion: judged again before anything is done. */
  | { readonly action: "failing"; readonly reason: string }
  | { readonly action: "rollback"; readonly reason: string };

/** When the bake of the current step ends. */
export function bakeEnd(appliedAt: string, bakeMinutes: number): Date {
  return new Date(Date.parse(appliedAt) + bakeMinutes * 60_000);
}

/** `wait` while the step bakes (from when the ledger recorded it), else undefined: judge it. */
export function stillBaking(appliedAt: string, now: Date, bakeMinutes: number): AdvanceDecision | undefined {
  const end = bakeEnd(appliedAt, bakeMinutes);
  if (now >= end) return undefined;
  const minutes = Math.ceil((end.getTime() - now.getTime()) / 60_000);
  return {
    action: "wait",
    until: end.toISOString(),
    reason: `the ${bakeMinutes}-minute bake ends in ${minutes} min`,
  };
}

export function decideAdvance(f: AdvanceFacts, t: AdvanceThresholds): AdvanceDecision {
  if (f.position.phase !== "canary")
    return {
      action: "hold",
      reason: `advance drives the canary ramp only; the migration is at ${f.position.phase}`,
    };
  const baking = stillBaking(f.appliedAt, f.now, t.bakeMinutes);
  if (baking) return baking;
  // A candidate that could not be reached gave no evidence either way: a mistyped URL is no failure.
  if (f.smokeUnreached !== undefined)
    return {
      action: "hold",
      reason: `the candidate could not be reached (${f.smokeUnreached}): no evidence either way; check --candidate-url and the network`,
    };
  if (f.smokePassed === false)
    return { action: "failing", reason: "the smoke check of the candidate failed" };
  if (f.metrics === undefined) return { action: "hold", reason: "no metrics were read" };
  if (f.metrics.kind === "error")
    return { action: "hold", reason: `Cloud Monitoring could not be read: ${f.metrics.message}` };
  const m = f.metrics;
  if (m.requests < t.minRequests)
    return {
      action: "hold",
      reason: `${m.requests} request(s) reached the candidate during the bake, fewer than ${t.minRequests}: no evidence either way`,
    };
  const errorRate = (100 * m.errors5xx) / m.requests;
  if (errorRate > t.maxErrorRatePercent)
    return {
      action: "failing",
      reason: `5xx rate ${errorRate.toFixed(2)}% over ${m.requests} requests is above ${t.maxErrorRatePercent}%`,
    };
  if (m.latencyP95Ms === undefined) return { action: "hold", reason: "no latency data for the candidate" };
  if (m.latencyP95Ms > t.maxLatencyP95Ms)
    return {
      action: "failing",
      reason: `p95 latency ${Math.round(m.latencyP95Ms)} ms is above ${t.maxLatencyP95Ms} ms`,
    };
  if (f.next === undefined) return { action: "hold", reason: "the runbook has no step after this one" };
  return {
    action: "advance",
    to: f.next,
    reason: `5xx ${errorRate.toFixed(2)}% ≤ ${t.maxErrorRatePercent}%, p95 ${Math.round(m.latencyP95Ms)} ms ≤ ${t.maxLatencyP95Ms} ms over ${m.requests} requests`,
  };
}
