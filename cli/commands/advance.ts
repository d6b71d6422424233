/**
 * `cutover advance -s <stack> -m <migration> --deployed deployed.json [--apply]`: after `pulumi up` of a ramp
 * step, waits out the bake, judges it, then moves the stack file to the next step or to rollback (with
 * --apply), for the workflow to commit and apply. A cloudsql canary step: smoke against the candidate's tag
 * URL, 5xx rate and p95 latency of its revision from Cloud Monitoring. A dual-write read-switch step: the
 * new stores' failed calls and read p99 as the flags module reported them to Analytics Engine. Exit 0
 * advanced or waiting, 1 held or rolled back, 2 usage.
 */
import { EXIT, newCommand, type Leaf, wholeNumber } from "../shell";
import { runAdvance, type AdvanceReport } from "../../ops/advance/run";
function render(r: AdvanceReport): string {
  const lines = [`decision: ${r.decision.action} — ${r.decision.reason}`];
  if (r.smoke) lines.push(`smoke: ${r.smoke.passed ? "passed" : `FAILED (${r.smoke.failures.join("; ")})`}`);
  if (r.metrics)
    lines.push(
      r.metrics.kind === "data"
        ? `metrics: ${r.metrics.requests} requests, ${r.metrics.errors5xx} 5xx, p95 ${r.metrics.latencyP95Ms === undefined ? "n/a" : `${Math.round(r.metrics.latencyP95Ms)} ms`}`
        : `metrics: unavailable (${r.metrics.message})`,
    );
  if (r.storeHealth)
    lines.push(
      r.storeHealth.kind === "data"
        ? (["new", "legacy"] as const)
            .map((store) => {
              const c = r.storeHealth!.kind === "data" ? r.storeHealth!.byStore[store] : undefined;
              return c
                ? `${store} stores: ${c.requests} calls, ${c.errors} failed, read p99 ${c.readP99Ms === undefined ? "n/a" : `${Math.round(c.readP99Ms)} ms`}`
                : `${store} stores: no calls reported`;
            })
            .join("\n")
        : `store metrics: unavailable (${r.storeHealth.message})`,
    );
  if (r.applied) lines.push("", r.applied.trimEnd());
  return lines.join("\n") + "\n";
}

const program = newCommand("cutover advance")
  .description(
    "Judges the current ramp step (a canary step, or a read-switch step) after its bake and moves the stack file on, or back.",
  )
  .requiredOption("-s, --stack <name>", "stack name: Pulumi.<name>.yaml")
  .requiredOption(
    "-m, --migration <name>",
    "the migration on its ramp (cloudsql canary, dual-write read switch)",
  )
  .requiredOption(
    "--deployed <file>",
    "`pulumi stack output --json` of the stack (the ledger and the service URL)",
  )
  .option("--candidate-url <url>", "the candidate's tag URL (default: candidate--- + the service host)")
  .option("--apply", "write the next step (or the rollback) into the stack file")
  .option("--wait", "sleep until the bake is over instead of returning")
  .option("--timeout <s>", "per smoke request", wholeNumber("seconds, e.g. 10"), 10)
  .option("--json", "one JSON document");

async function main(argv: readonly string[]): Promise<number> {
  program.parse(argv, { from: "user" });
  const o = program.opts<{
    stack: string;
    migration: string;
    deployed: string;
    candidateUrl?: string;
    apply?: boolean;
    wait?: boolean;
    timeout: number;
    json?: boolean;
  }>();
  const report = await runAdvance({
    stack: o.stack,
    migration: o.migration,
    deployedFile: o.deployed,
    candidateUrl: o.candidateUrl,
    apply: o.apply,
    wait: o.wait,
    timeoutMs: o.timeout * 1000,
  });
  process.stdout.write(o.json ? JSON.stringify(report, null, 2) + "\n" : render(report));
  return report.decision.action === "advance" || report.decision.action === "wait" ? EXIT.ok : EXIT.no;
}

export const leaf: Leaf = {
  main,
  secrets: () => [process.env.SMOKE_ADMIN_TOKEN, process.env.GOOGLE_OAUTH_ACCESS_TOKEN],
};
