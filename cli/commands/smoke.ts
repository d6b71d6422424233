/**
 * `cutover check smoke <base-url>` — runbook phase D/E health check: `GET /system/status` with the admin
 * token, its Redis fields checked against the phase, then the checklist routes. Point it at a Cloud
 * Run tag URL to check a candidate revision at 0% traffic. Exit 0 only when every check passed.
 */
import { newCommand, type Leaf, UsageError, wholeNumber } from "../shell";
import { CLOUDSQL_PHASES, type CloudSqlPhase } from "../../infra/config/schema";
import { maskUrl, secretsOfUrl } from "../../ops/lib/mask";
import { exitCodeOf, renderJson, renderText } from "../../ops/lib/verdict";
import { loadMigration } from "../../tooling/stack-file";
import { CLOUDSQL_ONLY } from "../../ops/preflight/source";
import { readChecklist } from "../../ops/smoke/checklist";
import { expectationFor } from "../../ops/smoke/expectations";
import { runSmoke, type WriteProbe } from "../../ops/smoke/run";
import { positionOf } from "../../infra/engine/plan";
import { positionLabel } from "../../infra/engine/transitions";
import { recordEvidence } from "../../infra/evidence";

const TOKEN_ENVS = ["SMOKE_ADMIN_TOKEN", "ADMIN_STATUS_TOKEN"];

const program = newCommand("cutover check smoke")
  .description(
    "GET <base-url>/system/status with the admin token and check redis.configured and " +
      "chatRealtime.effectiveMode against the phase, then the checklist routes.",
  )
  .argument("<base-url>", "service or Cloud Run tag URL, e.g. https://candidate---avvivo-api-xyz.a.run.app")
  .option("--phase <phase>", `phase the revision is in: ${CLOUDSQL_PHASES.join(", ")}`)
  .option("-m, --migration <name>", "take the phase from this cloudsql migration in the stack file")
  .option("-s, --stack <stack>", "stack whose Pulumi.<stack>.yaml holds the migration (with --migration)")
  .option("--checklist <file>", "YAML/JSON file listing the checklist routes (auth, shops, streams, …)")
  .option("--token-env <name>", `env var holding the admin token (default: ${TOKEN_ENVS.join(", then ")})`)
  .option(
    "--token-header <name>",
    "header carrying the token; authorization sends Bearer <token>",
    "authorization",
  )
  .option("--timeout <s>", "timeout per request", wholeNumber("seconds, e.g. 10"), 10)
  .option("--json", "print one JSON document instead of one line per check")
  .option(
    "--evidence",
    "write the verdict to evidence/<stack>/<migration>/smoke.json (with --migration); it passes only when every check ran (no SKIP)",
  );

interface SmokeOptions {
  evidence?: boolean;
  phase?: string;
  migration?: string;
  stack?: string;
  checklist?: string;
  tokenEnv?: string;
  tokenHeader: string;
  timeout: number;
  json?: boolean;
}

/** The stack of `--migration`: named, never assumed (a prod URL judged by staging's phase would mislead). */
function stackOf(opts: { stack?: string; migration?: string }): string {
  if (opts.stack === undefined)
    throw new UsageError(
      `--migration ${opts.migration} needs the stack whose file holds it`,
      `-s <stack>, e.g. cutover check smoke <url> -s staging -m ${opts.migration}`,
    );
  return opts.stack;
}

/** The phase to check, and the write probe when a migration's config declares one. */
function resolvePhase(opts: SmokeOptions): { phase: CloudSqlPhase; probe?: WriteProbe } {
  if (opts.phase && opts.migration) throw new UsageError("give either --phase or --migration, not both");
  if (opts.migration) {
    const m = loadMigration(stackOf(opts), opts.migration, { kind: "cloudsql", purpose: CLOUDSQL_ONLY });
    return { phase: m.phase, ...(m.cloudRun.writeBlock.probe ? { probe: m.cloudRun.writeBlock.probe } : {}) };
  }
  if (!opts.phase) {
    throw new UsageError(
      "which phase is the revision in? give --phase <phase> or --stack <stack> --migration <name>",
    );
  }
  if (!(CLOUDSQL_PHASES as readonly string[]).includes(opts.phase)) {
    throw new UsageError(
      `--phase ${opts.phase} is not a cloudsql phase; expected one of ${CLOUDSQL_PHASES.join(", ")}`,
    );
  }
  return { phase: opts.phase as CloudSqlPhase };
}

