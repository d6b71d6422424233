/**
 * `cutover check validate`: source vs destination data validation (issue 5, part 2). Thin shell: options,
 * connections, progress and output; the work is in ops/validate/.
 * Exit codes: 0 identical, 1 differences found, 2 could not validate (bad input, server failure).
 */
import { Command, CommanderError } from "commander";
import { isUsageError, newCommand, selfArgs, UsageError, wholeNumber, type Leaf } from "../shell";
import { maskText } from "../../ops/lib/mask";
import { isConnectionLoss, reconnectWithBackoff } from "../../ops/lib/reconnect";
import { SingleBar } from "cli-progress";
import { openDatabase, type Database } from "../../ops/validate/database";
import { parseEndpoint, type Endpoint } from "../../ops/validate/endpoint";
import { ValidateError } from "../../ops/validate/errors";
import { renderText, type RunReport } from "../../ops/validate/report";
import { compareTable, type TableReport } from "../../ops/validate/run";
import { mergeShardReports, parseShard, parseShardReports } from "../../ops/validate/shards";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import type { EndpointFingerprint } from "../../infra/evidence";

/** The stack file, its plan and the evidence store, loaded only when --stack is given (`--help` stays fast). */
const stackParts = async () => ({
  ...(await import("../../ops/validate/stack")),
  ...(await import("../../infra/engine/plan")),
  ...(await import("../../infra/engine/transitions")),
  ...(await import("../../tooling/stack-file")),
  ...(await import("../../infra/evidence")),
});

interface Options {
  source?: string;
  target?: string;
  tables?: string[];
  stack?: string;
  migration?: string;
  schema: string;
  sourceSchema?: string;
  targetSchema?: string;
  sample?: number;
  maxDifferences: number;
  segmentRows: number;
  connectTimeout: number;
  statementTimeout: number;
  giveUpAfter: number;
  json?: boolean;
  evidence?: boolean;
  progress: boolean;
  shard?: string;
  shards?: number;
  merge?: string[];
}

function program(): Command {
  return newCommand("cutover check validate")
    .description(
      "Compare source and target data: row counts per table, then checksums over primary-key ranges with " +
        "bisection down to the differing keys (missing / extra / changed). PostgreSQL ↔ PostgreSQL and PostgreSQL ↔ D1.",
    )
    .option("--source <url>", "source database (default: env SOURCE_DATABASE_URL)")
    .option(
      "--target <url>",
      "target: postgres://…, d1:local:<db>[?persist=<dir>&config=<file>] or d1:remote:<accountId>/<databaseId> (default: env TARGET_DATABASE_URL)",
    )
    .option("--tables <list>", "comma-separated table names", (v) =>
      v
        .split(",")
        .map((t) => t.trim())
        .filter(Boolean),
    )
    .option("-s, --stack <name>", "read the tables from Pulumi.<name>.yaml (with --migration)")
    .option("-m, --migration <name>", "migration in the stack config whose tables to check")
    .option("--schema <name>", "PostgreSQL schema of both sides", "public")
    .option("--source-schema <name>", "PostgreSQL schema of the source (overrides --schema)")
    .option("--target-schema <name>", "PostgreSQL schema of the target (overrides --schema)")
    .option(
      "--sample <n>",
      "quick check of N random source rows instead of the full content check",
      wholeNumber("a whole number above 0 for --sample"),
    )
    .option(
      "--max-differences <n>",
      "keys reported per kind and table; the search stops there",
      wholeNumber("a whole number above 0 for --max-differences"),
      100,
    )
    .option(
      "--segment-rows <n>",
      "rows per checksum query on the first pass",
      wholeNumber("a whole number above 0 for --segment-rows"),
      200_000,
    )
    .option(
      "--connect-timeout <s>",
      "seconds to wait for a connection",
      wholeNumber("a whole number above 0 for --connect-timeout"),
      10,
    )
    .option(
      "--statement-timeout <s>",
      "seconds any one statement may run",
      wholeNumber("a whole number above 0 for --statement-timeout"),
      120,
    )
    .option(
      "--give-up-after <s>",
      "seconds to keep reconnecting when a server restarts mid-run (the table in flight is compared again)",
      wholeNumber("a whole number above 0 for --give-up-after"),
      120,
    )
    .option("--json", "print one JSON document (for CI)")
    .option(
      "--evidence",
      "write the verdict to evidence/<stack>/<migration>/validate[.<store>].json (with --stack/--migration; a dual-write migration has one file per store)",
    )
    .option("--no-progress", "no progress bar even on a terminal")
    .option(
      "--shard <i/n|auto>",
      "check slice i of n of every table (0-based; auto: the Cloud Run task's CLOUD_RUN_TASK_INDEX/COUNT, one JSON line for Cloud Logging)",
    )
    .option(
      "--shards <n>",
      "run the n slices here as n processes and merge their verdicts",
      wholeNumber("a whole number of shards, at least 2", 2),
    )
    .option(
      "--merge <files...>",
      "merge shard reports (validate --shard … --json output, or `gcloud logging read --format=json`) into one verdict",
    )
    .addHelpText(
      "after",
      "\nExit status: 0 identical, 1 differences found, 2 could not validate.\n" +
        "Tables: --tables, else the migration's (with --stack/--migration); one of the two is required.",
    );
}

