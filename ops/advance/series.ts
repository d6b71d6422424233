/**
 * What both advance gates share: where the migration stands (the file and the ledger must agree), and
 * the series of judgements they take before they call a step failing.
 */
import type { Migration } from "../../infra/config/schema";
import { positionOf, transitionContextOf } from "../../infra/engine/plan";
import { forwardStep, judgeTransition, positionLabel, type Position } from "../../infra/engine/transitions";
import { deployedFromOutputs } from "../../tooling/deployed";
import { UsageError } from "../lib/errors";
import type { AdvanceDecision } from "./decide";

/** The step being judged: the file's position (which the ledger must have applied), when, and what follows. */
export function stepUnderJudgement(
  req: { readonly stack: string; readonly migration: string; readonly deployedFile: string },
  spec: Migration,
  now: Date,
) {
  const deployed = deployedFromOutputs(req.deployedFile);
  const ledger = deployed.migrations[req.migration];
  if (!ledger?.appliedAt)
    throw new UsageError(
      `${req.deployedFile} has no ledger for ${req.migration}`,
      "run pulumi up first, then pulumi stack output --json",
    );
  const position = positionOf(spec);
  if (positionLabel(ledger.position, true) !== positionLabel(position, true))
    throw new UsageError(
      `the file says ${positionLabel(position, true)} but ${positionLabel(ledger.position, true)} is deployed`,
      "apply the file first (pulumi up), or bring the file back to what is deployed",
    );
  const ctx = transitionContextOf(req.migration, spec, { now, facts: ledger.facts, stack: req.stack });
  const forward = forwardStep(position, ctx);
  const next: Position | undefined =
    forward && judgeTransition(position, forward, ctx).allowed ? forward : undefined;
  const appliedAt: string = ledger.appliedAt;
  return { deployed, ledger, position, next, appliedAt };
}

export interface SeriesOptions {
  /** How it waits between judgements (tests pass a fake). @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Where progress lines go. @default stderr */
  readonly progress?: (line: string) => void;
}

/**
 * A failing judgement is taken again, up to `failuresBeforeRollback` in a row, `rejudgeSeconds` apart: one
 * bad sample is not enough. Any judgement that does not fail ends the series with its own decision.
 */
export async function judgeInSeries<J extends { decision: AdvanceDecision }>(
  judge: () => Promise<J>,
  rule: { readonly failuresBeforeRollback: number; readonly rejudgeSeconds: number },
  req: SeriesOptions,
): Promise<J & { failed: string[] }> {
  const sleep = req.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const say = req.progress ?? ((line: string) => process.stderr.write(line + "\n"));
  const failed: string[] = [];
  let j = await judge();
  while (j.decision.action === "failing") {
    failed.push(j.decision.reason);
    if (failed.length >= rule.failuresBeforeRollback) break;
    say(
      `advance: failed judgement ${failed.length} of ${rule.failuresBeforeRollback} (${j.decision.reason}); judging again in ${rule.rejudgeSeconds} s`,
    );
    await sleep(rule.rejudgeSeconds * 1000);
    j = await judge();
  }
  return { ...j, failed };
}
