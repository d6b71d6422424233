/**
 * `cutover advance` on a dual-write migration: after a read-switch step's up, waits out the bake, reads
 * what the flags module reported of each store's calls (Analytics Engine), judges the new stores, and
 * writes the next ramp step or the rollback into the stack file when asked. It stops before the final
 * cut, which a person takes.
 */
import type { DualWriteMigration } from "../../infra/config/schema";
import { positionLabel } from "../../infra/engine/transitions";
import { loadMigration } from "../../tooling/stack-file";
import { UsageError } from "../lib/errors";
import { applyStep } from "../phase/apply";
import { bakeEnd } from "./decide";
import { decideReadSwitch } from "./decide-read-switch";
import type { AdvanceReport, AdvanceRequest } from "./run";
import { judgeInSeries, stepUnderJudgement } from "./series";
import { readStoreHealth } from "./store-health";

export async function runReadSwitchAdvance(req: AdvanceRequest): Promise<AdvanceReport> {
  const env = req.env ?? process.env;
  const now = req.now ?? (() => new Date());
  const spec: DualWriteMigration = loadMigration(req.stack, req.migration, {
    dir: req.dir,
    kind: "dual-write",
  });
  const rule = spec.advance;
  const { position: inFile, next, appliedAt } = stepUnderJudgement(req, spec, now());
  const facts = {
    position: inFile,
    appliedAt,
    next,
    stack: req.stack,
    migration: req.migration,
  };

  let decision = decideReadSwitch({ ...facts, now: now() }, rule);
  if (decision.action === "wait" && req.wait) {
    (req.progress ?? ((line: string) => process.stderr.write(line + "\n")))(
      `advance: ${positionLabel(inFile)} is baking; judging at ${decision.until} (${decision.reason})`,
    );
    const ms = bakeEnd(appliedAt, rule.bakeMinutes).getTime() - now().getTime();
    await (req.sleep ?? ((t: number) => new Promise<void>((r) => setTimeout(r, t))))(Math.max(0, ms));
    decision = decideReadSwitch({ ...facts, now: now() }, rule);
  }
  if (decision.action === "wait" || inFile.phase !== "read-switch") return { decision };
  const token = env.CLOUDFLARE_API_TOKEN;
  if (!token)
    throw new UsageError(
      "CLOUDFLARE_API_TOKEN is not set",
      "export an API token with Account Analytics read permission (it is never printed)",
    );

  /** One judgement: the store calls over the last bake (or since the step, if shorter), fresh each time. */
  const judge = async () => {
    const end = now();
    const minutes = Math.min(rule.bakeMinutes, (end.getTime() - Date.parse(appliedAt)) / 60_000);
    const storeHealth = await readStoreHealth({
      accountId: spec.cloudflare.accountId,
      token,
      dataset: rule.dataset,
      migration: req.migration,
      minutes,
      env,
    });
    return {
      decision: decideReadSwitch({ ...facts, now: end, health: storeHealth }, rule),
      storeHealth,
      end,
    };
  };
  const j = await judgeInSeries(judge, rule, req);
  decision = j.decision;
  if (decision.action === "failing") {
    const series = `${j.failed.length} consecutive failed judgement(s), ${rule.rejudgeSeconds} s apart (last: ${decision.reason})`;
    decision = rule.autoRollback
      ? {
          action: "rollback",
          reason: `${series}; advance.autoRollback is on. Legacy was written throughout the read switch: the rollback loses nothing.`,
        }
      : {
          action: "hold",
          reason: `the new stores are failing: ${series}. advance.autoRollback is off: cutover phase rollback -s ${req.stack} -m ${req.migration} (or the rollback workflow), or fix and re-run advance.`,
        };
  }
  let applied: string | undefined;
  if (req.apply && (decision.action === "advance" || decision.action === "rollback")) {
    const step =
      decision.action === "advance"
        ? applyStep(req.stack, req.migration, "set", positionLabel(decision.to), { dir: req.dir, now: j.end })
        : applyStep(req.stack, req.migration, "rollback", undefined, { dir: req.dir, now: j.end });
    applied = step.out;
  }
  return { decision, storeHealth: j.storeHealth, ...(applied ? { applied } : {}) };
}
