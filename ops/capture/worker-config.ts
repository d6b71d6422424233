/**
 * The capture Worker's wrangler config, rendered from the stack (the pipeline's and the local run's; the
 * Worker itself never loads this module).
 */
import * as path from "node:path";
import type { DualWriteMigration } from "../../infra/config/schema";
import { localDatabaseId } from "../backfill/wrangler-config";
import { COMPATIBILITY, LOCAL_HYPERDRIVE_IDS, LOCAL_KV_ID, type DeployedIds } from "../compare/config";
import { UsageError } from "../lib/errors";
import { fromRoot } from "../../tooling/root";
import {
  BUDGET_SECONDS,
  CAPTURE_BATCH,
  CAPTURE_CRON,
  RECHECK_SECONDS,
  captureWorkerName,
  type CaptureWorkerSpec,
} from "./worker-spec";

export const CAPTURE_WORKER_MAIN = fromRoot("workers/capture/worker.ts");

/**
 * The capture Worker's wrangler config: its cron, CAPTURE_SPEC, the two Hyperdrive configs, the KV
 * namespace for its summary and the D1 databases of the migration's D1 tables. `ids` undefined renders
 * the local one (placeholder ids; connection strings from the environment).
 */
export function captureWranglerConfig(
  stack: string,
  migration: string,
  spec: DualWriteMigration,
  configDir: string,
  afterCut: boolean,
  ids?: DeployedIds,
): Record<string, unknown> {
  const used = spec.d1.filter((d) => spec.tables.some((t) => t.store === "d1" && t.d1Database === d.name));
  const needsTarget = spec.tables.some((t) => t.store === "supabase");
  const d1Id = (name: string) => {
    if (!ids) return localDatabaseId(name);
    const id = ids.d1DatabaseIds[name];
    if (!id)
      throw new UsageError(`the stack outputs have no id for D1 database ${name}`, "run pulumi up first");
    return id;
  };
  const captureSpec: CaptureWorkerSpec = {
    stack,
    migration,
    afterCut,
    batch: CAPTURE_BATCH,
    budgetSeconds: BUDGET_SECONDS,
    recheckSeconds: RECHECK_SECONDS,
    spec,
  };
  return {
    name: captureWorkerName(stack, migration),
    main: path.relative(configDir, CAPTURE_WORKER_MAIN),
    compatibility_date: COMPATIBILITY.date,
    compatibility_flags: [...COMPATIBILITY.flags],
    triggers: { crons: [CAPTURE_CRON] },
    // Nothing public: no route, no workers.dev URL.
    workers_dev: false,
    vars: { CAPTURE_SPEC: JSON.stringify(captureSpec) },
    hyperdrive: [
      { binding: "LEGACY_DB", id: ids?.hyperdriveIds.legacy ?? LOCAL_HYPERDRIVE_IDS.legacy },
      ...(needsTarget
        ? [{ binding: "TARGET_DB", id: ids?.hyperdriveIds.target ?? LOCAL_HYPERDRIVE_IDS.target }]
        : []),
    ],
    kv_namespaces: [{ binding: "RESULTS", id: ids?.kvNamespaceId ?? LOCAL_KV_ID }],
    d1_databases: used.map((d) => ({ binding: d.binding, database_name: d.name, database_id: d1Id(d.name) })),
  };
}
