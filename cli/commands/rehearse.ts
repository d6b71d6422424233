/**
 * `cutover rehearse [--stack staging] [--migration avvivo] [--rows N] [--rate W] [--bake S] [--drill <phase>] [--json]`
 * A dress rehearsal of a migration on this machine. A dual-write migration goes to rehearse-dual-write.ts;
 * the cloudsql cutover (ops/rehearse/run.ts) runs with real PostgreSQL source and
 * destination fed by pglogical as DMS would, one app process per revision the plan names, a router that
 * applies the plan's traffic table, Redis, and a fixed write load; it prints what happened to the writes.
 * Exit 0 when no acknowledged write was lost, no sequence collided, and every gate and drill passed.
 */
import { CLOUDSQL_ROLLBACK_ORIGINS } from "../../infra/engine/cloudsql-phases";
import { newCommand, type Leaf, UsageError, wholeNumber } from "../shell";
import { reportHtml, timelineSvg } from "../../ops/rehearse/timeline";
import { PLATFORM_DELAYS } from "../../infra/engine/window";
import { drillOf, passed, renderDrills, renderReport } from "../../ops/rehearse/summary";
import {
  REPLICATION_MODES,
  WRITE_MOVES,
  type ReplicationMode,
  type WriteMove,
} from "../../infra/config/cloudsql";
import { onRoute } from "../../infra/engine/transitions";
import { loadStack } from "../../tooling/stack-file";
import { KINDS } from "../../infra/engine/kinds";
import { stopDualWriteRehearsals } from "../../ops/rehearse/dual-write/run";
import { appOf, type AppFlags } from "./rehearse-app";
import { CLOUDSQL_ONLY, rehearseDualWriteCommand, writeRehearsalFiles } from "./rehearse-dual-write";
import { rehearse, stopRunning, type RehearsalReport } from "../../ops/rehearse/run";

interface Flags extends AppFlags {
  readonly stack: string;
  readonly migration?: string;
  readonly rows: number;
  readonly rate: number;
  readonly bake: number;
  readonly drill?: string;
  readonly json?: boolean;
  readonly out: string;
  readonly maxMinutes: number;
  readonly replication?: string;
  readonly writeMove?: string;
  readonly promoteDelay?: number;
  readonly upSeconds?: number;
  readonly convergenceSeconds?: number;
  readonly users?: number;
}

