import type { DualWriteMigration } from "../../infra/config/schema";
import type { TableSpec } from "./run";
import { UsageError } from "../lib/cli";
import type { ResolvedTarget } from "./target-options";
import type { D1Binding } from "./wrangler-config";

export interface PlanFlags {
  readonly tables?: string;
  readonly schema?: string;
  readonly primaryKey: string;
  readonly updatedAt: string;
}

/** Which tables go into which D1 database: from the stack's tables (store d1), or from the flags. */
export function planBackfill(
  target: ResolvedTarget,
  flags: PlanFlags,
): { database: D1Binding; tables: TableSpec[] }[] {
  const wanted = flags.tables
    ?.split(",")
    .map((t) => t.trim())
    .filter(Boolean);
  const spec = target.spec;
  if (!spec) {
    if (!wanted?.length)
      throw new UsageError("--tables is required without --stack; hint: --tables cities,categories");
    const tables = wanted.map((name) => ({
      name,
      schema: flags.schema ?? "public",
      primaryKey: flags.primaryKey.split(",").map((c) => c.trim()),
      updatedAtColumn: flags.updatedAt,
    }));
    return [{ database: target.databases[0], tables }];
  }
  const d1Tables = spec.tables.filter((t) => t.store === "d1");
  const unknown = (wanted ?? []).filter((w) => !d1Tables.some((t) => t.name === w));
  if (unknown.length) {
    throw new UsageError(
      `not a D1 table of this migration: ${unknown.join(", ")}; hint: one of ${d1Tables.map((t) => t.name).join(", ") || "none (no table has store: d1)"}`,
    );
  }
  const plan = target.databases
    .map((database) => ({
      database,
      tables: d1Tables
        .filter((t) => t.d1Database === database.name && (!wanted || wanted.includes(t.name)))
        .map((t) => ({
          name: t.name,
          schema: spec.legacy.schema,
          primaryKey: t.primaryKey,
          updatedAtColumn: t.updatedAtColumn,
        })),
    }))
    .filter((p) => p.tables.length > 0);
  if (plan.length === 0)
    throw new UsageError("no D1 tables to copy; hint: mark tables with store: d1 and d1Database");
  return plan;
}

/**
 * The legacy connection: --source-url, else LEGACY_DATABASE_URL, else the stack's legacy host with
 * LEGACY_DATABASE_PASSWORD (the Pulumi secret itself cannot be read offline).
 */
export function sourceUrl(
  flag: string | undefined,
  spec: DualWriteMigration | undefined,
  env = process.env,
): string {
  const url = flag ?? env.LEGACY_DATABASE_URL;
  if (url) return url;
  if (spec && env.LEGACY_DATABASE_PASSWORD) {
    const { user, host, port, database } = spec.legacy;
    const password = encodeURIComponent(env.LEGACY_DATABASE_PASSWORD);
    return `postgres://${encodeURIComponent(user)}:${password}@${host}:${port}/${database}?sslmode=require`;
  }
  throw new UsageError(
    "no source database; hint: export LEGACY_DATABASE_URL=postgres://…, or with --stack export LEGACY_DATABASE_PASSWORD (value of the stack's passwordSecretKey)",
  );
}