function resolveToken(opts: SmokeOptions): { token: string; tokenEnv: string } {
  const names = opts.tokenEnv ? [opts.tokenEnv] : TOKEN_ENVS;
  const tokenEnv = names.find((n) => process.env[n]);
  if (!tokenEnv)
    throw new UsageError(`no admin token: set ${names.join(" or ")} (the token of GET /system/status)`);
  return { token: process.env[tokenEnv] as string, tokenEnv };
}

function validateBaseUrl(baseUrl: string): string {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new UsageError(
      `<base-url> ${maskUrl(baseUrl)} is not a URL; expected e.g. https://avvivo-api-xyz.a.run.app`,
    );
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new UsageError(`<base-url> must be http(s), got ${url.protocol}//…`);
  }
  return baseUrl;
}

/** Every secret value this run may meet, to mask in anything printed. */
function runSecrets(baseUrl?: string, tokenEnv?: string): string[] {
  return [
    ...secretsOfUrl(baseUrl),
    ...TOKEN_ENVS.map((n) => process.env[n] ?? ""),
    ...(tokenEnv ? [process.env[tokenEnv] ?? ""] : []),
  ];
}

async function main(argv: readonly string[]): Promise<number> {
  program.parse(argv, { from: "user" });
  const opts = program.opts<SmokeOptions>();
  const baseUrl = program.args[0];
  const secrets = runSecrets(baseUrl, opts.tokenEnv);
  const { phase, probe } = resolvePhase(opts);
  const { token, tokenEnv } = resolveToken(opts);
  const results = await runSmoke({
    baseUrl: validateBaseUrl(baseUrl),
    auth: { header: opts.tokenHeader, token },
    tokenEnv,
    timeoutMs: opts.timeout * 1000,
    expectation: expectationFor(phase),
    ...(probe ? { writeProbe: probe } : {}),
    routes: opts.checklist ? readChecklist(opts.checklist) : undefined,
  });
  process.stdout.write(
    opts.json ? renderJson("check smoke", results, secrets) : renderText(results, secrets),
  );
  // Gate evidence needs every check run: a SKIP (no write probe declared, no checklist given) proves nothing.
  const skipped = results.filter((r) => r.status === "SKIP").map((r) => r.name);
  if (opts.evidence) {
    if (!opts.migration)
      throw new UsageError(
        "--evidence needs --migration (and --stack): the evidence belongs to one migration",
      );
    const failed = results.filter((r) => r.status === "FAIL").map((r) => r.name);
    const stack = stackOf(opts);
    const spec = loadMigration(stack, opts.migration);
    const url = new URL(baseUrl);
    const passed = exitCodeOf(results) === 0 && skipped.length === 0;
    const file = recordEvidence(process.cwd(), {
      stack,
      migration: opts.migration,
      check: "smoke",
      position: positionLabel(positionOf(spec)),
      attempt: positionOf(spec).attempt,
      passed,
      endpoints: [
        {
          role: "target",
          host: url.hostname,
          port: Number(url.port) || (url.protocol === "https:" ? 443 : 80),
          database: "",
        },
      ],
      summary: `${maskUrl(baseUrl)}: ${results.length} check(s)${failed.length ? `, failed: ${failed.join(", ")}` : ""}${skipped.length ? `, skipped: ${skipped.join(", ")} (a gate needs every check run)` : ""}${passed ? ", all passed" : ""}`,
      report: renderJson("check smoke", results, secrets),
    });
    process.stderr.write(`smoke: evidence written to ${file}\n`);
    if (!passed && skipped.length)
      process.stderr.write(
        `smoke: the evidence does not pass: ${skipped.join(", ")} did not run; declare the write probe (cloudRun.writeBlock.probe) and pass --checklist\n`,
      );
    if (!passed) return 1;
  }
  return exitCodeOf(results);
}

export const leaf: Leaf = {
  main,
  secrets: () => runSecrets(program.args[0], program.opts<SmokeOptions>().tokenEnv),
};
