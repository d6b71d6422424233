/**
 * `cutover plan -s <stack>`: the offline plan (the main command): flags, then ops/plan/ builds, judges and
 * renders the plan. Exit 0 planned; 1 a refused transition or a mandatory policy finding; 2 bad input.
 */
import { InvalidArgumentError } from "commander";
import { newCommand, wholeNumber, type Leaf } from "../shell";
import { parsePhaseToken, type PhaseChoice } from "../../tooling/phase-token";
import { StackFileError } from "../../tooling/stack-file-error";
import type { DeployedSide } from "../../tooling/deployed";

/** The plan's machinery (the Pulumi program on the mock runtime), loaded when a plan is asked for, not for --help. */
const planParts = async () => ({
  ...(await import("../../ops/plan/findings")),
  ...(await import("../../ops/plan/render")),
  ...(await import("../../ops/plan/markdown")),
  ...(await import("../../ops/plan/run")),
  ...(await import("../../ops/plan/diff")),
  ...(await import("../../ops/plan/first-run")),
  ...(await import("../../ops/plan/leaders")),
  ...(await import("../../tooling/deployed")),
});

const phaseArg = (value: string): PhaseChoice => {
  try {
    return parsePhaseToken(value);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
};

const program = newCommand("cutover plan")
  .description(
    "Offline plan: runs the cutover Pulumi program on Pulumi's mock runtime (no cloud, no credentials, no CLI)\n" +
      "and prints what a stack declares for a phase.",
  )
  .requiredOption("-s, --stack <name>", "stack name: reads Pulumi.<name>.yaml")
  .option("-m, --migration <name>", "only this migration (needed when a phase exists in several)")
  .option(
    "-p, --phase <phase>",
    "plan this phase instead of the file's (canary:50, rollback:canary)",
    phaseArg,
  )
  .option(
    "-t, --traffic <percent>",
    "trafficPercent (cloudsql canary) or readPercent (dual-write read-switch)",
    wholeNumber("a whole percent, e.g. 50", 0),
  )
  .option("-d, --diff <phases...>", "compare two phases, e.g. --diff canary:10 canary:50")
  .option(
    "-b, --base <git-ref>",
    "judge each migration's change against the stack file at this git ref (what is deployed), e.g. origin/main",
  )
  .option(
    "--deployed <file>",
    "judge against the ledger in `pulumi stack output --json` (knows the recorded times: windows are judged too)",
  )
  .option(
    "--leader-deployed <file>",
    "`pulumi stack output --json` of the stack this one follows (prod follows staging): no step past it; with --base the leader's file at that ref is used",
  )
  .option("--json", "machine-readable output")
  .option(
    "--markdown",
    "a pull-request comment: transitions and irreversible steps first, labelled changes, traffic before/after, evidence, findings, the runbook diagram; at most 65 KB",
  )
  .addHelpText(
    "after",
    "\nExamples:\n  cutover plan -s staging\n  cutover plan -s prod --phase canary --traffic 50\n  cutover plan -s prod --diff canary:10 canary:50\n  cutover plan -s prod --base origin/main\n  cutover plan -s prod --base origin/main --markdown > plan.md\n  pulumi stack output --json --stack prod > deployed.json && cutover plan -s prod --deployed deployed.json\n\nExit codes: 0 planned; 1 a refused transition or a mandatory policy finding; 2 a bad flag, stack file or config.\n",
  )
  .action(
    async (opts: {
      stack: string;
      migration?: string;
      phase?: PhaseChoice;
      traffic?: number;
      diff?: string[];
      json?: boolean;
      base?: string;
      deployed?: string;
      leaderDeployed?: string;
      markdown?: boolean;
    }) => {
      const stack = opts.stack;
      const {
        buildDiff,
        buildPlan,
        deployedFromGit,
        deployedFromOutputs,
        evaluateFindings,
        firstRunNotes,
        leadersOf,
        planMarkdown,
        renderDiff,
        renderPlan,
      } = await planParts();
      if (opts.markdown && (opts.json || opts.diff))
        throw new StackFileError("--markdown is its own output; hint: drop --json / --diff");
      if (opts.base !== undefined && opts.deployed !== undefined)
        throw new StackFileError("--base and --deployed both say what is deployed; hint: pass one of them");
      const deployed: DeployedSide | undefined =
        opts.base !== undefined
          ? deployedFromGit(stack, opts.base)
          : opts.deployed !== undefined
            ? deployedFromOutputs(opts.deployed)
            : undefined;
      const leaders = leadersOf(stack, opts.base, opts.leaderDeployed);
      if (opts.diff) {
        if (opts.diff.length !== 2)
          throw new StackFileError("--diff takes two phases; hint: --diff canary:10 canary:50");
        const [from, to] = opts.diff.map(parsePhaseToken);
        const result = await buildDiff({ stack, migration: opts.migration, from, to });
        if (opts.json)
          console.log(
            JSON.stringify(
              {
                stack,
                migration: result.migration,
                from: opts.diff[0],
                to: opts.diff[1],
                transition: result.transition,
                irreversible: result.irreversible,
                ...result.diff,
              },
              null,
              2,
            ),
          );
        else
          console.log(
            renderDiff(opts.diff[0], opts.diff[1], result.migration, result.diff, {
              transition: result.transition,
              irreversible: result.irreversible,
            }),
          );
        if (!result.transition.allowed) process.exitCode = 1;
        return;
      }
      const phase =
        opts.phase && opts.traffic !== undefined ? { ...opts.phase, percent: opts.traffic } : opts.phase;
      if (!phase && opts.traffic !== undefined)
        throw new StackFileError("--traffic needs --phase; hint: --phase canary --traffic 50");
      if (opts.markdown) {
        const md = await planMarkdown({ stack, migration: opts.migration, phase, deployed, leaders });
        process.stdout.write(md.markdown);
        if (md.refused || md.mandatory) process.exitCode = 1;
        return;
      }
      const report = await buildPlan({ stack, migration: opts.migration, phase, deployed, leaders });
      const findings = evaluateFindings(report.resources);
      const firstRun = firstRunNotes(report, deployed);
      if (opts.json) {
        console.log(
          JSON.stringify(
            {
              stack: report.stack,
              findings,
              firstRun,
              ...(deployed ? { deployedFrom: deployed.source } : {}),
              migrations: report.migrations.map((m) => ({
                name: m.name,
                ...(m.transition ? { transition: m.transition } : {}),
                plan: m.planned.plan,
                secrets: m.secrets,
                resources: m.resources,
              })),
            },
            null,
            2,
          ),
        );
      } else console.log(renderPlan(report, findings, deployed?.source, firstRun));
      if (findings.some((f) => f.level === "mandatory")) process.exitCode = 1;
      if (report.migrations.some((m) => m.transition && !m.transition.allowed)) process.exitCode = 1;
    },
  );

export const leaf: Leaf = {
  async main(argv) {
    await program.parseAsync(argv, { from: "user" });
    return Number(process.exitCode ?? 0);
  },
};
