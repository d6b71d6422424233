/**
 * `cutover phase next|set|rollback -s <stack> -m <migration>` edits Pulumi.<stack>.yaml in place (only the
 * changed lines), after the transition table allowed the step; `cutover phase status -s <stack>` says where
 * each migration stands and what it waits for. Exit 0 done, 1 step refused (file untouched), 2 usage,
 * stack file or config error.
 */
import { deployedFromOutputs } from "../../tooling/deployed";
import { EXIT, newCommand, type Leaf, UsageError } from "../shell";
import { applyStep } from "../../ops/phase/apply";
import { status, statusOf } from "../../ops/phase/status";

const program = newCommand("cutover phase")
  .description(
    "Moves a migration one step in Pulumi.<stack>.yaml (the transition table decides), or shows where each stands.",
  )
  .argument("<action>", "next | set <phase>[:percent|:from][@attempt] | rollback | status")
  .argument("[target]", "for set: the phase, e.g. canary:50, rollback:canary, replicate@2")
  .requiredOption("-s, --stack <name>", "stack name: edits Pulumi.<name>.yaml")
  .option("-m, --migration <name>", "the migration to move (next, set, rollback)")
  .option("--deployed <file>", "status: the ledger from `pulumi stack output --json`")
  .option(
    "--json",
    "status: machine-readable (each migration's positions, allowed steps, next step and its gate)",
  )
  .addHelpText(
    "after",
    "\nExamples:\n  cutover phase next -s staging -m avvivo\n  cutover phase set canary:50 -s prod -m avvivo\n  cutover phase rollback -s prod -m avvivo\n  cutover phase status -s prod --deployed deployed.json [--json]\n",
  );

async function main(argv: readonly string[]): Promise<number> {
  program.parse(argv, { from: "user" });
  const [action, target] = program.args;
  const { stack, migration, deployed, json } = program.opts<{
    stack: string;
    migration?: string;
    deployed?: string;
    json?: boolean;
  }>();
  if (action === "status") {
    const side = deployed ? deployedFromOutputs(deployed) : undefined;
    process.stdout.write(json ? JSON.stringify(statusOf(stack, side), null, 2) + "\n" : status(stack, side));
    return EXIT.ok;
  }
  if (action !== "next" && action !== "set" && action !== "rollback")
    throw new UsageError(
      `expected next, set <phase>, rollback or status; got ${action}`,
      `cutover phase next -s ${stack} -m <migration>`,
    );
  if (migration === undefined)
    throw new UsageError(
      `phase ${action} needs the migration it moves`,
      `cutover phase ${action} -s ${stack} -m <migration>`,
    );
  const { code, out } = applyStep(stack, migration, action, target);
  (code === EXIT.ok ? process.stdout : process.stderr).write(out);
  return code;
}

export const leaf: Leaf = {
  main,
};
