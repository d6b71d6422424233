/**
 * `cutover data capture <install|run|status|remove> --stack staging --migration matchauto [--local|--remote]`
 * Change capture from the legacy PostgreSQL into the new stores, deletes included:
 *   install  the change log and a trigger on every table of the migration (phase shadow, before the
 *            first backfill: every change from then on is logged);
 *   run      apply logged changes to D1 and the new schema until the log is drained (--follow: keep
 *            going until Ctrl-C), reporting the lag;
 *   status   pending changes per table, the lag, what was applied (--json); with --evidence, the lag is
 *            read once a second for --over seconds and the verdict (installed on every table, highest lag
 *            within captureMaxLagSeconds) is written to evidence/<stack>/<migration>/capture.json, the
 *            evidence `dual-write → read-switch` needs;
 *   remove   drop the triggers (after the final cut); --drop-log also drops the log;
 *   worker   the capture Worker, the applier's home from the backfill to the final cut: --local runs it
 *            once in workerd (--budget seconds) on local D1 and KV; --remote reads its last summary from
 *            the account; either judges it (failing tables, lag over the bound, a stopped cron: exit 1).
 */
import { addLegacyAndNew, addTargetOptions } from "../options";
import { loadMigration } from "../../tooling/stack-file";
import {
  actionOnMigration,
  addConnectionBounds,
  boundsOf,
  newCommand,
  seconds,
  type Leaf,
  UsageError,
  wholeNumber,
} from "../shell";
import { connectSource } from "../../ops/backfill/source";
import { DATABASE_SECRETS, databaseUrl } from "../../ops/backfill/plan";
import { dualWriteOnly } from "../../ops/backfill/target-options";
import { captureTables, installCapture, removeCapture } from "../../ops/capture/install";
import { ofStore, run, type Flags } from "../../ops/capture/run";
import { status } from "../../ops/capture/status";
import { isConnectionLoss, reconnectWithBackoff, watchLoss } from "../../ops/lib/reconnect";
import { readRemoteCaptureSummary, runCaptureWorkerLocally } from "../../ops/capture/worker-run";
import {
  captureSummaryProblem,
  renderCaptureSummary,
  type CaptureSummary,
} from "../../ops/capture/worker-spec";
import type { DualWriteMigration } from "../../infra/config/schema";

const ACTIONS = ["install", "run", "status", "remove", "worker"] as const;

/** `worker`: one local run of the capture Worker, or its last summary from the account; judged. */
async function worker(
  stack: string,
  migration: string,
  spec: DualWriteMigration,
  opts: Flags & { budget: number },
): Promise<number> {
  if (Boolean(opts.local) === Boolean(opts.remote))
    throw new UsageError(
      "worker needs --local (one run in workerd, on local state) or --remote (its last summary in the account)",
    );
  let summary: CaptureSummary | null;
  if (opts.local) {
    const needsTarget = spec.tables.some((t) => t.store === "supabase");
    const r = await runCaptureWorkerLocally({
      stack,
      migration,
      spec,
      persistTo: opts.persistTo ?? ".wrangler/state",
      legacyUrl: databaseUrl("legacy", opts.source, spec),
      ...(needsTarget ? { targetUrl: databaseUrl("target", opts.target, spec) } : {}),
      budgetSeconds: opts.budget,
    });
    summary = r.summary;
    process.stderr.write(
      `capture: the Worker's scheduled run in workerd, ${(r.elapsedMs / 1000).toFixed(1)} s with start-up\n`,
    );
  } else {
    const token = process.env.CLOUDFLARE_API_TOKEN;
    if (!token)
      throw new UsageError(
        "CLOUDFLARE_API_TOKEN is not set; hint: export an API token with Workers KV read permission (it is never printed)",
      );
    summary = await readRemoteCaptureSummary(migration, spec, token, opts.requestTimeout);
  }
  const problem = captureSummaryProblem(summary, spec.captureMaxLagSeconds, new Date());
  if (opts.json)
    process.stdout.write(JSON.stringify({ passed: problem === undefined, problem, summary }, null, 2) + "\n");
  else {
    if (summary) process.stdout.write(renderCaptureSummary(summary) + "\n");
    process.stdout.write(problem ? `verdict: FAIL — ${problem}\n` : "verdict: pass\n");
  }
  return problem ? 1 : 0;
}