async function main(argv: readonly string[]): Promise<number> {
  const opts = newCommand("cutover rehearse")
    .description("a dress rehearsal of a migration on this machine, under load (cloudsql or dual-write)")
    .option("-s, --stack <name>", "Pulumi.<name>.yaml", "staging")
    .option("-m, --migration <name>", "the migration (default: the stack's first cloudsql one)")
    .option(
      "--rows <n>",
      "built-in app: rows in its table before the run (--seed-sql seeds your own)",
      wholeNumber("rows, e.g. 100000"),
      10_000,
    )
    .option(
      "--rate <n>",
      "writes per second for the whole run",
      wholeNumber("writes per second, e.g. 50"),
      50,
    )
    .option("--bake <s>", "seconds each position is held under load", wholeNumber("seconds, e.g. 5"), 5)
    .option(
      "--drill <phases>",
      `after the walk, roll back from each of these phases (comma-separated, or all) on a fresh stand-in and check the service; cloudsql: ${CLOUDSQL_ROLLBACK_ORIGINS.join(", ")}; dual-write: ${KINDS["dual-write"].rollbackOrigins.join(", ")}`,
    )
    .option(
      "--users <n>",
      "dual-write: virtual users sending the load, each doing one thing at a time (default: max(32, rate / 4))",
      wholeNumber("users, e.g. 32"),
    )
    .option(
      "--app-cmd <command>",
      "your own app instead of the built-in one: the command that starts one revision (PORT is set)",
    )
    .option(
      "--schema-cmd <command>",
      "with --app-cmd: creates or migrates its schema (DATABASE_URL, DIRECT_URL set)",
    )
    .option("--seed-sql <file>", "with --app-cmd: SQL run on the source after the schema")
    .option("--write <request>", 'with --app-cmd: the write, e.g. "POST /api/messages"')
    .option(
      "--write-body <json>",
      "with --app-cmd: its body; {{id}} is the write's unique id, {{n}} its number",
    )
    .option("--read <path>", "with --app-cmd: GET path reading a write back, e.g. /api/messages/{{id}}")
    .option(
      "--ack <table.column>",
      "with --app-cmd: where a write's {{id}} lands, to find acknowledged writes",
    )
    .option(
      "--max-minutes <n>",
      "stop everything and fail if the whole run takes longer",
      wholeNumber("minutes, e.g. 60"),
      60,
    )
    .option(
      "--replication <path>",
      "dms or logical (default: the stack's replication); logical stands in for Supabase (no superuser, no pglogical)",
    )
    .option(
      "--write-move <how>",
      "switch or ramp (default: the stack's writeMove): one bounded switch, or the stepped freeze, promote, canary",
    )
    .option(
      "--promote-delay <s>",
      `how long the DMS stand-in's promotion takes (default ${PLATFORM_DELAYS.dmsPromoteSeconds}: DMS documents several minutes)`,
      wholeNumber("seconds, e.g. 300", 0),
    )
    .option(
      "--up-seconds <s>",
      `the projection's pulumi up per position (default ${PLATFORM_DELAYS.upSeconds}; measure it on staging)`,
      wholeNumber("seconds, e.g. 90", 0),
    )
    .option(
      "--convergence-seconds <s>",
      `the projection's traffic convergence per change (default ${PLATFORM_DELAYS.convergenceSeconds})`,
      wholeNumber("seconds, e.g. 30", 0),
    )
    .option("--json", "print the report as JSON")
    .option("--out <dir>", "where the timelines (SVG), the HTML report and the full JSON go", "rehearsal")
    .parse(argv, { from: "user" })
    .opts<Flags>();
  const log = (prefix: string) => (line: string) => process.stderr.write(`rehearse: ${prefix}${line}\n`);
  const { migrations } = loadStack(opts.stack);
  if (opts.migration !== undefined && !migrations[opts.migration])
    throw new UsageError(
      `--migration ${opts.migration}: Pulumi.${opts.stack}.yaml has no such migration`,
      `one of ${Object.keys(migrations).join(", ")}`,
    );
  if (opts.migration !== undefined && migrations[opts.migration].kind === "dual-write") {
    const given = CLOUDSQL_ONLY.filter(([key]) => opts[key] !== undefined).map(([, flag]) => flag);
    if (given.length)
      throw new UsageError(
        `${given.join(", ")}: cloudsql rehearsal flags, and ${opts.migration} is a dual-write migration`,
        "drop them: the dual-write rehearsal serves its load through the project's API Worker (workers/api)",
      );
    watchdog(opts.maxMinutes);
    return rehearseDualWriteCommand({ ...opts, migration: opts.migration }, log);
  }
  if (opts.users !== undefined)
    throw new UsageError("--users is for a dual-write rehearsal", "name one with --migration");
  if (opts.writeMove !== undefined && !(WRITE_MOVES as readonly string[]).includes(opts.writeMove))
    throw new UsageError(
      `--write-move ${opts.writeMove}: not a way to move writes`,
      `one of ${WRITE_MOVES.join(", ")}`,
    );
  // The route decides which phases a rollback can leave: the stack's, unless --write-move says.
  const declared = Object.entries(migrations).find(
    ([name, m]) => m.kind === "cloudsql" && (opts.migration === undefined || name === opts.migration),
  )?.[1];
  const route = (opts.writeMove ??
    (declared?.kind === "cloudsql" ? declared.writeMove : "ramp")) as WriteMove;
  const origins = CLOUDSQL_ROLLBACK_ORIGINS.filter((p) => onRoute(p, { kind: "cloudsql", route }));
  const drills = opts.drill === "all" ? [...origins] : (opts.drill?.split(",").filter(Boolean) ?? []);
  const unknown = drills.filter((d) => !(origins as readonly string[]).includes(d));
  if (unknown.length)
    throw new UsageError(
      `--drill ${unknown.join(",")}: not a phase a rollback can leave on the ${route} route`,
      `one or more of ${origins.join(", ")}, or all`,
    );
  if (opts.replication !== undefined && !(REPLICATION_MODES as readonly string[]).includes(opts.replication))
    throw new UsageError(
      `--replication ${opts.replication}: not a replication path`,
      `one of ${REPLICATION_MODES.join(", ")}`,
    );
  const common = {
    app: appOf(opts),
    ...(opts.replication ? { replication: opts.replication as ReplicationMode } : {}),
    writeMove: route,
    ...(opts.promoteDelay !== undefined ? { dmsPromoteSeconds: opts.promoteDelay } : {}),
    delays: {
      ...(opts.upSeconds !== undefined ? { upSeconds: opts.upSeconds } : {}),
      ...(opts.convergenceSeconds !== undefined ? { convergenceSeconds: opts.convergenceSeconds } : {}),
    },
    stack: opts.stack,
    ...(opts.migration ? { migration: opts.migration } : {}),
    rows: opts.rows,
    rate: opts.rate,
    bakeSeconds: opts.bake,
  };
  watchdog(opts.maxMinutes);
  const report = await rehearse({ ...common, log: log("") });
  const drillRuns: RehearsalReport[] = [];
  for (const d of drills) drillRuns.push(await rehearse({ ...common, drill: d, log: log(`[drill ${d}] `) }));
  const results = drillRuns.map(drillOf);
  const ok = passed(report) && results.every((d) => d.passed);
  const text = renderReport(report) + renderDrills(results);
  writeRehearsalFiles(opts.out, {
    timeline: timelineSvg(report),
    drills: drillRuns.map((r) => ({ from: r.drill!.from, timeline: timelineSvg(r) })),
    html: reportHtml(report, text, drillRuns),
    json: { passed: ok, ...report, drills: drillRuns },
  });
  if (opts.json) {
    const { samples, ...rest } = report;
    process.stdout.write(
      JSON.stringify({ passed: ok, ...rest, samples: samples.length, drills: results }, null, 2) + "\n",
    );
  } else process.stdout.write(text);
  return ok ? 0 : 1;
}

