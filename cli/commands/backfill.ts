/**
 * `cutover data backfill --stack staging --migration matchauto --local [--store d1|supabase] [--json]`
 * Copies every table of a dual-write migration from the legacy PostgreSQL into its new store: tables
 * with `store: d1` into D1 (batched idempotent upserts), tables with `store: supabase` into the new
 * Supabase schema (streaming COPY, renamed columns from the spec). Resumable and incremental: each
 * store keeps a checkpoint beside the data, committed with the rows it covers.
 */
import type { Client } from "pg";
import { addLegacyAndNew, addTargetOptions } from "../options";
import { isConnectionLoss, reconnectWithBackoff, watchLoss } from "../../ops/lib/reconnect";
import { connectSource } from "../../ops/backfill/source";
import {
  addConnectionBounds,
  boundsOf,
  newCommand,
  type Leaf,
  UsageError,
  wholeNumber,
  type ConnectionFlags,
} from "../shell";
import { progressReporter } from "../../ops/backfill/progress";
import { backfillTable, type TableResult } from "../../ops/backfill/run";
import { dualWriteOnly, resolveTarget, type TargetOptions } from "../../ops/backfill/target-options";
import { openLocalTarget, openRemoteTarget } from "../../ops/backfill/targets";
import {
  DATABASE_SECRETS,
  databaseUrl,
  planBackfill,
  planPgBackfill,
  sourceUrl,
} from "../../ops/backfill/plan";
import { backfillPgTable } from "../../ops/backfill/pg-target";
import { loadMigration } from "../../tooling/stack-file";

interface BackfillFlags extends TargetOptions {
  readonly giveUpAfter: number;
  readonly tables?: string;
  readonly source?: string;
  readonly target?: string;
  readonly schema?: string;
  readonly primaryKey: string;
  readonly updatedAt: string;
  readonly batchRows: number;
  readonly settleSeconds: number;
  readonly full?: boolean;
  readonly store?: "d1" | "supabase";
  readonly json?: boolean;
}

interface StoreResult extends TableResult {
  readonly store: "d1" | "supabase";
  readonly seconds: number;
}