async function main(argv: readonly string[]): Promise<number> {
  const command = newCommand("cutover data capture")
    .description("change capture from the legacy PostgreSQL into D1 and the new schema, deletes included")
    .argument("<action>", `one of ${ACTIONS.join(", ")}`)
    .option("-s, --stack <name>", "read tables, stores and connections from Pulumi.<name>.yaml");
  const parsed = addLegacyAndNew(
    addTargetOptions(command, {
      local: "apply D1 changes to",
      remote: "apply D1 changes through Cloudflare's HTTP API",
    }),
  )
    .option("--follow", "run: keep applying until Ctrl-C instead of stopping when the log is drained")
    .option("--batch <n>", "run: changes per round", wholeNumber("changes, e.g. 2000"), 2000)
    .option("--interval <s>", "run: pause when the log is empty", seconds("seconds, e.g. 0.2"), 0.2)
    .option(
      "--recheck <seconds>",
      "run: apply each change again this long after it was applied (a late Worker write is overwritten; 0: off)",
      wholeNumber("seconds, e.g. 120", 0),
      0,
    )
    .option(
      "--give-up-after <seconds>",
      "run: how long to keep reconnecting when a database restarts before giving up (exit 2)",
      wholeNumber("seconds, e.g. 300"),
      300,
    )
    .option("--store <store>", "run, status: only the tables of this store (d1 or supabase)")
    .option("--drop-log", "remove: also drop the change log (cutover_capture schema)")
    .option(
      "--budget <seconds>",
      "worker --local: how long the run applies (deployed: 50 s of each minute)",
      wholeNumber("seconds, e.g. 10"),
      10,
    )
    .option(
      "--evidence",
      "status: write the verdict to evidence/<stack>/<migration>/capture.json (the read-switch gate)",
    )
    .option(
      "--over <seconds>",
      "status --evidence: read the lag once a second for this long; the highest reading is judged",
      wholeNumber("seconds, e.g. 10", 0),
      10,
    )
    .option("--json", "print the result as JSON");
  const opts = addConnectionBounds(parsed)
    .parse(argv, { from: "user" })
    .opts<Flags & { budget: number; requestTimeout?: number }>();
  const { action, stack, migration } = actionOnMigration(
    parsed,
    ACTIONS,
    "capture",
    "the tables and their stores come from the stack",
  );
  const spec = loadMigration(stack, migration, {
    kind: "dual-write",
    purpose: dualWriteOnly("data capture"),
  });
  const connectLegacy = async () => {
    const client = await connectSource(databaseUrl("legacy", opts.source, spec), boundsOf(opts, "legacy"));
    return { client, lost: watchLoss(client) };
  };
  if (action === "worker") return worker(stack, migration, spec, opts);
  if (action === "run") {
    // The applier owns its connections: it reconnects when a database restarts. With --follow (a
    // long-running applier) a database that is restarting when it starts is waited for too.
    let first: Awaited<ReturnType<typeof connectLegacy>> | undefined;
    try {
      first = await connectLegacy();
    } catch (error) {
      if (!opts.follow || !isConnectionLoss(error)) throw error;
      first = await reconnectWithBackoff("the legacy database", (error as Error).message, connectLegacy, {
        giveUpMs: opts.giveUpAfter * 1000,
        say: (line) => process.stderr.write(`capture: ${line}\n`),
      });
    }
    return run(ofStore(spec, opts.store), first!, connectLegacy, opts);
  }
  const legacy = (await connectLegacy()).client;
  try {
    switch (action) {
      case "install":
        await installCapture(legacy, captureTables(spec));
        process.stdout.write(
          `change capture installed on ${spec.tables.map((t) => `${spec.legacy.schema}.${t.name}`).join(", ")}\n`,
        );
        return 0;
      case "remove":
        await removeCapture(legacy, captureTables(spec), Boolean(opts.dropLog));
        process.stdout.write(
          `change capture removed${opts.dropLog ? " with its log" : " (the log stays: --drop-log removes it)"}\n`,
        );
        return 0;
      case "status":
        if (opts.evidence && opts.store !== undefined)
          throw new UsageError(
            "--evidence records the capture of every table, not one store's; hint: drop --store",
          );
        return await status(ofStore(spec, opts.store), legacy, {
          json: Boolean(opts.json),
          ...(opts.evidence ? { evidence: { stack, migration, over: opts.over } } : {}),
        });
    }
  } finally {
    await legacy.end();
  }
}

export const leaf: Leaf = {
  main,
  secrets: () => [...DATABASE_SECRETS(), process.env.CLOUDFLARE_API_TOKEN],
};
