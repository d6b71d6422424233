/**
 * `cutover check compare <config|run|status> --stack staging --migration matchauto`
 * The background comparison of runbook 2 (workers/compare), from the stack:
 *   config  renders the Worker's wrangler config (--outputs: ids from `pulumi stack output --json`, for
 *           `npx wrangler deploy -c <file>`; --local: the local placeholders) to --out or stdout;
 *   run     --local only: one scheduled run now, in workerd (wrangler dev --test-scheduled) on the local
 *           D1/KV state of --persist-to and the PostgreSQL of LEGACY_DATABASE_URL / TARGET_DATABASE_URL;
 *           prints the summary (exit 1 when keys differ);
 *   status  the last summary the Worker wrote (--local or --remote), judged: it passes when every sampled
 *           key was equal and the run is younger than compare.maxAgeMinutes; --evidence records that as
 *           the compare evidence of `dual-write → read-switch`.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { positionOf } from "../../infra/engine/plan";
import { positionLabel } from "../../infra/engine/transitions";
import type { DualWriteMigration } from "../../infra/config/schema";
import { recordEvidence } from "../../infra/evidence";
import { cloudflareEndpoint, LOCAL_STATE } from "../../infra/engine/gates";
import { loadMigration } from "../../tooling/stack-file";
import { readStackOutputs } from "../stack-outputs";
import { DATABASE_SECRETS, databaseUrl } from "../../ops/backfill/plan";
import { actionOnMigration, newCommand, type Leaf, UsageError } from "../shell";
import { cloudflareClient } from "../../ops/lib/cloudflare";
import { addRequestTimeout } from "../options";
import { compareWranglerConfig, idsFromOutputs, workerName } from "../../ops/compare/config";
import { runScheduledLocally } from "../../ops/compare/local-run";
import {
  namespaceIdByTitle,
  readLocalSummary,
  readRemoteSummary,
  renderSummary,
  summaryProblem,
} from "../../ops/compare/results";
import type { CompareSummary } from "../../ops/compare/spec";

interface Flags {
  readonly stack?: string;
  readonly migration?: string;
  readonly local?: boolean;
  readonly remote?: boolean;
  readonly persistTo: string;
  readonly outputs?: string;
  readonly out?: string;
  readonly source?: string;
  readonly target?: string;
  readonly evidence?: boolean;
  readonly json?: boolean;
  readonly requestTimeout: number;
}

const ACTIONS = ["config", "run", "status"] as const;
const PURPOSE = "the comparison Worker compares the stores of a dual-write migration";

function config(stack: string, migration: string, spec: DualWriteMigration, opts: Flags): number {
  if (Boolean(opts.local) === Boolean(opts.outputs))
    throw new UsageError(
      "config needs exactly one of --outputs <file> (ids of the deployed stack, for wrangler deploy) or --local",
    );
  const dir = path.dirname(path.resolve(opts.out ?? "wrangler.json"));
  const ids = opts.outputs
    ? idsFromOutputs(readStackOutputs(opts.outputs, "--outputs"), migration, opts.outputs)
    : undefined;
  const text = JSON.stringify(compareWranglerConfig(stack, migration, spec, dir, ids), null, 2) + "\n";
  if (opts.out) {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(opts.out, text);
    process.stderr.write(
      `compare: wrote ${opts.out}; deploy with: npx wrangler deploy -c ${opts.out} (Worker ${workerName(stack, migration)})\n`,
    );
  } else process.stdout.write(text);
  return 0;
}

async function readSummary(
  migration: string,
  spec: DualWriteMigration,
  opts: Flags,
): Promise<CompareSummary | null> {
  if (Boolean(opts.local) === Boolean(opts.remote))
    throw new UsageError(
      "choose exactly one of --local (local KV state) or --remote (the Cloudflare account)",
    );
  if (opts.local) return readLocalSummary(migration, opts.persistTo);
  const token = process.env.CLOUDFLARE_API_TOKEN;
  if (!token)
    throw new UsageError(
      "CLOUDFLARE_API_TOKEN is not set; hint: export an API token with Workers KV read permission (it is never printed)",
    );
  const client = await cloudflareClient(token, opts.requestTimeout);
  const accountId = spec.cloudflare.accountId;
  const namespaceId = opts.outputs
    ? idsFromOutputs(readStackOutputs(opts.outputs, "--outputs"), migration, opts.outputs).kvNamespaceId
    : await namespaceIdByTitle(client, accountId, spec.cloudflare.kvNamespace);
  return readRemoteSummary(client, accountId, namespaceId, migration);
}

function report(summary: CompareSummary | null, problem: string | undefined, json: boolean): void {
  if (json)
    process.stdout.write(JSON.stringify({ passed: problem === undefined, problem, summary }, null, 2) + "\n");
  else {
    if (summary) process.stdout.write(renderSummary(summary));
    process.stdout.write(problem ? `verdict: FAIL — ${problem}\n` : "verdict: pass\n");
  }
}

async function main(argv: readonly string[]): Promise<number> {
  const parsed = newCommand("cutover check compare")
    .description("the background comparison Worker of a dual-write migration: configure, run locally, read")
    .argument("<action>", `one of ${ACTIONS.join(", ")}`)
    .option("-s, --stack <name>", "read tables, stores and the schedule from Pulumi.<name>.yaml")
    .option("-m, --migration <name>", "dual-write migration in the stack")
    .option("--local", "config, run, status: local state (offline, workerd)")
    .option("--remote", "status: the Cloudflare account (needs CLOUDFLARE_API_TOKEN)")
    .option("--persist-to <dir>", "local D1 and KV state directory", ".wrangler/state")
    .option("--outputs <file>", "ids from `pulumi stack output --json` (config; status --remote)")
    .option("--out <file>", "config: write the wrangler config here (else stdout)")
    .option("--source <url>", "run: legacy PostgreSQL URL (prefer the LEGACY_DATABASE_URL variable)")
    .option("--target <url>", "run: new Supabase PostgreSQL URL (prefer the TARGET_DATABASE_URL variable)")
    .option("--evidence", "status: write the verdict to evidence/<stack>/<migration>/compare.json")
    .option("--json", "print the result as JSON");
  addRequestTimeout(parsed).parse(argv, { from: "user" });
  const opts = parsed.opts<Flags>();
  const { action, stack, migration } = actionOnMigration(
    parsed,
    ACTIONS,
    "compare",
    "what to compare comes from the stack",
  );
  const spec = loadMigration(stack, migration, { kind: "dual-write", purpose: PURPOSE });
  switch (action) {
    case "config":
      return config(stack, migration, spec, opts);
    case "run": {
      if (!opts.local)
        throw new UsageError(
          "run works on local state only (--local); hint: deployed, the Worker runs on its cron — read it with status --remote",
        );
      const needsTarget = spec.tables.some((t) => t.store === "supabase");
      const configDir = path.resolve(".cutover", "compare", "local");
      const { elapsedMs } = await runScheduledLocally({
        config: compareWranglerConfig(stack, migration, spec, configDir),
        configDir,
        persistTo: opts.persistTo,
        legacyUrl: databaseUrl("legacy", opts.source, spec),
        ...(needsTarget ? { targetUrl: databaseUrl("target", opts.target, spec) } : {}),
        cron: spec.compare.cron,
      });
      const summary = await readLocalSummary(migration, opts.persistTo);
      const problem = summaryProblem(summary, migration, spec.compare.maxAgeMinutes, new Date());
      report(summary, problem, Boolean(opts.json));
      process.stderr.write(
        `compare: scheduled run in workerd, ${(elapsedMs / 1000).toFixed(1)} s with start-up\n`,
      );
      return problem ? 1 : 0;
    }
    case "status": {
      const summary = await readSummary(migration, spec, opts);
      const problem = summaryProblem(summary, migration, spec.compare.maxAgeMinutes, new Date());
      report(summary, problem, Boolean(opts.json));
      if (opts.evidence) {
        const file = recordEvidence(process.cwd(), {
          stack,
          migration,
          check: "compare",
          endpoints: [
            opts.remote
              ? cloudflareEndpoint(spec.cloudflare.accountId, spec.cloudflare.kvNamespace)
              : LOCAL_STATE,
          ],
          position: positionLabel(positionOf(spec)),
          attempt: positionOf(spec).attempt,
          passed: problem === undefined,
          summary: summary
            ? `comparison Worker at ${summary.at}: ${summary.sampled} sampled, ${summary.equal} equal, ${summary.differing} differing${problem ? ` — ${problem}` : ""}`
            : (problem ?? "no summary"),
          report: JSON.stringify(summary),
        });
        process.stderr.write(`compare: evidence written to ${file}\n`);
      }
      return problem ? 1 : 0;
    }
  }
}

export const leaf: Leaf = {
  main,
  secrets: () => [...DATABASE_SECRETS(), process.env.CLOUDFLARE_API_TOKEN],
};
