/**
 * `cutover workers sync -s <stack> --before before.json --before-up` (before `pulumi up`), then
 * `cutover workers sync -s <stack> --before before.json --deployed after.json` (after it): what the
 * dual-write migrations' Workers need from the up (ops/workers/sync.ts) — the comparison Worker deleted
 * before an up that turns it off, the flags floor set on each Worker that reads the flags and the
 * comparison Worker deployed after one. The up workflow runs both. `--all`, `--dry-run`, `--json`.
 */
import * as path from "node:path";
import type { DualWriteMigration } from "../../infra/config/schema";
import { actionsAfterUp, actionsBeforeUp, runWorkerActions } from "../../ops/workers/sync";
import { loadStack } from "../../tooling/stack-file";
import { newCommand, UsageError, type Leaf } from "../shell";
import { readStackOutputs } from "../stack-outputs";

async function main(argv: readonly string[]): Promise<number> {
  const o = newCommand("cutover workers sync")
    .description(
      "around pulumi up: the comparison Worker deleted before an up that turns it off; after one, the flags floor onto each Worker that reads the flags and the comparison Worker deployed",
    )
    .requiredOption("-s, --stack <name>", "the stack being applied (Pulumi.<name>.yaml)")
    .option("--before-up", "the step before the up: delete the comparison Workers it turns off")
    .option("--deployed <file>", "`pulumi stack output --json` after the up (the step after it)")
    .option("--before <file>", "`pulumi stack output --json` before the up (without it: a first up)")
    .option("--all", "every action the deployed state implies, changed or not (re-run after a failure)")
    .option("--dry-run", "change nothing: print the actions, bundle the comparison Worker offline")
    .option("--json", "print the actions as JSON (the floor's value left out)")
    .parse(argv, { from: "user" })
    .opts<{
      stack: string;
      beforeUp?: boolean;
      deployed?: string;
      before?: string;
      all?: boolean;
      dryRun?: boolean;
      json?: boolean;
    }>();
  if (Boolean(o.beforeUp) === Boolean(o.deployed))
    throw new UsageError(
      "choose the step: --before-up (before pulumi up) or --deployed <file> (after it)",
      "the up workflow runs both, with the outputs saved before the up as --before",
    );
  const { migrations } = loadStack(o.stack);
  const specs = Object.fromEntries(
    Object.entries(migrations).filter((e): e is [string, DualWriteMigration] => e[1].kind === "dual-write"),
  );
  const before = o.before ? readStackOutputs(o.before, "--before") : undefined;
  const actions = o.deployed
    ? actionsAfterUp({
        stack: o.stack,
        specs,
        before,
        after: readStackOutputs(o.deployed, "--deployed"),
        afterFile: o.deployed,
        configDir: (role, m) => path.resolve(".cutover", "workers", o.stack, m, role),
        all: o.all,
      })
    : actionsBeforeUp({
        stack: o.stack,
        specs,
        before,
        configDir: (role, m) => path.resolve(".cutover", "workers", o.stack, m, role),
      });
  if (o.json)
    process.stdout.write(
      JSON.stringify(
        actions.map((a) =>
          a.kind === "floor"
            ? { ...a, value: undefined }
            : a.kind === "deploy"
              ? { ...a, config: undefined }
              : a,
        ),
        null,
        2,
      ) + "\n",
    );
  if (actions.length === 0) {
    process.stderr.write(
      `workers: ${o.stack}: nothing to do ${o.beforeUp ? "before" : "after"} the up (the floors and the comparison Workers are as deployed)\n`,
    );
    return 0;
  }
  await runWorkerActions(actions, {
    dryRun: o.dryRun,
    log: (line) => process.stderr.write(`workers: ${line}\n`),
  });
  return 0;
}

export const leaf: Leaf = {
  main,
  secrets: () => [process.env.CLOUDFLARE_API_TOKEN],
};
