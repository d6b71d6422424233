/**
 * `npm run backfill -- --stack staging --migration matchauto --local`
 * Copies the D1-bound tables of a dual-write migration from the legacy PostgreSQL into D1: batched
 * idempotent upserts, resumable and incremental (checkpoint table in D1), progress and a final count.
 */
import { connectSource } from "./backfill/source";
import { newCommand, runMain, wholeNumber } from "./lib/cli";
import { progressReporter } from "./backfill/progress";
import { backfillTable, type TableResult } from "./backfill/run";
import { addTargetOptions, resolveTarget, type TargetOptions } from "./backfill/target-options";
import { openLocalTarget, openRemoteTarget } from "./backfill/targets";
import { planBackfill, sourceUrl } from "./backfill/plan";

interface BackfillFlags extends TargetOptions {
  readonly tables?: string;
  readonly sourceUrl?: string;
  readonly schema?: string;
  readonly primaryKey: string;
  readonly updatedAt: string;
  readonly batchRows: number;
  readonly settleSeconds: number;
  readonly full?: boolean;
}

async function main(): Promise<void> {
  const command = newCommand("backfill")
    .description("copy the D1 tables of a dual-write migration from the legacy PostgreSQL into D1")
    .option("--stack <name>", "read tables, D1 databases and the legacy connection from Pulumi.<name>.yaml")
    .option("--tables <list>", "comma-separated tables (default: every D1 table of the migration)")
    .option("--database <name>", "D1 database (only its tables with --stack)");
  const opts = addTargetOptions(command, {
    local: "write to",
    remote: "write to D1 through Cloudflare's HTTP API",
  })
    .option("--source-url <url>", "legacy PostgreSQL URL (prefer the LEGACY_DATABASE_URL variable)")
    .option("--schema <name>", "source schema without --stack", "public")
    .option("--primary-key <cols>", "primary key columns without --stack", "id")
    .option("--updated-at <col>", "watermark column without --stack", "updated_at")
    .option("--batch-rows <n>", "rows per D1 batch", wholeNumber("rows per batch, e.g. 1000"), 1000)
    .option(
      "--settle-seconds <n>",
      "leave rows changed this recently for the next run",
      wholeNumber("seconds, e.g. 30", 0),
      30,
    )
    .option("--full", "ignore the checkpoint and copy every row again")
    .parse()
    .opts<BackfillFlags>();

  const target = await resolveTarget(opts);
  const work = planBackfill(target, opts);
  const url = sourceUrl(opts.sourceUrl, target.spec);
  const source = await connectSource(url);
  const started = Date.now();
  const results: TableResult[] = [];
  try {
    for (const { database, tables } of work) {
      const d1 = target.local
        ? await openLocalTarget(database, target.persistTo)
        : openRemoteTarget(target.client!, target.accountId!, database);
      process.stdout.write(`backfill → ${d1.description}\n`);
      try {
        for (const table of tables) {
          const progress = progressReporter(table.name);
          const result = await backfillTable(source, d1, table, {
            batchRows: opts.batchRows,
            settleSeconds: opts.settleSeconds,
            full: opts.full,
            onProgress: progress.update,
          }).finally(progress.stop);
          results.push(result);
          process.stdout.write(summaryLine(result, opts.settleSeconds) + "\n");
        }
      } finally {
        await d1.close();
      }
    }
  } finally {
    await source.end();
  }
  const copied = results.reduce((n, r) => n + r.copied, 0);
  const seconds = (Date.now() - started) / 1000;
  process.stdout.write(
    `total: ${copied} rows copied into ${work.length} D1 database(s) in ${seconds.toFixed(1)} s` +
      (copied ? ` (${Math.round(copied / seconds)} rows/s)` : "") +
      "\n",
  );
}

function summaryLine(r: TableResult, settleSeconds: number): string {
  const from = r.resumedFrom ? `after ${r.resumedFrom.updatedAt}` : "from the start";
  const pending = r.pending
    ? `; ${r.pending} changed in the last ${settleSeconds} s, left for the next run`
    : "";
  const upTo = r.watermark ? `, watermark ${r.watermark.updatedAt}` : "";
  return `  ${r.table}: ${r.copied} rows copied (${from}${upTo}; ${r.statements} statements)${pending}`;
}

runMain(main, {
  name: "backfill",
  secrets: () => [process.env.LEGACY_DATABASE_URL, process.env.LEGACY_DATABASE_PASSWORD],
});
