/**
 * `cutover check validate`: source vs destination data validation. Thin shell: options, progress and
 * output; the work is in ops/validate/ (tables.ts runs the comparison, evidence.ts records it) and the
 * sharded run (this command again, n times, merged) in validate-shards.ts.
 * Exit codes: 0 identical, 1 differences found, 2 could not validate (bad input, server failure).
 */
import { Command, CommanderError } from "commander";
import { isUsageError, newCommand, UsageError, wholeNumber, type Leaf } from "../shell";
import { runShards } from "./validate-shards";
import { maskText } from "../../ops/lib/mask";
import { parseEndpoint, type Endpoint } from "../../ops/validate/endpoint";
import { ValidateError } from "../../ops/validate/errors";
import { renderText, type RunReport } from "../../ops/validate/report";
import { mergeShardReports, parseShard, parseShardReports } from "../../ops/validate/shards";
import { readFileSync } from "node:fs";

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

/** A progress bar on a terminal (its module loaded only then). */
async function progressBar(enabled: boolean) {
  if (!enabled) return undefined;
  const { SingleBar } = await import("cli-progress");
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
async function finish(opts: Options, given: RunReport, compact = false): Promise<number> {
  const where = opts.stack && opts.migration ? { stack: opts.stack, migration: opts.migration } : undefined;
  const evidence = where ? await import("../../ops/validate/evidence") : undefined;
  const report: RunReport = { ...given, ...(where ? evidence!.backgroundComparison(where) : {}) };
  process.stdout.write(
    (opts.json
      ? // `passed` is every check command's verdict key (here: identical, and the run finished).
        JSON.stringify(
          { passed: report.identical && !report.error, ...report },
          null,
          compact ? undefined : 2,
        )
      : renderText(report)) + "\n",
  );
  // Evidence is a verdict: a run that could not validate writes none (and leaves an earlier one as it is).
  if (opts.evidence && report.error)
    process.stderr.write("validate: no evidence written: the validation did not finish\n");
  if (opts.evidence && where && !report.error) {
    const file = evidence!.recordValidation(where, report);
    process.stderr.write(`validate: evidence written to ${file}\n`);
  }
  // A Cloud Run task that produced its report succeeded, differences or not: a failed task would be
  // retried, and the verdict is the merge's to give.
  if (opts.shard === "auto" && !report.error) return 0;
  return report.error ? 2 : report.identical ? 0 : 1;
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
    ? // Loaded only with --stack: the stack file and its schema are not what `--help` should pay for.
      (await import("../../ops/validate/stack")).tablesFromStack(
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
  const bar = await progressBar(opts.progress && !opts.json && process.stderr.isTTY === true);
  // The comparison and its drivers load when there is something to compare (`--help` stays fast).
  const { validateTables } = await import("../../ops/validate/tables");
  const report = await validateTables({
    source,
    target,
    tables,
    sourceSchema: opts.sourceSchema ?? fromStack?.sourceSchema ?? opts.schema,
    targetSchema: opts.targetSchema ?? fromStack?.targetSchema ?? opts.schema,
    timeouts: { connectMs: opts.connectTimeout * 1000, statementMs: opts.statementTimeout * 1000 },
    env,
    sample: opts.sample,
    maxDifferences: opts.maxDifferences,
    segmentRows: opts.segmentRows,
    ...(shard ? { shard } : {}),
    ...(fromStack?.mappings ? { mappings: fromStack.mappings } : {}),
    giveUpMs: opts.giveUpAfter * 1000,
    progress: bar,
    say: (line: string) => process.stderr.write(`validate: ${line}\n`),
  });
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
      return await finish(opts, await runShards(opts.shards, argv, env));
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
