/**
 * The comparison Worker's wrangler config, rendered from the stack: what it compares (COMPARE_SPEC), its
 * cron, and its bindings — the two Hyperdrive configs, the KV namespace it writes the summary to (the
 * flags namespace the Workers already bind) and every D1 database of the migration. Remote ids come from
 * `pulumi stack output --json`; local ones are the placeholders local state is keyed by. No connection
 * string or password is ever written: locally, wrangler takes them from
 * CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_<BINDING>.
 */
import { fromRoot } from "../../tooling/root";
import * as path from "node:path";
import type { DualWriteMigration } from "../../infra/config/schema";
import type { CompareSpec } from "./spec";
import { localDatabaseId } from "../backfill/wrangler-config";
import { UsageError } from "../lib/errors";

export const WORKER_MAIN = fromRoot("workers/compare/worker.ts");
/** The runtime the Worker is built for: `pg` needs the Node.js APIs of nodejs_compat. */
export const COMPATIBILITY = { date: "2025-09-15", flags: ["nodejs_compat"] } as const;
export const LOCAL_KV_ID = "local-cutover-compare";
/** Hyperdrive ids are 32 hex digits; locally any such id works, the connection comes from the env. */
export const LOCAL_HYPERDRIVE_IDS = {
  legacy: "00000000000000000000000000000001",
  target: "00000000000000000000000000000002",
} as const;

export const workerName = (stack: string, migration: string) => `cutover-compare-${stack}-${migration}`;

/** What the Worker compares, from the spec (the same mapping the backfill and `validate` use). */
export function compareSpecOf(stack: string, migration: string, spec: DualWriteMigration): CompareSpec {
  const bindingOf = new Map(spec.d1.map((d) => [d.name, d.binding]));
  return {
    stack,
    migration,
    sample: spec.compare.sample,
    legacySchema: spec.legacy.schema,
    targetSchema: spec.target.schema,
    tables: spec.tables.map((t) => ({
      name: t.name,
      store: t.store,
      ...(t.store === "d1" && t.d1Database ? { d1Binding: bindingOf.get(t.d1Database) } : {}),
      ...(t.targetName ? { targetName: t.targetName } : {}),
      ...(t.columns ? { columns: t.columns } : {}),
    })),
  };
}

/** Ids of the resources the Worker binds, as the stack outputs give them. */
export interface DeployedIds {
  readonly kvNamespaceId: string;
  readonly d1DatabaseIds: Readonly<Record<string, string>>;
  readonly hyperdriveIds: { readonly legacy: string; readonly target: string };
}

/** The ids of `migration` in `pulumi stack output --json`, or what is missing and why. */
export function idsFromOutputs(outputs: unknown, migration: string, file: string): DeployedIds {
  const m = (outputs as Record<string, Record<string, unknown>> | null)?.[migration];
  const hint = `hint: the comparison Worker runs in dual-write, read-switch and rollback; run pulumi up at one of them, then pulumi stack output --json > ${file}`;
  if (!m || typeof m !== "object")
    throw new UsageError(`${file} has no output for migration ${migration}; ${hint}`);
  const hd = m.hyperdriveIds as DeployedIds["hyperdriveIds"] | undefined;
  if (!hd?.legacy || !hd?.target)
    throw new UsageError(
      `${file}: ${migration}.hyperdriveIds is missing (no Hyperdrive configs deployed); ${hint}`,
    );
  if (typeof m.kvNamespaceId !== "string")
    throw new UsageError(`${file}: ${migration}.kvNamespaceId is missing; ${hint}`);
  return {
    kvNamespaceId: m.kvNamespaceId,
    d1DatabaseIds: (m.d1DatabaseIds as Record<string, string>) ?? {},
    hyperdriveIds: hd,
  };
}

/** The wrangler config (JSON form) of the comparison Worker; `ids` undefined renders the local one. */
export function compareWranglerConfig(
  stack: string,
  migration: string,
  spec: DualWriteMigration,
  configDir: string,
  ids?: DeployedIds,
): Record<string, unknown> {
  const compare = compareSpecOf(stack, migration, spec);
  const usedD1 = spec.d1.filter((d) => compare.tables.some((t) => t.d1Binding === d.binding));
  const needsTarget = compare.tables.some((t) => t.store === "supabase");
  const d1Id = (name: string) => {
    if (!ids) return localDatabaseId(name);
    const id = ids.d1DatabaseIds[name];
    if (!id)
      throw new UsageError(`the stack outputs have no id for D1 database ${name}; hint: run pulumi up first`);
    return id;
  };
  return {
    name: workerName(stack, migration),
    main: path.relative(configDir, WORKER_MAIN),
    compatibility_date: COMPATIBILITY.date,
    compatibility_flags: [...COMPATIBILITY.flags],
    triggers: { crons: [spec.compare.cron] },
    // Nothing public: the Worker has no route and no workers.dev URL.
    workers_dev: false,
    vars: { COMPARE_SPEC: JSON.stringify(compare) },
    hyperdrive: [
      { binding: "LEGACY_DB", id: ids?.hyperdriveIds.legacy ?? LOCAL_HYPERDRIVE_IDS.legacy },
      ...(needsTarget
        ? [{ binding: "TARGET_DB", id: ids?.hyperdriveIds.target ?? LOCAL_HYPERDRIVE_IDS.target }]
        : []),
    ],
    kv_namespaces: [{ binding: "RESULTS", id: ids?.kvNamespaceId ?? LOCAL_KV_ID }],
    d1_databases: usedD1.map((d) => ({
      binding: d.binding,
      database_name: d.name,
      database_id: d1Id(d.name),
    })),
  };
}
