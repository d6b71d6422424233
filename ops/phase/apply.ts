/**
 * One step of a migration written into its stack file: the transition table judges it against what is
 * deployed (the file, or the ledger), the leader stack bounds it, and only the changed lines are edited.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { KINDS } from "../../infra/engine/kinds";
import { positionOf, transitionContextOf } from "../../infra/engine/plan";
import {
  forwardStep,
  judgeTransition,
  positionLabel,
  RAMP,
  type Position,
  type TransitionContext,
} from "../../infra/engine/transitions";
import type { Migration } from "../../infra/config/schema";
import { editMigration, type KeyEdit } from "../../tooling/stack-edit";
import { loadStack, parsePhaseToken, StackFileError } from "../../tooling/stack-file";
import { gateStatus } from "../../infra/evidence";
import { leaderProblem } from "../../infra/engine/leader";
import { UsageError } from "../lib/errors";

/** 0: the step was written; 1: refused, the file untouched. */
const EXIT = { ok: 0, no: 1 } as const;
/** The keys a position sets in the stack file (and those it removes); `now` is when the step is written. */
function editsFor(spec: Migration, from: Position, to: Position, now: Date): KeyEdit[] {
  const kind = KINDS[spec.kind];
  return [
    { key: "phase", value: to.phase },
    { key: RAMP[spec.kind].percentKey, value: to.percent },
    { key: "rollbackFrom", value: to.rollbackFrom },
    ...(kind.attempts && to.attempt !== from.attempt ? [{ key: "attempt", value: to.attempt }] : []),
    ...(kind.stepTimeKey ? [{ key: kind.stepTimeKey, value: now.toISOString() }] : []),
  ];
}

/** `canary:50`, `rollback:canary` or `replicate`, with `@2` for an attempt: the position asked for. */
function targetOf(token: string, from: Position, spec: Migration): Position {
  const [base, attempt] = token.split("@");
  const choice = parsePhaseToken(base);
  // A phase the kind does not have is bad input (exit 2), not a refused step (exit 1).
  const phases: readonly string[] = [...KINDS[spec.kind].order, "rollback"];
  if (!phases.includes(choice.phase))
    throw new UsageError(
      `"${token}": ${choice.phase} is not a phase of kind ${spec.kind}`,
      `one of ${phases.join(", ")}`,
    );
  if (attempt !== undefined && !/^[1-9][0-9]*$/.test(attempt))
    throw new UsageError(`"${token}": the attempt after @ must be a whole number, e.g. replicate@2`);
  return {
    phase: choice.phase,
    attempt: attempt !== undefined ? Number(attempt) : KINDS[spec.kind].attempts ? from.attempt : 1,
    ...(choice.percent !== undefined ? { percent: choice.percent } : {}),
    ...(choice.from !== undefined ? { rollbackFrom: choice.from } : {}),
  };
}

interface StepOptions {
  readonly dir?: string;
  readonly now?: Date;
}

/**
 * The leader rule at this door, from the leading stack's file beside this one (what is merged for it;
 * the plan and the ledger judge from what it has applied). No such file here: left to them.
 */
function aheadOfLeader(
  stack: string,
  migration: string,
  spec: Migration,
  from: Position,
  to: Position,
  dir: string,
): string | undefined {
  if (!spec.follows || !existsSync(join(dir, `Pulumi.${spec.follows}.yaml`))) return undefined;
  const theirs = loadStack(spec.follows, { dir }).migrations[migration];
  const problem = leaderProblem(
    migration,
    stack,
    from,
    to,
    spec.kind,
    { stack: spec.follows, ...(theirs ? { position: positionOf(theirs) } : {}) },
    spec.followOverride,
  );
  return problem
    ? `${problem} (${spec.follows}'s position read from Pulumi.${spec.follows}.yaml)`
    : undefined;
}

