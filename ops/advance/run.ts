/**
 * The canary ramp's judge after each step's up: waits out the bake, checks the candidate (smoke against
 * its tag URL; 5xx rate and p95 latency of its revision from Cloud Monitoring), and writes the next step
 * or the rollback into the stack file when asked.
 */
import { positionLabel } from "../../infra/engine/transitions";
import { revisionsOf } from "../../infra/engine/cloudsql-phases";
import { loadMigration, loadStack } from "../../tooling/stack-file";
import { runReadSwitchAdvance } from "./read-switch";
import { judgeInSeries, stepUnderJudgement } from "./series";
import { bakeEnd, decideAdvance, type AdvanceDecision, type CandidateMetrics } from "./decide";
import { readCandidateMetrics } from "./monitoring";
import type { StoreHealth } from "./store-health";
import { UsageError } from "../lib/errors";
import { applyStep } from "../phase/apply";
import { CLOUDSQL_ONLY } from "../preflight/source";
import { expectationFor } from "../smoke/expectations";
import { runSmoke } from "../smoke/run";

export interface AdvanceRequest {
  readonly stack: string;
  readonly migration: string;
  readonly deployedFile: string;
  /** The candidate's tag URL. @default `candidate---` + the service URL's host */
  readonly candidateUrl?: string;
  readonly apply?: boolean;
  readonly wait?: boolean;
  readonly dir?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly now?: () => Date;
  readonly monitoringEndpoint?: string;
  readonly timeoutMs?: number;
  /** Where progress lines go while waiting. @default stderr */
  readonly progress?: (line: string) => void;
  /** How it waits between judgements (tests pass a fake). @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface AdvanceReport {
  readonly decision: AdvanceDecision;
  readonly smoke?: { readonly passed: boolean; readonly failures: readonly string[] };
  readonly metrics?: CandidateMetrics;
  /** The read switch's evidence: the store calls the flags module reported. */
  readonly storeHealth?: StoreHealth;
  /** What --apply wrote (the phase command's output). */
  readonly applied?: string;
}

/** The tag URL Cloud Run gives the candidate: `https://candidate---<service host>`. */
export function candidateUrlOf(serviceUri: string): string {
  const u = new URL(serviceUri);
  return `${u.protocol}//candidate---${u.host}`;
}

