/**
 * `cutover check decommission --stack prod --migration matchauto [--evidence] [--json]`
 * Before decommission turns the old stores off: asks the Cloudflare account whether anything still reads
 * them (the flags entry, every Worker's bindings, the comparison Worker) and prints each finding with what
 * to do. Exit 0 when nothing does; with --evidence the verdict is the `detached` evidence of
 * `final-cut → decommission`. Needs CLOUDFLARE_API_TOKEN (Workers Scripts, KV, D1 and Hyperdrive read).
 * With --local it reads the Workers' wrangler configs and the local flags entry instead (never evidence).
 */
import { positionOf } from "../../infra/engine/plan";
import { positionLabel } from "../../infra/engine/transitions";
import { recordEvidence } from "../../infra/evidence";
import { cloudflareEndpoint } from "../../infra/engine/gates";
import { loadMigration } from "../../tooling/stack-file";
import { newCommand, type Leaf, UsageError } from "../shell";
import { cloudflareClient } from "../../ops/lib/cloudflare";
import { addRequestTimeout } from "../options";
import { checkDetached, type DetachedReport } from "../../ops/decommission/check";

interface Flags {
  readonly stack?: string;
  readonly migration?: string;
  readonly evidence?: boolean;
  readonly json?: boolean;
  readonly retire?: string[];
  readonly requestTimeout: number;
  readonly local?: boolean;
  readonly persistTo: string;
  readonly workerConfig?: string[];
}

async function main(argv: readonly string[]): Promise<number> {
  const parsed = newCommand("cutover check decommission")
    .description("checks that nothing still reads the stores decommission turns off")
    .option("-s, --stack <name>", "Pulumi.<name>.yaml")
    .option("-m, --migration <name>", "dual-write migration in the stack")
    .option(
      "--retire <names...>",
      "D1 databases the decommission change will mark retired (at final-cut none is marked yet)",
    )
    .option(
      "--local",
      "check on this machine instead: the Workers' wrangler configs (--worker-config) and the local flags entry",
    )
    .option("--persist-to <dir>", "with --local: the local state directory", ".wrangler/state")
    .option("--worker-config <files...>", "with --local: each Worker's wrangler config")
    .option("--evidence", "write the verdict to evidence/<stack>/<migration>/detached.json")
    .option("--json", "print the result as JSON");
  addRequestTimeout(parsed).parse(argv, { from: "user" });
  const opts = parsed.opts<Flags>();
  if (opts.stack === undefined || opts.migration === undefined)
    throw new UsageError(
      "check decommission needs --stack <stack> --migration <name>",
      "cutover check decommission -s prod -m matchauto",
    );
  const { stack, migration } = opts;
  const spec = loadMigration(stack, migration, {
    kind: "dual-write",
    purpose: "decommission checks the stores of a dual-write migration",
  });
  const unknown = (opts.retire ?? []).filter((n) => !spec.d1.some((d) => d.name === n));
  if (unknown.length > 0)
    throw new UsageError(
      `--retire ${unknown.join(", ")}: not a D1 database of ${migration}; hint: one of ${spec.d1.map((d) => d.name).join(", ")}`,
    );
  const retiring = [
    ...new Set([...spec.d1.filter((d) => d.retired).map((d) => d.name), ...(opts.retire ?? [])]),
  ];
  let report: DetachedReport;
  if (opts.local) {
    if (opts.evidence)
      throw new UsageError(
        "--evidence with --local: the gate needs what the Cloudflare account says, not a local check",
        "drop --local to check the account (CLOUDFLARE_API_TOKEN), or drop --evidence",
      );
    if (!opts.workerConfig?.length)
      throw new UsageError(
        "--local needs --worker-config <file...>: the wrangler config of each Worker to check",
        `cutover check decommission -s ${stack} -m ${migration} --local --worker-config ../api/wrangler.json`,
      );
    const { checkDetachedLocally } = await import("../../ops/decommission/local");
    report = await checkDetachedLocally(spec, stack, migration, retiring, {
      persistTo: opts.persistTo,
      workerConfigs: opts.workerConfig,
    });
  } else {
    const token = process.env.CLOUDFLARE_API_TOKEN;
    if (!token)
      throw new UsageError(
        "CLOUDFLARE_API_TOKEN is not set; hint: export a token that can read Workers Scripts, Workers KV, D1 and Hyperdrive (it is never printed), or check local Worker configs with --local",
      );
    const client = await cloudflareClient(token, opts.requestTimeout);
    report = await checkDetached(client, spec.cloudflare.accountId, spec, stack, migration, retiring);
  }
  const passed = report.findings.length === 0;
  if (opts.json) process.stdout.write(JSON.stringify({ passed, ...report }, null, 2) + "\n");
  else {
    process.stdout.write(
      passed
        ? `nothing reads legacy (${spec.legacy.host})${retiring.length ? ` or ${retiring.join(", ")}` : ""}: flags entry on the new stores, ${report.scripts} Worker script(s) checked\n`
        : `still reading what decommission turns off (${report.findings.length}):\n` +
            report.findings.map((f) => `  - ${f.where}: ${f.what}\n    hint: ${f.hint}\n`).join(""),
    );
  }
  if (opts.evidence) {
    const file = recordEvidence(process.cwd(), {
      stack,
      migration,
      check: "detached",
      endpoints: [cloudflareEndpoint(spec.cloudflare.accountId, "workers")],
      position: positionLabel(positionOf(spec)),
      attempt: positionOf(spec).attempt,
      passed,
      summary: passed
        ? `nothing reads legacy${retiring.length ? ` or ${retiring.join(", ")}` : ""} (${report.scripts} Worker scripts checked)`
        : report.findings.map((f) => `${f.where}: ${f.what}`).join("; "),
      report: JSON.stringify(report),
    });
    process.stderr.write(`decommission: evidence written to ${file}\n`);
  }
  return passed ? 0 : 1;
}

export const leaf: Leaf = {
  main,
  secrets: () => [process.env.CLOUDFLARE_API_TOKEN],
};