function endpointFrom(
  flag: string | undefined,
  envName: string,
  which: string,
  env: NodeJS.ProcessEnv,
): Endpoint {
  const value = flag ?? env[envName];
  if (!value)
    throw new ValidateError(`${which} is missing`, `pass ${which} <connection string> or set ${envName}`);
  return parseEndpoint(value, flag ? which : envName);
}

function progressBar(enabled: boolean) {
  if (!enabled) return undefined;
  const bar = new SingleBar({
    format: "{table} [{bar}] {percentage}% | {value}/{total} rows",
    stream: process.stderr,
    hideCursor: true,
    clearOnComplete: true,
  });
  return {
    start: (table: string, rows: number) => bar.start(Math.max(rows, 1), 0, { table }),
    increment: (rows: number) => bar.increment(rows),
    stop: () => bar.stop(),
  };
}

/** Prints the report, writes the evidence when asked, and returns the exit code. */
/** A dual-write migration's committed comparison-Worker evidence, to show beside the verdict. */
async function backgroundComparison(opts: Options): Promise<Pick<RunReport, "backgroundComparison">> {
  if (!opts.stack || !opts.migration) return {};
  const { loadMigration, readEvidence } = await stackParts();
  if (loadMigration(opts.stack, opts.migration).kind !== "dual-write") return {};
  const read = readEvidence(process.cwd(), opts.stack, opts.migration, "compare");
  if ("problem" in read) return { backgroundComparison: null };
  const { passed, at, position, summary } = read.evidence;
  return { backgroundComparison: { passed, at, position, summary } };
}

async function finish(opts: Options, given: RunReport, compact = false): Promise<number> {
  const report: RunReport = { ...given, ...(await backgroundComparison(opts)) };
  process.stdout.write(
    (opts.json ? JSON.stringify(report, null, compact ? undefined : 2) : renderText(report)) + "\n",
  );
  // Evidence is a verdict: a run that could not validate writes none (and leaves an earlier one as it is).
  if (opts.evidence && report.error)
    process.stderr.write("validate: no evidence written: the validation did not finish\n");
  if (opts.evidence && opts.stack && opts.migration && !report.error) {
    const { loadMigration, recordEvidence, positionLabel, positionOf } = await stackParts();
    const spec = loadMigration(opts.stack, opts.migration);
    const reports = report.tables;
    // A dual-write migration's validation is one file per store, each covering that store's tables.
    const toD1 = report.endpoints?.some(
      (e) => e.role === "target" && (e.host.startsWith("d1") || e.host.startsWith("cloudflare:")),
    );
    const store = spec.kind === "dual-write" ? { store: toD1 ? "d1" : "supabase" } : {};
    const file = recordEvidence(process.cwd(), {
      stack: opts.stack,
      migration: opts.migration,
      check: "validate",
      ...store,
      ...(report.endpoints ? { endpoints: report.endpoints } : {}),
      tables: reports.map((t) => ({
        name: t.table,
        rows: t.counts?.source ?? 0,
        ...(t.sampled !== undefined ? { sampled: true as const } : {}),
      })),
      position: positionLabel(positionOf(spec)),
      attempt: positionOf(spec).attempt,
      passed: report.identical,
      summary: `${reports.length} table(s) ${report.identical ? "identical" : report.error ? "not compared (error)" : "differ"}: ${reports.map((t) => `${t.table}${t.identical ? "" : " (DIFFERENT)"}`).join(", ")}`,
      report: JSON.stringify(report),
    });
    process.stderr.write(`validate: evidence written to ${file}\n`);
  }
  // A Cloud Run task that produced its report succeeded, differences or not: a failed task would be
  // retried, and the verdict is the merge's to give.
  if (opts.shard === "auto" && !report.error) return 0;
  return report.error ? 2 : report.identical ? 0 : 1;
}

