/**
 * The Cloudflare side of the runbook-2 stand-in: one workerd (Miniflare) hosting the Match-Auto API
 * Worker (workers/api), the comparison Worker (workers/compare) and the capture Worker (workers/capture),
 * each bundled the way `wrangler deploy` bundles it (`--dry-run`, offline), with the flags KV, the migration's D1 databases and two
 * Hyperdrive-shaped bindings to the local PostgreSQL servers. Every part that reads D1 or KV — the API, the
 * backfill, the change capture, validate, the comparison — goes through this one process and one state
 * folder (laid out as `wrangler --persist-to` lays it out), so they all see the same databases; this
 * process reaches them through the gateway Worker (gateway.ts).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Readable } from "node:stream";
import type { Miniflare as MiniflareType, WorkerOptions } from "miniflare";
import type { DualWriteMigration } from "../../../infra/config/schema";
import type { DualWriteFlags } from "../../../infra/engine/dual-write";
import { fromRoot } from "../../../tooling/root";
import { bundleWorker } from "./bundle";
import { gatewayClient, gatewayWorker } from "./gateway";
import type { D1Target } from "../../backfill/targets";
import { localDatabaseId } from "../../backfill/wrangler-config";
import { compareSpecOf, COMPATIBILITY } from "../../compare/config";
import { summaryKey, type CompareSummary } from "../../compare/spec";
import {
  CAPTURE_CRON,
  captureSummaryKey,
  type CaptureSummary,
  type CaptureWorkerSpec,
} from "../../capture/worker-spec";
import type { D1Executor } from "../../validate/d1";
import type { SqliteValue } from "../../validate/normalize";

export const API_MAIN = fromRoot("workers/api/worker.ts");
export const COMPARE_MAIN = fromRoot("workers/compare/worker.ts");
export const CAPTURE_MAIN = fromRoot("workers/capture/worker.ts");
/** How long an API isolate reuses the flags entry: the flags module's production default. */
export const FLAGS_TTL_MS = 5000;

export interface EdgeOptions {
  readonly migration: string;
  readonly stack: string;
  readonly spec: DualWriteMigration;
  readonly legacyUrl: string;
  readonly targetUrl: string;
  /** Where the bundles and the local state go. */
  readonly dir: string;
}

export interface Edge {
  /** The API Worker's address. */
  readonly url: URL;
  /** The folder holding the local D1 and KV state (what `--persist-to` takes). */
  readonly persistTo: string;
  /** One D1 database of the spec, by name, as the backfill and the capture write it. */
  d1(name: string): D1Target;
  /** The same database as validate reads it. */
  d1Executor(name: string): D1Executor;
  /** Writes the flags entry, as the Pulumi program does at `up`. */
  putFlags(key: string, flags: DualWriteFlags): Promise<void>;
  /** Deploys the API Worker again with this floor (the CUTOVER_FLAGS_FLOOR binding). */
  deployFloor(floor: DualWriteFlags | undefined): Promise<void>;
  /** Deploys (true) or deletes (false) the comparison Worker. */
  deployCompare(on: boolean): Promise<void>;
  /** One scheduled run of the comparison Worker, then its summary from KV. */
  compareOnce(): Promise<CompareSummary | null>;
  /** Deploys the capture Worker with this spec (CAPTURE_SPEC), or deletes it (undefined). */
  deployCapture(spec: CaptureWorkerSpec | undefined): Promise<void>;
  /** One scheduled run of the capture Worker (its budget long), then its summary from KV. */
  captureOnce(): Promise<CaptureSummary | null>;
  stop(): Promise<void>;
}

const FLAGS_KV_ID = "local-flags";
const RESULTS_KV_ID = "local-cutover-compare";

