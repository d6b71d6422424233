/**
 * The runbook-2 stand-in's data side, every part real and on loopback: the legacy PostgreSQL laid out
 * as the Match-Auto Supabase database (public schema, seeded), the new Supabase schema's PostgreSQL,
 * the edge (ops/rehearse/dual-write/edge.ts), and the operator's tools run as libraries: the schema
 * migrations, the change capture's install, the backfill. The applier is the capture Worker in the edge,
 * fired run after run as its cron fires it in production (each run {@link RUN_SECONDS} long here).
 */
import { Client } from "pg";
import type { DualWriteMigration } from "../../../infra/config/schema";
import { startPostgres } from "../../../tooling/local-postgres";
import { pgTableSpec } from "../../backfill/plan";
import { backfillPgTable } from "../../backfill/pg-target";
import { backfillTable } from "../../backfill/run";
import { connectSource } from "../../backfill/source";
import { CAPTURE_BATCH, type CaptureSummary, type CaptureWorkerSpec } from "../../capture/worker-spec";
import { captureTables, installCapture, removeCapture } from "../../capture/install";
import { migrateSchema } from "../../schema/run";
import { applyD1Migrations } from "../../schema/d1";
import { startEdge, type Edge } from "./edge";
import { EDGE_SCHEMA, RELATIONAL_SCHEMA, insertCategories, insertCities, insertRelational } from "./legacy";
import type { Table } from "./load";

/** Longer than the load's request timeout (10 s): an abandoned request's late write is overwritten. */
const RECHECK_SECONDS = 30;
/** Seconds each run of the capture Worker applies here (a minute's 50 s in production). */
const RUN_SECONDS = 2;
/**
 * Runs the drain at the final cut may take before the rehearsal calls the capture stuck: its pending
 * changes, then the rechecks of the last ones, due {@link RECHECK_SECONDS} after their first application.
 */
const DRAIN_RUNS = 30 + Math.ceil(RECHECK_SECONDS / RUN_SECONDS);

export interface StandIn {
  readonly legacyUrl: string;
  readonly targetUrl: string;
  /** The test's (and the gates') own connection to legacy. */
  readonly legacy: Client;
  readonly edge: Edge;
  /** Seeded rows per table the load writes, and in all. */
  readonly seeded: Readonly<Record<Table, number>> & { readonly total: number };
  /** shadow: the new schema, the D1 schema and the change capture's triggers. */
  prepareNewStores(): Promise<void>;
  /** One backfill of every table into its store; returns the rows it copied. */
  backfill(): Promise<number>;
  /** Deploys the capture Worker and fires its runs back to back in the background. */
  startApplier(): Promise<void>;
  /** Redeploys the running capture Worker with the after-cut rule (before the final cut's flags). */
  applyAfterCut(): Promise<void>;
  /** Runs the capture Worker until the log is empty (pending changes and rechecks), then stops its runs. */
  drainApplier(): Promise<void>;
  /** What the capture Worker's runs reported, in order. */
  captureRuns(): readonly CaptureSummary[];
  /** The final cut's last step: the triggers dropped (the log stays until decommission). */
  removeCapture(): Promise<void>;
  stop(): Promise<void>;
}

/** How the seed splits `rows` over the tables: six relational rows per user, a third of it cities. */
function seedSizes(rows: number) {
  const cities = Math.max(50, Math.floor(rows / 3));
  const users = Math.max(10, Math.floor((rows - cities) / 6));
  return { users, cities, categories: 40 };
}

