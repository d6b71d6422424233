/** The series of judgements both advance gates take before they call a step failing. */
import type { AdvanceDecision } from "./decide";

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