async function main(argv: readonly string[]): Promise<number> {
  const command = newCommand("cutover data backfill")
    .description(
      "copy the tables of a dual-write migration from the legacy PostgreSQL into D1 and the new schema",
    )
    .option("-s, --stack <name>", "read tables, stores and connections from Pulumi.<name>.yaml")
    .option("--store <store>", "only the tables of this store: d1 or supabase (default: both)")
    .option("--tables <list>", "comma-separated tables (default: every table of the migration)")
    .option("--database <name>", "D1 database (only its tables with --stack)");
  const withOptions = addLegacyAndNew(
    addTargetOptions(command, {
      local: "write D1 tables to",
      remote: "write D1 tables to D1 through Cloudflare's HTTP API",
    }),
  )
    .option("--schema <name>", "source schema without --stack", "public")
    .option("--primary-key <cols>", "primary key columns without --stack", "id")
    .option("--updated-at <col>", "watermark column without --stack", "updated_at")
    .option(
      "--batch-rows <n>",
      "rows per batch (one D1 batch or one COPY page)",
      wholeNumber("rows per batch, e.g. 1000"),
      1000,
    )
    .option(
      "--settle-seconds <n>",
      "leave rows changed this recently for the next run",
      wholeNumber("seconds, e.g. 30", 0),
      30,
    )
    .option(
      "--give-up-after <seconds>",
      "how long to keep reconnecting when a database restarts mid-copy before giving up (exit 2)",
      wholeNumber("seconds, e.g. 300"),
      300,
    )
    .option("--full", "ignore the checkpoints and copy every row again")
    .option("--json", "print one JSON report at the end (progress still goes to stderr)");
  const opts = addConnectionBounds(withOptions)
    .parse(argv, { from: "user" })
    .opts<BackfillFlags & ConnectionFlags>();
  if (opts.store !== undefined && opts.store !== "d1" && opts.store !== "supabase")
    throw new UsageError(`--store ${opts.store} is not a store; hint: d1 or supabase`);

  if (opts.stack !== undefined && opts.migration === undefined)
    throw new UsageError(
      `--stack ${opts.stack} needs --migration <name>: which dual-write migration of the stack to work on`,
    );
  if (opts.stack === undefined && opts.store === "supabase")
    throw new UsageError(
      "--store supabase needs --stack and --migration; hint: the new schema and the column mapping come from the stack",
    );
  const spec = opts.stack
    ? loadMigration(opts.stack, opts.migration!, {
        kind: "dual-write",
        purpose: dualWriteOnly("data backfill"),
      })
    : undefined;
  const named = opts.tables?.split(",").map((t) => t.trim());
  const wantD1 =
    opts.store !== "supabase" &&
    (!spec || spec.tables.some((t) => t.store === "d1" && (!named || named.includes(t.name))));
  const pgWork =
    opts.store !== "d1" && spec ? planPgBackfill(spec, opts.tables, opts.store === "supabase") : [];
  if (wantD1 && !opts.local && !opts.remote && pgWork.length)
    throw new UsageError(
      "the migration has D1 tables: choose --local or --remote for them; hint: or pass --store supabase to copy only the new schema's tables",
    );
  const target = wantD1 ? await resolveTarget(opts, process.env, "data backfill") : undefined;
  const d1Work = target ? planBackfill(target, opts, pgWork.length > 0) : [];
  const targetUrl = pgWork.length ? databaseUrl("target", opts.target, spec) : undefined;
  const openLegacy = () => connectSource(sourceUrl(opts.source, spec), boundsOf(opts, "legacy"));
  let source = await openLegacy();
  let sourceLost = watchLoss(source);
  let reconnects = 0;
  /**
   * One table's copy, again from its checkpoint when a database restarts under it: the connections are
   * reopened with backoff (bounded by --give-up-after) and the copy resumes where it committed.
   */
  const resilient = async <T>(
    table: string,
    work: () => Promise<T>,
    reopenTarget?: () => Promise<() => string | undefined>,
    targetLost?: () => string | undefined,
  ): Promise<T> => {
    let lostTarget = targetLost;
    for (;;) {
      try {
        return await work();
      } catch (error) {
        const why =
          sourceLost() ?? lostTarget?.() ?? (isConnectionLoss(error) ? (error as Error).message : undefined);
        if (why === undefined) throw error;
        reconnects += 1;
        await source.end().catch(() => undefined);
        await reconnectWithBackoff(
          `the databases of ${table}`,
          why,
          async () => {
            const next = await openLegacy();
            try {
              const lost = reopenTarget ? await reopenTarget() : undefined;
              source = next;
              sourceLost = watchLoss(next);
              lostTarget = lost;
            } catch (e) {
              await next.end().catch(() => undefined);
              throw e;
            }
          },
          {
            giveUpMs: opts.giveUpAfter * 1000,
            say: (line) => process.stderr.write(`backfill: ${line}; ${table} resumes from its checkpoint\n`),
          },
        );
      }
    }
  };
  const log = (line: string) => (opts.json ? process.stderr : process.stdout).write(line + "\n");
  const started = Date.now();
  const results: StoreResult[] = [];
  const options = (table: string) => {
    const progress = progressReporter(table);
    return {
      progress,
      run: {
        batchRows: opts.batchRows,
        settleSeconds: opts.settleSeconds,
        full: opts.full,
        onProgress: progress.update,
      },
    };
  };
  const timed = async (
    store: "d1" | "supabase",
    table: string,
    work: (o: ReturnType<typeof options>["run"]) => Promise<TableResult>,
  ) => {
    const { progress, run } = options(table);
    const t0 = Date.now();
    const result = await work(run).finally(progress.stop);
    const r = { ...result, store, seconds: (Date.now() - t0) / 1000 };
    results.push(r);
    log(summaryLine(r, opts.settleSeconds));
  };
  try {
    for (const { database, tables } of d1Work) {
      const d1 = target!.local
        ? await openLocalTarget(database, target!.persistTo)
        : openRemoteTarget(target!.client!, target!.accountId!, database);
      log(`backfill → ${d1.description}`);
      try {
        for (const table of tables)
          await timed("d1", table.name, (run) =>
            resilient(table.name, () => backfillTable(source, d1, table, run)),
          );
      } finally {
        await d1.close();
      }
    }
    if (pgWork.length) {
      const openTarget = () => connectSource(targetUrl!, boundsOf(opts, "target"));
      let pg: Client = await openTarget();
      let pgLost = watchLoss(pg);
      const reopenTarget = async () => {
        await pg.end().catch(() => undefined);
        pg = await openTarget();
        pgLost = watchLoss(pg);
        return pgLost;
      };
      log(`backfill → PostgreSQL schema ${pgWork[0].targetSchema}`);
      try {
        for (const table of pgWork)
          await timed("supabase", table.name, (run) =>
            resilient(
              table.name,
              () => backfillPgTable(source, pg, table, run),
              reopenTarget,
              () => pgLost(),
            ),
          );
      } finally {
        await pg.end().catch(() => undefined);
      }
    }
  } finally {
    await source.end().catch(() => undefined);
  }
  if (reconnects)
    process.stderr.write(
      `backfill: ${reconnects} reconnect(s): rows copied before a loss were committed with their checkpoint and are not counted again\n`,
    );
  const copied = results.reduce((n, r) => n + r.copied, 0);
  const seconds = (Date.now() - started) / 1000;
  if (opts.json) {
    process.stdout.write(JSON.stringify({ copied, seconds, tables: results.map(jsonOf) }, null, 2) + "\n");
  } else {
    log(
      `total: ${copied} rows copied into ${d1Work.length} D1 database(s)${pgWork.length ? " and the new schema" : ""} in ${seconds.toFixed(1)} s` +
        (copied ? ` (${Math.round(copied / seconds)} rows/s)` : ""),
    );
  }
  return 0;
}

