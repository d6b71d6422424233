/**
 * The change capture's home until the final cut: a Worker on a one-minute cron (workers/capture) that
 * runs the applier's rounds for most of each minute, reading legacy and writing the new schema through
 * Hyperdrive and D1 through its bindings, and writes what it did and the lag it left to KV (where
 * `cutover data capture worker --remote` reads it) and to Workers Logs. This module is what the Worker and
 * the pipeline share, and imports nothing the Worker cannot run: its spec (CAPTURE_SPEC), its summary and
 * how it is judged, its name. Its wrangler config: worker-config.ts.
 */
import type { DualWriteMigration } from "../../infra/config/schema";

/** Every minute: each run applies for {@link BUDGET_SECONDS}, so the log is worked on almost always. */
export const CAPTURE_CRON = "* * * * *";
/** How long one run applies before it reports; under the minute, so runs do not overlap. */
export const BUDGET_SECONDS = 50;
/** Changes per round (one round: one read of the log, one write per store). */
export const CAPTURE_BATCH = 2000;
/**
 * Each change is applied again this long after its first application (RoundOptions.recheckSeconds):
 * longer than a Worker request runs, so a late new-store write of an abandoned request is overwritten.
 */
export const RECHECK_SECONDS = 120;

export interface CaptureWorkerSpec {
  readonly stack: string;
  readonly migration: string;
  /** From the final cut: the new stores are the truth, a row they changed after its legacy change stays. */
  readonly afterCut: boolean;
  readonly batch: number;
  readonly budgetSeconds: number;
  /** Seconds after which each applied change is applied again. */
  readonly recheckSeconds: number;
  /** The migration as the stack file declares it (no secret: passwords are named, never held). */
  readonly spec: DualWriteMigration;
}

export interface CaptureSummary {
  readonly stack: string;
  readonly migration: string;
  readonly at: string;
  readonly afterCut: boolean;
  readonly durationMs: number;
  readonly rounds: number;
  readonly applied: number;
  readonly kept: number;
  /** Tables whose changes failed in this run (they stay in the log), with the last error. */
  readonly failed: readonly { readonly table: string; readonly error: string }[];
  /** Capture-to-apply time of the changes applied in this run. */
  readonly latencyMs: {
    readonly p50: number | null;
    readonly p99: number | null;
    readonly max: number | null;
  };
  /** What was left when the run ended: the oldest unapplied change's age, and how many. */
  readonly lagSeconds: number;
  readonly pending: number;
  /** Changes applied once and waiting for their second application (the recheck). */
  readonly rechecks: number;
}

export const captureSummaryKey = (migration: string) => `cutover:${migration}:capture`;
export const captureWorkerName = (stack: string, migration: string) =>
  `cutover-capture-${stack}-${migration}`;

export function parseCaptureSpec(text: string | undefined): CaptureWorkerSpec {
  let parsed: Partial<CaptureWorkerSpec> | undefined;
  try {
    parsed = JSON.parse(text ?? "") as Partial<CaptureWorkerSpec>;
  } catch {
    parsed = undefined;
  }
  if (!parsed?.migration || !parsed.spec || typeof parsed.afterCut !== "boolean")
    throw new Error("CAPTURE_SPEC is missing or not the JSON `cutover workers sync` renders");
  return parsed as CaptureWorkerSpec;
}

/** How old the last run may be before the cron counts as stopped. */
export const CAPTURE_SUMMARY_MAX_AGE_MINUTES = 5;

/** Why the capture Worker's last summary is not a healthy capture (undefined when it is). */
export function captureSummaryProblem(
  summary: CaptureSummary | null,
  maxLagSeconds: number,
  now: Date,
): string | undefined {
  if (!summary)
    return "no summary: the capture Worker has not run (the up workflow deploys it from the backfill on)";
  const ageMinutes = (now.getTime() - Date.parse(summary.at)) / 60_000;
  if (ageMinutes > CAPTURE_SUMMARY_MAX_AGE_MINUTES)
    return `the last run was ${ageMinutes.toFixed(0)} min ago (over ${CAPTURE_SUMMARY_MAX_AGE_MINUTES}): its cron stopped`;
  if (summary.failed.length)
    return `changes failing on ${summary.failed.map((f) => `${f.table} (${f.error})`).join(", ")}`;
  if (summary.lagSeconds > maxLagSeconds)
    return `lag ${summary.lagSeconds.toFixed(1)} s over the bound of ${maxLagSeconds} s (${summary.pending} pending)`;
  return undefined;
}

export function renderCaptureSummary(s: CaptureSummary): string {
  const ms = (v: number | null) => (v === null ? "-" : `${v} ms`);
  return [
    `capture Worker of ${s.migration} (${s.stack}) at ${s.at}${s.afterCut ? ", after the cut" : ""}`,
    `  ${s.applied} changes applied in ${s.rounds} rounds over ${(s.durationMs / 1000).toFixed(1)} s${s.kept ? `, ${s.kept} kept (the new store changed them after the cut)` : ""}`,
    `  capture to apply: p50 ${ms(s.latencyMs.p50)}, p99 ${ms(s.latencyMs.p99)}, max ${ms(s.latencyMs.max)}`,
    `  left: ${s.pending} pending, lag ${s.lagSeconds.toFixed(1)} s; ${s.rechecks} applied once, waiting for their recheck`,
    ...s.failed.map((f) => `  FAILED ${f.table}: ${f.error}`),
  ].join("\n");
}