export async function startEdge(opts: EdgeOptions): Promise<Edge> {
  const [apiScript, compareScript, captureScript] = await Promise.all([
    bundleWorker(API_MAIN, path.join(opts.dir, "bundle", "api")),
    bundleWorker(COMPARE_MAIN, path.join(opts.dir, "bundle", "compare")),
    bundleWorker(CAPTURE_MAIN, path.join(opts.dir, "bundle", "capture")),
  ]);
  const persistTo = path.join(opts.dir, "state");
  const d1Databases = Object.fromEntries(opts.spec.d1.map((d) => [d.binding, localDatabaseId(d.name)]));
  const script = (file: string) => ({
    modules: [{ type: "ESModule" as const, path: file, contents: fs.readFileSync(file, "utf8") }],
    modulesRoot: path.dirname(file),
    compatibilityDate: COMPATIBILITY.date,
    compatibilityFlags: [...COMPATIBILITY.flags],
  });
  /*
   * The Workers reach PostgreSQL through bindings of Hyperdrive's shape ({ connectionString }) that point
   * straight at the loopback servers: Miniflare's own local Hyperdrive proxy leaves its sockets without an
   * error handler (a connection reset by workerd ends the host process) and adds ~40 ms per connection.
   */
  const hyperdrives = {
    LEGACY_DB: { connectionString: opts.legacyUrl },
    TARGET_DB: { connectionString: opts.targetUrl },
  };
  let floor: DualWriteFlags | undefined;
  let port = 0;
  let compareOn = false;
  let captureSpec: string | undefined;
  /** One of cutover's scheduled Workers: the stores' bindings, its results namespace, its spec. */
  const scheduledWorker = (name: string, file: string, spec: Record<string, string>): WorkerOptions => ({
    name,
    ...script(file),
    d1Databases,
    kvNamespaces: { RESULTS: RESULTS_KV_ID },
    bindings: { ...hyperdrives, ...spec },
  });
  const workers = (): WorkerOptions[] => [
    {
      name: "api",
      ...script(apiScript),
      d1Databases,
      kvNamespaces: { FLAGS: FLAGS_KV_ID },
      bindings: {
        ...hyperdrives,
        MIGRATION: opts.migration,
        LEGACY_SCHEMA: opts.spec.legacy.schema,
        TARGET_SCHEMA: opts.spec.target.schema,
        FLAGS_TTL_MS: String(FLAGS_TTL_MS),
        ...(floor ? { CUTOVER_FLAGS_FLOOR: JSON.stringify({ [opts.migration]: floor }) } : {}),
      },
    },
    ...(compareOn
      ? [
          scheduledWorker("compare", compareScript, {
            COMPARE_SPEC: JSON.stringify(compareSpecOf(opts.stack, opts.migration, opts.spec)),
          }),
        ]
      : []),
    ...(captureSpec ? [scheduledWorker("capture", captureScript, { CAPTURE_SPEC: captureSpec })] : []),
    gatewayWorker({
      d1Databases,
      kvNamespaces: { FLAGS: FLAGS_KV_ID, RESULTS: RESULTS_KV_ID },
      serviceBindings: {
        ...(compareOn ? { COMPARE: "compare" } : {}),
        ...(captureSpec ? { CAPTURE: "capture" } : {}),
      },
      compatibilityDate: COMPATIBILITY.date,
    }),
  ];
  const v3 = path.join(path.resolve(persistTo), "v3");
  const workerLog = fs.createWriteStream(path.join(opts.dir, "workers.log"));
  const options = () => ({
    workers: workers(),
    d1Persist: path.join(v3, "d1"),
    kvPersist: path.join(v3, "kv"),
    host: "127.0.0.1",
    port,
    // What the Workers print (flags fallbacks, the comparison's summary) goes to a file, not the terminal.
    handleRuntimeStdio: (stdout: Readable, stderr: Readable) => {
      for (const stream of [stdout, stderr]) stream.on("data", (d) => workerLog.write(d));
    },
  });
  const { Miniflare } = await import("miniflare");
  const mf: MiniflareType = new Miniflare(options());
  const url = await mf.ready;
  // Redeploys keep the address the load is sending to.
  port = Number(url.port);
  const gateway = gatewayClient(mf);
  const binding = (name: string) => {
    const d = opts.spec.d1.find((x) => x.name === name);
    if (!d) throw new Error(`no D1 database ${name} in the migration`);
    return d.binding;
  };
  /*
   * A redeploy (setOptions) restarts workerd. Calls from this process wait for a redeploy in progress, and a
   * redeploy waits for the calls in flight.
   */
  let redeploy: Promise<void> | undefined;
  let inFlight = 0;
  let drained: (() => void) | undefined;
  const guarded = async <T>(work: () => Promise<T>): Promise<T> => {
    while (redeploy) await redeploy;
    inFlight++;
    try {
      return await work();
    } finally {
      if (--inFlight === 0) drained?.();
    }
  };
  const redeployed = async () => {
    while (redeploy) await redeploy;
    let done!: () => void;
    redeploy = new Promise<void>((resolve) => (done = resolve));
    try {
      if (inFlight > 0) await new Promise<void>((resolve) => (drained = resolve));
      drained = undefined;
      await mf.setOptions(options());
    } finally {
      redeploy = undefined;
      done();
    }
  };
  /** The rows of one statement on one database. */
  const rowsOf = <R>(name: string, sql: string, params: readonly unknown[]) =>
    guarded(() => gateway.all<R>(binding(name), sql, params));
  /** One scheduled run of one of cutover's Workers, then the summary it wrote to KV under `key`. */
  const scheduledOnce = <T>(worker: "COMPARE" | "CAPTURE", cron: string, key: string) =>
    guarded(async () => {
      // A run that threw wrote no summary: the one in KV would be the last run's, judged as this one's.
      const outcome = await gateway.scheduled(worker, cron);
      if (outcome !== "ok")
        throw new Error(
          `the ${worker.toLowerCase()} Worker's scheduled run ended with outcome "${outcome}" (its output: ${path.join(opts.dir, "workers.log")})`,
        );
      const raw = await gateway.kvGet("RESULTS", key);
      return raw === null ? null : (JSON.parse(raw) as T);
    });
  return {
    url,
    persistTo,
    d1(name) {
      return {
        description: `local D1 ${name} (${persistTo})`,
        async batch(statements) {
          if (statements.length) await guarded(() => gateway.batch(binding(name), statements));
        },
        all: (sql, params = []) => rowsOf<Record<string, unknown>>(name, sql, params),
        close: async () => undefined,
      };
    },
    d1Executor(name) {
      return {
        label: `local D1 ${name}`,
        query: (sql, params) => rowsOf<Record<string, SqliteValue>>(name, sql, params),
        close: async () => undefined,
      };
    },
    putFlags: (key, flags) => guarded(() => gateway.kvPut("FLAGS", key, JSON.stringify(flags))),
    async deployFloor(next) {
      if (JSON.stringify(next) === JSON.stringify(floor)) return;
      floor = next;
      await redeployed();
    },
    async deployCompare(on) {
      if (on === compareOn) return;
      compareOn = on;
      await redeployed();
    },
    compareOnce: () =>
      compareOn
        ? scheduledOnce<CompareSummary>("COMPARE", opts.spec.compare.cron, summaryKey(opts.migration))
        : Promise.resolve(null),
    async deployCapture(spec) {
      const next = spec && JSON.stringify(spec);
      if (next === captureSpec) return;
      captureSpec = next;
      await redeployed();
    },
    captureOnce: () =>
      captureSpec
        ? scheduledOnce<CaptureSummary>("CAPTURE", CAPTURE_CRON, captureSummaryKey(opts.migration))
        : Promise.resolve(null),
    stop: async () => {
      await mf.dispose();
      workerLog.end();
    },
  };
}