export async function startStandIn(opts: {
  readonly migration: string;
  readonly stack: string;
  readonly spec: DualWriteMigration;
  readonly rows: number;
  readonly dir: string;
  readonly onStop: (stop: () => Promise<void>) => void;
}): Promise<StandIn> {
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const s of stops.splice(0).reverse()) await s().catch(() => undefined);
  };
  opts.onStop(stopAll);
  try {
    const [legacyServer, targetServer] = await Promise.all([startPostgres(), startPostgres()]);
    stops.push(
      () => legacyServer.stop(),
      () => targetServer.stop(),
    );
    const legacyUrl = legacyServer.urlFor(opts.spec.legacy.database);
    const targetUrl = targetServer.urlFor(opts.spec.target.database);
    const legacy = new Client({ connectionString: legacyUrl });
    legacy.on("error", () => undefined); // a server stopped under it: the next query says so
    await legacy.connect();
    stops.push(() => legacy.end());
    const sizes = seedSizes(opts.rows);
    await legacy.query(RELATIONAL_SCHEMA + EDGE_SCHEMA);
    await insertRelational(legacy, sizes.users);
    await insertCities(legacy, 1, sizes.cities);
    await insertCategories(legacy, sizes.categories);
    const edge = await startEdge({ ...opts, legacyUrl, targetUrl });
    stops.push(() => edge.stop());

    let applier: { stop: () => Promise<void> } | undefined;
    // Stopped first (stops run in reverse): its runs end before the servers do.
    stops.push(async () => applier?.stop());
    const runs: CaptureSummary[] = [];
    let afterCutRule = false;
    const workerSpec = (afterCut: boolean): CaptureWorkerSpec => ({
      stack: opts.stack,
      migration: opts.migration,
      afterCut,
      batch: CAPTURE_BATCH,
      recheckSeconds: RECHECK_SECONDS,
      budgetSeconds: RUN_SECONDS,
      spec: opts.spec,
    });
    /** One run of the capture Worker; a table it could not apply fails the rehearsal. */
    const runOnce = async () => {
      const summary = await edge.captureOnce();
      if (!summary) throw new Error("the capture Worker wrote no summary");
      runs.push(summary);
      if (summary.failed.length)
        throw new Error(
          `the capture Worker failed: ${summary.failed.map((f) => `${f.table}: ${f.error}`).join("; ")}`,
        );
      return summary;
    };
    const startApplier = async () => {
      if (applier) return;
      if (!afterCutRule) await edge.deployCapture(workerSpec(false));
      let stopping = false;
      const done = (async () => {
        while (!stopping) await runOnce();
      })();
      // An applier that dies is a failed rehearsal: its error surfaces when it is stopped.
      done.catch(() => undefined);
      applier = {
        stop: async () => {
          stopping = true;
          await done;
        },
      };
    };
    return {
      legacyUrl,
      targetUrl,
      legacy,
      edge,
      seeded: {
        listings: sizes.users,
        cities: sizes.cities,
        total: sizes.users * 6 + sizes.cities + sizes.categories,
      },
      async prepareNewStores() {
        await migrateSchema({ url: targetUrl, schema: opts.spec.target.schema });
        for (const d of opts.spec.d1) await applyD1Migrations(edge.d1(d.name));
        await installCapture(legacy, captureTables(opts.spec));
      },
      async backfill() {
        const source = await connectSource(legacyUrl);
        const target = await connectSource(targetUrl);
        const run = { batchRows: 1000, settleSeconds: 2 };
        let copied = 0;
        try {
          for (const t of opts.spec.tables)
            copied += (
              t.store === "supabase"
                ? await backfillPgTable(source, target, pgTableSpec(opts.spec, t), run)
                : await backfillTable(
                    source,
                    edge.d1(t.d1Database!),
                    {
                      name: t.name,
                      schema: opts.spec.legacy.schema,
                      primaryKey: t.primaryKey,
                      updatedAtColumn: t.updatedAtColumn,
                    },
                    run,
                  )
            ).copied;
        } finally {
          await source.end().catch(() => undefined);
          await target.end().catch(() => undefined);
        }
        return copied;
      },
      startApplier,
      async applyAfterCut() {
        const running = applier;
        applier = undefined;
        await running?.stop();
        afterCutRule = true;
        await edge.deployCapture(workerSpec(true));
        await startApplier();
      },
      async drainApplier() {
        const running = applier;
        applier = undefined;
        await running?.stop();
        for (let i = 0; i < DRAIN_RUNS; i++) {
          const left = await runOnce();
          if (left.pending === 0 && left.rechecks === 0) return;
        }
        throw new Error(`the capture Worker had not drained the log after ${DRAIN_RUNS} runs`);
      },
      captureRuns: () => runs,
      removeCapture: () => removeCapture(legacy, captureTables(opts.spec), false),
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