/** `--shards n`: this command again as n processes, one slice each, merged. */
async function runShards(opts: Options, argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const n = opts.shards!;
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--shards" || argv[i] === "--evidence" || argv[i] === "--json") {
      if (argv[i] === "--shards") i++;
      continue;
    }
    if (argv[i].startsWith("--shards=")) continue;
    rest.push(argv[i]);
  }
  const outputs = await Promise.all(
    Array.from(
      { length: n },
      (_, i) =>
        new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
          const child = spawn(
            process.execPath,
            [...selfArgs(["check", "validate"]), ...rest, "--shard", `${i}/${n}`, "--json", "--no-progress"],
            { env, stdio: ["ignore", "pipe", "pipe"] },
          );
          let out = "";
          let err = "";
          child.stdout.on("data", (d) => (out += d));
          child.stderr.on("data", (d) => (err += d));
          child.on("close", (code) => resolve({ code, out, err }));
        }),
    ),
  );
  const broken = outputs.find((o) => o.code !== 0 && o.code !== 1);
  if (broken) {
    const parsed = (() => {
      try {
        return JSON.parse(broken.out) as RunReport;
      } catch {
        return undefined;
      }
    })();
    throw new ValidateError(
      `a shard could not validate: ${parsed?.error?.message ?? broken.err.trim().split("\n").pop() ?? `exit ${broken.code}`}`,
      parsed?.error?.hint ?? "see the message above; rerun when fixed",
    );
  }
  const merged = mergeShardReports(
    parseShardReports(outputs.map((o, i) => ({ name: `shard ${i}/${n}`, text: o.out }))),
  );
  return finish(opts, merged);
}