/** The whole run is bounded: past the limit every server is stopped and the command fails. */
function watchdog(maxMinutes: number): void {
  setTimeout(() => {
    process.stderr.write(
      `rehearse: still running after ${maxMinutes} min (--max-minutes): stopping the stand-in\n`,
    );
    void stopAll().finally(() => process.exit(1)); // it ran and did not finish: 1, not "could not run" (2)
  }, maxMinutes * 60_000).unref();
}

/** Stops the stand-ins of both kinds of rehearsal in progress. */
const stopAll = () => Promise.all([stopRunning(), stopDualWriteRehearsals()]);

/**
 * Ctrl-C, a kill, a closed terminal, or the wrapper that started this process gone: every server and
 * app process is stopped before leaving. Further signals while stopping are ignored (a second Ctrl-C
 * must not cut the cleanup short); the servers' reapers cover a SIGKILL.
 */
function stopOnSignals(): void {
  let stopping = false;
  const stopOn = (why: string, code: number) => {
    if (stopping) {
      process.stderr.write(`rehearse: ${why}: already stopping the stand-in\n`);
      return;
    }
    stopping = true;
    process.stderr.write(`rehearse: ${why}: stopping the stand-in\n`);
    void stopAll().finally(() => process.exit(code));
  };
  for (const [signal, code] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
    ["SIGHUP", 129],
  ] as const)
    process.on(signal, () => stopOn(signal, code));
  const parent = process.ppid;
  setInterval(
    () => process.ppid !== parent && stopOn("the process that started it exited", 143),
    500,
  ).unref();
}

export const leaf: Leaf = {
  main(argv) {
    stopOnSignals();
    return main(argv);
  },
};