/** Applies one step to the stack file when the transition table allows it; returns what it printed. */
export function applyStep(
  stack: string,
  migration: string,
  action: "next" | "set" | "rollback",
  token: string | undefined,
  opts: StepOptions = {},
): { code: number; out: string } {
  const { file, migrations } = loadStack(stack, opts);
  const spec = migrations[migration];
  if (spec === undefined)
    throw new StackFileError(
      `${file.path} has no migration "${migration}"; hint: migrations here are ${Object.keys(migrations).join(", ")}`,
    );
  const from = positionOf(spec);
  const ctx = transitionContextOf(migration, spec, { now: opts.now ?? new Date(), stack });
  const to = stepTarget(action, token, from, spec, ctx);
  const verdict = judgeTransition(from, to, ctx);
  if (!verdict.allowed) return { code: EXIT.no, out: `${verdict.message}\n${file.path} is unchanged.\n` };
  const ahead = aheadOfLeader(stack, migration, spec, from, to, dirname(file.path));
  if (ahead) return { code: EXIT.no, out: `${ahead}\n${file.path} is unchanged.\n` };
  const failing = gateStatus(dirname(file.path), {
    stack,
    migration,
    from,
    to,
    ctx,
    spec,
    now: opts.now ?? new Date(),
  }).filter((g) => g.problem !== undefined);
  if (failing.length > 0)
    return {
      code: EXIT.no,
      out:
        failing
          .map(
            (g) =>
              `${migration}: ${positionLabel(from)} → ${positionLabel(to)} needs passing ${g.check}${g.store ? ` (${g.store})` : ""} evidence taken at ${g.at}: ${g.problem}; hint: ${g.command}, then commit evidence/ with the change`,
          )
          .join("\n") + `\n${file.path} is unchanged.\n`,
    };
  const before = readFileSync(file.path, "utf8");
  const after = editMigration(before, migration, editsFor(spec, from, to, opts.now ?? new Date()));
  writeFileSync(file.path, after);
  try {
    loadStack(stack, opts); // the edited file must still be a valid config, or it is put back
  } catch (e) {
    writeFileSync(file.path, before);
    throw e;
  }
  const label = `${positionLabel(from, from.attempt !== to.attempt)} → ${positionLabel(to, from.attempt !== to.attempt)}`;
  const lines = [
    `${migration}: ${label} written to ${file.path}${verdict.records ? ` (the ledger will record: ${verdict.records.join(", ")})` : ""}`,
    ...(verdict.note ? [`note: ${verdict.note}`] : []),
    "",
    "Next:",
    `  cutover plan -s ${stack} --base origin/main        # what this step does, irreversible steps first`,
    `  git checkout -b cutover/${stack}-${migration}-${to.phase}${to.percent !== undefined ? `-${to.percent}` : ""}`,
    // The evidence goes with the step: the ledger and the plan judge the committed files.
    `  git add Pulumi.${stack}.yaml evidence/ && git commit -m "${stack}: ${migration} ${label}" && git push   # the pull request runs pulumi preview`,
    `  after review and merge, CI runs: pulumi up --stack ${stack}`,
  ];
  return { code: EXIT.ok, out: lines.join("\n") + "\n" };
}

function stepTarget(
  action: "next" | "set" | "rollback",
  token: string | undefined,
  from: Position,
  spec: Migration,
  ctx: TransitionContext,
): Position {
  switch (action) {
    case "next": {
      const next = forwardStep(from, ctx);
      if (next === undefined)
        throw new UsageError(
          `${ctx.migration} is at ${positionLabel(from)}: the runbook has no step after it`,
        );
      return next;
    }
    case "rollback":
      return { phase: "rollback", rollbackFrom: from.phase, attempt: from.attempt };
    case "set":
      if (token === undefined)
        throw new UsageError("set needs the phase to move to, e.g. set canary:50 or set replicate@2");
      return targetOf(token, from, spec);
    default: {
      const unreachable: never = action;
      throw new UsageError(`unknown action ${String(unreachable)}`);
    }
  }
}