async function run(opts: Options, env: NodeJS.ProcessEnv): Promise<number> {
  if (opts.merge) {
    const texts = opts.merge.map((name) => {
      try {
        return { name, text: readFileSync(name, "utf8") };
      } catch {
        throw new ValidateError(`cannot read ${name}`, "pass the shard reports' files");
      }
    });
    return finish(opts, mergeShardReports(parseShardReports(texts)));
  }
  const shard = opts.shard !== undefined ? parseShard(opts.shard, env) : undefined;
  if (shard && opts.evidence)
    throw new ValidateError(
      "--evidence records a whole verdict, not one shard's",
      "merge the shards first: validate --merge <reports…> --evidence (or run --shards n here)",
    );
  if (shard && opts.sample !== undefined)
    throw new ValidateError(
      "--shard checks every row of a slice; --sample checks a few rows",
      "drop one of them",
    );
  const source = endpointFrom(opts.source, "SOURCE_DATABASE_URL", "--source", env);
  const target = endpointFrom(opts.target, "TARGET_DATABASE_URL", "--target", env);
  if (source.kind !== "postgres" && target.kind !== "postgres")
    throw new ValidateError(
      "one side must be PostgreSQL",
      "column types for normalization come from PostgreSQL",
    );
  if (Boolean(opts.stack) !== Boolean(opts.migration))
    throw new ValidateError("--stack and --migration go together", "e.g. --stack staging --migration avvivo");
  if (opts.evidence && !opts.stack)
    throw new ValidateError(
      "--evidence needs --stack and --migration",
      "the evidence belongs to one migration of one stack",
    );
  const fromStack = opts.stack
    ? (await stackParts()).tablesFromStack(
        process.cwd(),
        opts.stack,
        opts.migration as string,
        target.kind === "postgres" ? "postgres" : "d1",
      )
    : undefined;
  const tables = opts.tables ?? fromStack?.tables;
  if (tables === undefined)
    throw new ValidateError(
      "which tables? none were given",
      "pass --tables A,B, or --stack <stack> --migration <name> to validate the migration's critical tables",
    );
  const timeouts = { connectMs: opts.connectTimeout * 1000, statementMs: opts.statementTimeout * 1000 };

  const opened: Database[] = [];
  const reports: TableReport[] = [];
  const started = process.hrtime.bigint();
  let statements: { source: number; target: number } | undefined;
  let reconnects = 0;
  let endpoints: EndpointFingerprint[] | undefined;
  // Statements of connections that were closed are counted before they go.
  const countStatements = () => {
    if (opened.length !== 2) return;
    statements = {
      source: (statements?.source ?? 0) + (opened[0].statements?.() ?? 0),
      target: (statements?.target ?? 0) + (opened[1].statements?.() ?? 0),
    };
  };
  const closeAll = async (dbs: Database[]) => {
    await Promise.allSettled(dbs.map((d) => d.close()));
    dbs.length = 0;
  };
  const bar = progressBar(opts.progress && !opts.json && process.stderr.isTTY === true);
  let error: RunReport["error"];
  try {
    const sourceSchema = opts.sourceSchema ?? fromStack?.sourceSchema ?? opts.schema;
    const targetSchema = opts.targetSchema ?? fromStack?.targetSchema ?? opts.schema;
    // allSettled: when one side fails to open, the other must still be closed or the process hangs.
    const openBoth = async (): Promise<void> => {
      const sides = await Promise.allSettled([
        openDatabase(source, { schema: sourceSchema, timeouts, env }),
        openDatabase(target, { schema: targetSchema, timeouts, env }),
      ]);
      for (const s of sides) if (s.status === "fulfilled") opened.push(s.value);
      const failed = sides.find((s) => s.status === "rejected");
      if (failed) {
        await closeAll(opened);
        throw failed.reason;
      }
    };
    await openBoth();
    endpoints = [
      { role: "source", ...opened[0].identity() },
      { role: "target", ...opened[1].identity() },
    ];
    // The comparison loop rides out a restart of either server: the tables compared so far are kept,
    // the one in flight is compared again from its start on new connections (bounded by --give-up-after).
    for (let i = 0; i < tables.length;) {
      const table = tables[i];
      try {
        const [src, tgt] = opened;
        reports.push(
          await compareTable(table, src, tgt, {
            sample: opts.sample,
            maxDifferences: opts.maxDifferences,
            factor: 16,
            segmentRows: opts.segmentRows,
            leafRows: 256,
            ...(shard ? { shard } : {}),
            onStart: bar?.start,
            onProgress: bar?.increment,
            mapping: fromStack?.mappings?.[table],
          }),
        );
        bar?.stop();
        i++;
      } catch (e) {
        bar?.stop();
        if (!isConnectionLoss(e)) throw e;
        reconnects++;
        countStatements();
        await closeAll(opened);
        await reconnectWithBackoff(`${source.label} / ${target.label}`, (e as Error).message, openBoth, {
          giveUpMs: opts.giveUpAfter * 1000,
          hint: "bring the server back and run validate again (--give-up-after sets how long it waits)",
          say: (line) =>
            process.stderr.write(
              `validate: ${line}; ${table} is compared again from its start (${i} table(s) done are kept)\n`,
            ),
        }).catch((failure: unknown) => {
          throw failure instanceof UsageError && !(failure instanceof ValidateError)
            ? new ValidateError(failure.message, failure.hint)
            : failure;
        });
      }
    }
    // A table the source does not have cannot be validated: bad input, not a difference.
    const absent = reports.filter((t) => t.missingOnSource);
    if (absent.length)
      throw new ValidateError(
        `could not validate ${absent.map((t) => t.table).join(", ")}: not found on the source (${source.label})`,
        "check the names (case-sensitive) and --schema; without --tables, --stack and --migration validate the migration's critical tables",
      );
  } catch (e) {
    bar?.stop();
    if (!(e instanceof ValidateError)) throw e;
    error = { message: e.message, hint: e.hint };
  } finally {
    countStatements();
    await closeAll(opened);
  }

  const report: RunReport = {
    source: source.label,
    target: target.label,
    identical: !error && reports.every((t) => t.identical),
    tables: reports,
    ...(endpoints ? { endpoints } : {}),
    error,
    ...(shard ? { shard } : {}),
    stats: {
      seconds: Number(process.hrtime.bigint() - started) / 1e9,
      ...(statements ? { statements } : {}),
      ...(reconnects ? { reconnects } : {}),
      peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    },
  };
  // One line per shard under Cloud Run: Cloud Logging keeps it as one structured entry to merge later.
  return finish(opts, report, opts.shard === "auto");
}

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const cli = program().exitOverride();
  try {
    cli.parse(argv, { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2; // commander printed the message
    throw e;
  }
  const opts = cli.opts<Options>();
  try {
    if (opts.shards !== undefined) {
      if (opts.shard !== undefined || opts.merge)
        throw new ValidateError("--shards runs every slice itself", "drop --shard / --merge");
      return await runShards(opts, argv, env);
    }
    return await run(opts, env);
  } catch (e) {
    // --json callers get the error as JSON too; the text goes to stderr through runMain either way.
    if (isUsageError(e) && opts.json) {
      const hint = e instanceof UsageError ? e.hint : undefined;
      process.stdout.write(
        JSON.stringify({ error: { message: maskText((e as Error).message), hint } }, null, 2) + "\n",
      );
    }
    throw e;
  }
}

export const leaf: Leaf = { main: (argv) => main(argv) };
