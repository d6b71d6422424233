/**
 * The switch's first job, inside the VPC: the source frozen at the database and proven, replication at
 * a marker taken after the freeze (the logical path's stop waits for it and drops the replication; on
 * the DMS path every pglogical slot of the database must confirm it), then the exact validation of the
 * still source against Cloud SQL. Bounded by its own deadline; a term that fails or overruns gives writes
 * back to the source before the job fails.
 */
import { Client } from "pg";
import { runSwitch, type SwitchResult } from "../../infra/replication/switch";
import { openDatabase } from "../validate/database";
import { parseEndpoint } from "../validate/endpoint";
import { compareTable, type TableReport } from "../validate/run";
import { ReplicationError, stopLogical, type LogicalOptions } from "./logical";
import { freezeSource, thawSource } from "./source-freeze";

export interface SwitchFreezeOptions {
  readonly mode: "dms" | "logical";
  /** The source as the migration role (the app's role on Supabase). */
  readonly source: string;
  /** Cloud SQL as the validation's reader. */
  readonly validateTarget: string;
  /** The role the app connects to the source as. */
  readonly role: string;
  readonly tables: readonly string[];
  readonly schema: string;
  readonly deadlineSeconds: number;
  /** The logical path's replication (its stop is the promotion). */
  readonly logical?: LogicalOptions;
  readonly connectTimeoutMs?: number;
  readonly log?: (line: string) => void;
}

/** Waits until every pglogical slot of the source's database has confirmed `marker` (the DMS path). */
export async function waitSlotsAt(
  url: string,
  marker: string,
  signal: AbortSignal,
  pollMs = 200,
): Promise<string> {
  const c = new Client({ connectionString: url, application_name: "cutover-switch" });
  c.on("error", () => undefined);
  await c.connect();
  try {
    for (;;) {
      const { rows } = await c.query<{ slot: string; done: boolean }>(
        `SELECT slot_name AS slot, coalesce(confirmed_flush_lsn >= $1::pg_lsn, false) AS done
           FROM pg_replication_slots
          WHERE slot_type = 'logical' AND plugin LIKE 'pglogical%' AND database = current_database()`,
        [marker],
      );
      if (rows.length === 0)
        throw new ReplicationError(
          "the source has no pglogical slot on this database: DMS is not replicating it",
          "check the DMS job (it must be in CDC) before the switch",
        );
      if (rows.every((r) => r.done)) return `${rows.length} slot(s) at ${marker}`;
      if (signal.aborted) throw new ReplicationError(`replication did not reach ${marker} in time`, "");
      await new Promise((r) => setTimeout(r, pollMs));
    }
  } finally {
    await c.end().catch(() => undefined);
  }
}

/**
 * Compares each table exactly (checksums, bisected to rows), one after the other; closes both sides.
 * `maxDifferences` keys are kept per kind and table (the search stops there).
 */
export async function compareExactly(
  source: string,
  target: string,
  tables: readonly string[],
  schema: string,
  statementMs = 600_000,
  maxDifferences = 10,
): Promise<TableReport[]> {
  const open = (url: string, label: string) =>
    openDatabase(parseEndpoint(url, label), {
      schema,
      timeouts: { connectMs: 10_000, statementMs },
      env: process.env,
    });
  const src = await open(source, "source");
  try {
    const dst = await open(target, "target");
    try {
      const reports: TableReport[] = [];
      for (const table of tables)
        reports.push(
          await compareTable(table, src, dst, {
            maxDifferences,
            factor: 16,
            segmentRows: 20000,
            leafRows: 256,
          }),
        );
      return reports;
    } finally {
      await dst.close();
    }
  } finally {
    await src.close();
  }
}

/** Validates each table exactly; throws naming the tables that differ. */
export async function validateExactly(
  source: string,
  target: string,
  tables: readonly string[],
  schema: string,
): Promise<string> {
  const reports = await compareExactly(source, target, tables, schema);
  const different = reports.filter((r) => !r.identical).map((r) => r.table);
  if (different.length)
    throw new ReplicationError(
      `the validation after the freeze found differences in ${different.join(", ")}`,
      "cutover check validate names the rows; nothing was promoted on the DMS path",
    );
  return reports.map((r) => `${r.table} ${r.counts?.source ?? "?"} rows`).join(", ");
}

/** Runs the switch's first job: freeze, marker (and the logical stop), validation; thaws on failure. */
export async function switchFreeze(o: SwitchFreezeOptions): Promise<SwitchResult> {
  let marker = "";
  const bounds = { connectTimeoutMs: o.connectTimeoutMs ?? 10_000 };
  const logical = o.logical;
  const atMarker =
    o.mode === "logical"
      ? {
          name: "promotion",
          run: async () => {
            if (!logical) throw new ReplicationError("the logical path needs its replication's options", "");
            const r = await stopLogical(logical, { catchUpTimeoutMs: o.deadlineSeconds * 1000, pollMs: 100 });
            return r.stopped
              ? `stopped at ${r.marker} after ${r.waitedMs} ms, ${r.sequences} sequence(s) moved`
              : "already stopped";
          },
        }
      : { name: "replication at the marker", run: (s: AbortSignal) => waitSlotsAt(o.source, marker, s) };
  return runSwitch({
    deadlineSeconds: o.deadlineSeconds,
    freeze: async () => {
      const f = await freezeSource(o.source, o.role, bounds);
      marker = f.marker;
      return `role ${f.role} read-only, ${f.ended} session(s) ended, marker ${f.marker}${f.otherWriters.length ? `; other roles connected (not frozen): ${f.otherWriters.join(", ")}` : ""}`;
    },
    terms: [
      atMarker,
      { name: "validation", run: () => validateExactly(o.source, o.validateTarget, o.tables, o.schema) },
    ],
    thaw: () => thawSource(o.source, o.role, bounds),
    ...(o.log ? { log: o.log } : {}),
  });
}
