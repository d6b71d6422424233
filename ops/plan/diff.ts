/** Two phases of one migration planned and compared: the transition between them and what changes. */
import { positionOf, transitionContextOf } from "../../infra/engine/plan";
import { judgeTransition, samePosition, type Transition } from "../../infra/engine/transitions";
import { diffSyntheses, type PlanDiff } from "../../tooling/plan-diff";
import { readStackConfig, type PhaseChoice, type StackConfig } from "../../tooling/stack-file";
import { buildPlan, resolveMigration, type PlanReport, type PlanRequest } from "./run";

function resolveEither(stack: StackConfig, a: string, b: string): string {
  try {
    return resolveMigration(stack, a);
  } catch (e) {
    try {
      return resolveMigration(stack, b);
    } catch {
      throw e;
    }
  }
}

/** Plans two phases of one migration and compares what they declare. */
export async function buildDiff(
  req: Omit<PlanRequest, "phase"> & { from: PhaseChoice; to: PhaseChoice },
): Promise<{
  from: PlanReport;
  to: PlanReport;
  diff: PlanDiff;
  migration: string;
  transition: Transition;
  irreversible: readonly string[];
}> {
  const stack = readStackConfig(req.stack, req.dir);
  // A phase shared by both kinds (baseline, rollback…) is resolved through the other one.
  const migration = req.migration ?? resolveEither(stack, req.to.phase, req.from.phase);
  const from = await buildPlan({ ...req, migration, phase: req.from });
  const to = await buildPlan({ ...req, migration, phase: req.to });
  const mine = (r: PlanReport) => r.migrations.flatMap((m) => m.resources);
  const [a, b] = [from.migrations[0], to.migrations[0]];
  const transition = judgeTransition(
    positionOf(a.planned.spec),
    positionOf(b.planned.spec),
    transitionContextOf(migration, b.planned.spec, { now: req.now ?? new Date(), stack: stack.stack }),
  );
  const irreversible = samePosition(transition.from, transition.to) ? [] : b.planned.plan.irreversible;
  return { from, to, diff: diffSyntheses(mine(from), mine(to)), migration, transition, irreversible };
}
