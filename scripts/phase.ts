/**
 * `npm run phase -- <stack> <migration> next | set <phase>[:arg] | rollback` edits Pulumi.<stack>.yaml in
 * place (only the changed lines), after the transition table allowed the step; `npm run phase -- <stack>
 * status` says where each migration stands and what it waits for. Exit 0 done, 1 step refused (file
 * untouched), 2 usage, stack file or config error.
 */
import { CLOUDSQL_PHASES } from "../infra/config/cloudsql";
import { DUAL_WRITE_PHASES } from "../infra/config/dual-write";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { positionOf, transitionContextOf } from "../infra/engine/plan";
import {
  allowedSteps,
  forwardStep,
  judgeTransition,
  positionLabel,
  RAMP,
  type Position,
  type TransitionContext,
} from "../infra/engine/transitions";
import type { Migration } from "../infra/config/schema";
import { editMigration, type KeyEdit } from "../tooling/stack-edit";
import { loadStack, parsePhaseToken, StackFileError } from "../tooling/stack-file";
import { EXIT, newCommand, runMain, UsageError } from "./lib/cli";
import { gateStatus } from "../tooling/evidence";
import { deployedFromOutputs, type DeployedSide } from "../tooling/deployed";
import { leaderProblem } from "../infra/engine/leader";

/** The keys a position sets in the stack file (and those it removes). */
function editsFor(spec: Migration, from: Position, to: Position): KeyEdit[] {
  return [
    { key: "phase", value: to.phase },
    { key: RAMP[spec.kind].percentKey, value: to.percent },
    { key: "rollbackFrom", value: to.rollbackFrom },
    ...(spec.kind === "cloudsql" && to.attempt !== from.attempt
      ? [{ key: "attempt", value: to.attempt }]
      : []),
  ];
}

