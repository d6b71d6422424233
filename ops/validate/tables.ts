/**
 * One validation run over open connections: both sides opened (and closed, whatever happens), every
 * table compared in turn, a lost connection ridden out by reopening both and comparing the table in
 * flight again (bounded by `giveUpMs`), and the verdict as a report. A failure the operator can fix ends
 * the run with the tables compared so far and the error in the report; anything else is thrown.
 */
import type { EndpointFingerprint } from "../../infra/engine/gates";
import { UsageError } from "../lib/errors";
import { isConnectionLoss, reconnectWithBackoff } from "../lib/reconnect";
import { openDatabase, type Database } from "./database";
import type { Endpoint } from "./endpoint";
import { ValidateError } from "./errors";
import type { RunReport } from "./report";
import { compareTable, type TableMapping, type TableReport } from "./run";
import type { Shard } from "./shards";

export interface ValidateRequest {
  readonly source: Endpoint;
  readonly target: Endpoint;
  readonly tables: readonly string[];
  readonly sourceSchema: string;
  readonly targetSchema: string;
  readonly timeouts: { readonly connectMs: number; readonly statementMs: number };
  readonly env: NodeJS.ProcessEnv;
  /** Check this many random source rows instead of the whole content. */
  readonly sample?: number;
  readonly maxDifferences: number;
  readonly segmentRows: number;
  readonly shard?: Shard;
  /** Renamed columns per table (a dual-write migration's spec). */
  readonly mappings?: Readonly<Record<string, TableMapping>>;
  /** How long to keep reopening connections after a loss before giving up. */
  readonly giveUpMs: number;
  /** Progress per table (a bar on a terminal); stopped before anything else is said. */
  readonly progress?: {
    readonly start: (table: string, rows: number) => void;
    readonly increment: (rows: number) => void;
    readonly stop: () => void;
  };
  /** A line for the operator (a reconnect). */
  readonly say: (line: string) => void;
}

export async function validateTables(req: ValidateRequest): Promise<RunReport> {
  const { source, target, tables, env, timeouts, shard } = req;
  const bar = req.progress;

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
  let error: RunReport["error"];
  try {
    const { sourceSchema, targetSchema } = req;
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
            sample: req.sample,
            maxDifferences: req.maxDifferences,
            factor: 16,
            segmentRows: req.segmentRows,
            leafRows: 256,
            ...(shard ? { shard } : {}),
            onStart: bar?.start,
            onProgress: bar?.increment,
            mapping: req.mappings?.[table],
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
          giveUpMs: req.giveUpMs,
          hint: "bring the server back and run validate again (--give-up-after sets how long it waits)",
          say: (line) =>
            req.say(`${line}; ${table} is compared again from its start (${i} table(s) done are kept)`),
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
  return report;
}