export async function runAdvance(req: AdvanceRequest): Promise<AdvanceReport> {
  // A dual-write migration's ramp is the read switch: its own judge (read-switch.ts).
  if (loadStack(req.stack, { dir: req.dir }).migrations[req.migration]?.kind === "dual-write")
    return runReadSwitchAdvance(req);
  const env = req.env ?? process.env;
  const now = req.now ?? (() => new Date());
  const spec = loadMigration(req.stack, req.migration, {
    dir: req.dir,
    kind: "cloudsql",
    purpose: CLOUDSQL_ONLY,
  });
  const { deployed, ledger, position: inFile, next, appliedAt } = stepUnderJudgement(req, spec, now());
  const facts = { position: inFile, appliedAt, next };

  let decision = decideAdvance({ ...facts, now: now() }, spec.advance);
  if (decision.action === "wait" && req.wait) {
    (req.progress ?? ((line: string) => process.stderr.write(line + "\n")))(
      `advance: ${positionLabel(inFile)} is baking; judging at ${decision.until} (${decision.reason})`,
    );
    await new Promise((r) =>
      setTimeout(r, Math.max(0, bakeEnd(appliedAt, spec.advance.bakeMinutes).getTime() - now().getTime())),
    );
    decision = decideAdvance({ ...facts, now: now() }, spec.advance);
  }
  // Still baking, or not a canary step: nothing to check yet.
  if (decision.action === "wait" || inFile.phase !== "canary") return { decision };

  const serviceUri = deployed.serviceUris?.[req.migration];
  const base = req.candidateUrl ?? (serviceUri ? candidateUrlOf(serviceUri) : undefined);
  if (!base)
    throw new UsageError(
      "no candidate URL",
      "pass --candidate-url, or a deployed file with the service's URL",
    );
  const token = env.SMOKE_ADMIN_TOKEN ?? env.ADMIN_STATUS_TOKEN;
  if (!token) throw new UsageError("no admin token: set SMOKE_ADMIN_TOKEN (the token of GET /system/status)");
  const gcpToken = env.GOOGLE_OAUTH_ACCESS_TOKEN ?? env.CLOUDSDK_AUTH_ACCESS_TOKEN;

  /** One judgement: smoke of the candidate and its metrics over the last bake, fresh each time. */
  const judge = async () => {
    const results = await runSmoke({
      baseUrl: base,
      auth: { header: "authorization", token },
      tokenEnv: "SMOKE_ADMIN_TOKEN",
      timeoutMs: req.timeoutMs ?? 10_000,
      expectation: expectationFor("canary"),
      ...(spec.cloudRun.writeBlock.probe ? { writeProbe: spec.cloudRun.writeBlock.probe } : {}),
    });
    const failed = results.filter((r) => r.status === "FAIL");
    const failures = failed.map((r) => `${r.name}: ${r.detail ?? ""}`);
    const unreached = failed.filter((r) => r.unreachable).map((r) => r.detail ?? r.name);
    const smoke = { passed: failures.length === 0, failures };
    const end = now();
    const metrics: CandidateMetrics = gcpToken
      ? await readCandidateMetrics({
          project: spec.gcp.project,
          service: spec.cloudRun.service,
          revision: revisionsOf(spec).candidate.name,
          start: new Date(Math.max(Date.parse(appliedAt), end.getTime() - spec.advance.bakeMinutes * 60_000)),
          end,
          token: gcpToken,
          endpoint: req.monitoringEndpoint,
        })
      : {
          kind: "error",
          message:
            "no access token (set GOOGLE_OAUTH_ACCESS_TOKEN, e.g. from gcloud auth print-access-token)",
        };
    const judged = decideAdvance(
      {
        ...facts,
        now: end,
        smokePassed: smoke.passed,
        ...(unreached.length ? { smokeUnreached: unreached.join("; ") } : {}),
        metrics,
      },
      spec.advance,
    );
    return { decision: judged, smoke, metrics, end };
  };

  const j = await judgeInSeries(judge, spec.advance, req);
  const { smoke, metrics, end } = j;
  decision = j.decision;
  if (decision.action === "failing") {
    const series = `${j.failed.length} consecutive failed judgement(s), ${spec.advance.rejudgeSeconds} s apart (last: ${decision.reason})`;
    const stranded = strandedWrites(ledger.facts?.promoted, inFile.attempt);
    decision = spec.advance.autoRollback
      ? { action: "rollback", reason: `${series}; advance.autoRollback is on. ${stranded}` }
      : {
          action: "hold",
          reason:
            `the candidate is failing: ${series}. advance does not roll back after promotion on its own ` +
            `(advance.autoRollback is off): ${stranded} To roll back anyway: cutover phase rollback -s ${req.stack} -m ${req.migration} (or the rollback workflow); or fix forward and re-run advance.`,
        };
  }
  let applied: string | undefined;
  if (req.apply && (decision.action === "advance" || decision.action === "rollback")) {
    const step =
      decision.action === "advance"
        ? applyStep(req.stack, req.migration, "set", positionLabel(decision.to), { dir: req.dir, now: end })
        : applyStep(req.stack, req.migration, "rollback", undefined, { dir: req.dir, now: end });
    applied = step.out;
  }
  return { decision, smoke, metrics, ...(applied ? { applied } : {}) };
}

/** What a rollback after promotion leaves behind, in words, with the promotion's time when recorded. */
function strandedWrites(
  promoted: readonly { readonly attempt: number; readonly at: string }[] | undefined,
  attempt: number,
): string {
  const at = promoted?.find((p) => p.attempt === attempt)?.at;
  return `a rollback sends traffic back to the source and strands every write Cloud SQL accepted since the promotion${at ? ` (${at})` : ""}: the source does not have them.`;
}