/** `canary:50`, `rollback:canary` or `replicate`, with `@2` for an attempt: the position asked for. */
function targetOf(token: string, from: Position, spec: Migration): Position {
  const [base, attempt] = token.split("@");
  const choice = parsePhaseToken(base);
  // A phase the kind does not have is bad input (exit 2), not a refused step (exit 1).
  const phases: readonly string[] = spec.kind === "cloudsql" ? CLOUDSQL_PHASES : DUAL_WRITE_PHASES;
  if (!phases.includes(choice.phase))
    throw new UsageError(
      `"${token}": ${choice.phase} is not a phase of kind ${spec.kind}`,
      `one of ${phases.join(", ")}`,
    );
  if (attempt !== undefined && !/^[1-9][0-9]*$/.test(attempt))
    throw new UsageError(`"${token}": the attempt after @ must be a whole number, e.g. replicate@2`);
  return {
    phase: choice.phase,
    attempt: attempt !== undefined ? Number(attempt) : spec.kind === "cloudsql" ? from.attempt : 1,
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
  const after = editMigration(before, migration, editsFor(spec, from, to));
  writeFileSync(file.path, after);
  try {
    loadStack(stack, opts); // the edited file must still be a valid config, or it is put back
  } catch (e) {
    writeFileSync(file.path, before);
    throw e;
  }
  const label = `${positionLabel(from, from.attempt !== to.attempt)} → ${positionLabel(to, from.attempt !== to.attempt)}`;
  const lines = [
    `${migration}: ${label} written to ${file.path}${verdict.records ? ` (the ledger will record: ${verdict.records})` : ""}`,
    ...(verdict.note ? [`note: ${verdict.note}`] : []),
    "",
    "Next:",
    `  npm run plan -- ${stack} --base origin/main        # what this step does, irreversible steps first`,
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

/** Where one migration stands, as `status` reports it. */
export interface MigrationStatus {
  readonly name: string;
  readonly kind: string;
  /** The position the stack file asks for. */
  readonly file: string;
  /** The ledger's position, when the deployed side was given (`baseline` without a ledger). */
  readonly deployed?: string;
  readonly hasLedger?: boolean;
  /** The file asks for another position than the ledger's: the next up applies it (judged first). */
  readonly differs?: boolean;
  /** Every step allowed from where it stands (deployed, else the file). */
  readonly allowed: readonly string[];
  /** The step forward, and what it waits for (`nothing` when it can be taken now). */
  readonly next?: {
    readonly step: string;
    readonly waitsFor: string;
    /** The checks whose passing evidence the step needs, taken where the migration stands. */
    readonly gates?: readonly string[];
    /** Why the committed evidence does not hold, one line per failing check (absent when it all does). */
    readonly evidence?: string;
  };
}

/** Where each migration stands (file and, when given, the ledger), its next step and what it waits for. */
export function statusOf(
  stack: string,
  deployed: DeployedSide | undefined,
  opts: StepOptions = {},
): { path: string; deployedFrom?: string; migrations: MigrationStatus[] } {
  const { file, migrations } = loadStack(stack, opts);
  const out: MigrationStatus[] = [];
  for (const [name, spec] of Object.entries(migrations)) {
    const inFile = positionOf(spec);
    const ledger = deployed?.migrations[name];
    const facts = ledger?.facts ?? (deployed?.factsKnown ? {} : undefined);
    const ctx = transitionContextOf(name, spec, {
      now: opts.now ?? new Date(),
      ...(ledger?.pins ? { pins: ledger.pins } : {}),
      facts,
      stack,
    });
    const at = ledger?.position ?? inFile;
    const attempts = spec.kind === "cloudsql";
    const forward = forwardStep(at, ctx);
    let next: MigrationStatus["next"];
    if (forward !== undefined) {
      const verdict = judgeTransition(at, forward, ctx);
      const gates = gateStatus(dirname(file.path), {
        stack,
        migration: name,
        from: at,
        to: forward,
        ctx,
        spec,
        now: opts.now ?? new Date(),
      });
      const failing = gates.filter((g) => g.problem !== undefined);
      const problems = failing.map((g) => `${g.problem} (${g.command})`).join("; ");
      const waitsFor = !verdict.allowed ? (verdict.reason ?? "") : problems || (verdict.note ?? "nothing");
      next = {
        step: positionLabel(forward, forward.attempt !== at.attempt),
        waitsFor,
        ...(gates.length > 0 ? { gates: gates.map((g) => g.check) } : {}),
        ...(failing.length > 0 ? { evidence: failing.map((g) => g.problem).join("; ") } : {}),
      };
    }
    out.push({
      name,
      kind: spec.kind,
      file: positionLabel(inFile, attempts),
      ...(deployed
        ? {
            deployed: ledger ? positionLabel(ledger.position, true) : "baseline",
            hasLedger: ledger !== undefined,
            differs:
              ledger !== undefined && positionLabel(ledger.position, true) !== positionLabel(inFile, true),
          }
        : {}),
      allowed: allowedSteps(at, ctx).map((p) => positionLabel(p, p.attempt !== at.attempt)),
      ...(next ? { next } : {}),
    });
  }
  return { path: file.path, ...(deployed ? { deployedFrom: deployed.source } : {}), migrations: out };
}

/** `statusOf` as text. */
export function status(stack: string, deployed: DeployedSide | undefined, opts: StepOptions = {}): string {
  const report = statusOf(stack, deployed, opts);
  const lines = [`${report.path}${deployed ? ` · deployed: ${deployed.source}` : ""}`];
  for (const m of report.migrations) {
    lines.push(`${m.name} (${m.kind})`);
    lines.push(`  file:      ${m.file}`);
    if (m.deployed !== undefined) {
      lines.push(`  deployed:  ${m.hasLedger ? m.deployed : "baseline (no ledger yet)"}`);
      if (m.differs)
        lines.push(
          `  ! the file and the deployed phase differ: the next up applies the file's step (judged first)`,
        );
    }
    lines.push(`  allowed:   ${m.allowed.join(", ") || "nothing: the migration is done"}`);
    if (m.next) lines.push(`  next step: ${m.next.step} — waits for: ${m.next.waitsFor}`);
  }
  return lines.join("\n") + "\n";
}

const program = newCommand("phase")
  .description(
    "Moves a migration one step in Pulumi.<stack>.yaml (the transition table decides), or shows where each stands.",
  )
  .argument("<stack>", "stack name: edits Pulumi.<stack>.yaml")
  .argument("<migration|status>", "the migration to move, or `status`")
  .argument("[action]", "next | set <phase>[:percent|:from][@attempt] | rollback")
  .argument("[target]", "for set: the phase, e.g. canary:50, rollback:canary, replicate@2")
  .option("--deployed <file>", "status: the ledger from `pulumi stack output --json`")
  .option(
    "--json",
    "status: machine-readable (each migration's positions, allowed steps, next step and its gate)",
  )
  .addHelpText(
    "after",
    "\nExamples:\n  npm run phase -- staging avvivo next\n  npm run phase -- prod avvivo set canary:50\n  npm run phase -- prod avvivo rollback\n  npm run phase -- prod status --deployed deployed.json [--json]\n",
  );

async function main(): Promise<number> {
  program.parse();
  const [stack, second, action, target] = program.args;
  if (second === "status") {
    const { deployed, json } = program.opts<{ deployed?: string; json?: boolean }>();
    const side = deployed ? deployedFromOutputs(deployed) : undefined;
    process.stdout.write(json ? JSON.stringify(statusOf(stack, side), null, 2) + "\n" : status(stack, side));
    return EXIT.ok;
  }
  if (action !== "next" && action !== "set" && action !== "rollback")
    throw new UsageError(
      `expected an action after the migration: next, set <phase> or rollback; got ${action ?? "nothing"}`,
      `npm run phase -- ${stack} ${second} next`,
    );
  const { code, out } = applyStep(stack, second, action, target);
  (code === EXIT.ok ? process.stdout : process.stderr).write(out);
  return code;
}

if (require.main === module) runMain(main, { name: "phase" });