function jsonOf(r: StoreResult) {
  return {
    table: r.table,
    store: r.store,
    copied: r.copied,
    statements: r.statements,
    seconds: Number(r.seconds.toFixed(3)),
    rowsPerSecond: r.seconds > 0 ? Math.round(r.copied / r.seconds) : null,
    resumedFrom: r.resumedFrom ?? null,
    watermark: r.watermark ?? null,
    ahead: r.ahead,
    heldBack: r.heldBack,
    pending: r.pending,
  };
}

function summaryLine(r: TableResult, settleSeconds: number): string {
  const from = r.resumedFrom ? `after ${r.resumedFrom.updatedAt}` : "from the start";
  const { settling, future } = r.heldBack;
  const reasons = [
    ...(settling
      ? [
          `${settling} changed in the last ${settleSeconds} s (an open transaction may still commit an older updated_at)`,
        ]
      : []),
    ...(future ? [`${future} dated after the legacy clock's now`] : []),
  ];
  const held = reasons.length
    ? `; held back from the watermark: ${reasons.join(", ")}; ${r.ahead} copied ahead of it, the next run reads them again`
    : "";
  const since = r.pending - settling - future;
  const pending = since > 0 ? `; ${since} written since, for the next run` : "";
  const upTo = r.watermark ? `, watermark ${r.watermark.updatedAt}` : "";
  return `  ${r.table}: ${r.copied} rows copied (${from}${upTo}; ${r.statements} statements)${held}${pending}`;
}

export const leaf: Leaf = {
  main,
  secrets: () => DATABASE_SECRETS(),
};
