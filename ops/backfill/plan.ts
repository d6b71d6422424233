import { secretsOfUrl } from "../lib/mask";
import type { DualWriteMigration } from "../../infra/config/schema";
import type { TableSpec } from "./run";
import type { PgTableSpec } from "./pg-target";
import { UsageError } from "../lib/errors";
import type { ResolvedTarget } from "./target-options";
import type { D1Binding } from "./wrangler-config";

export interface PlanFlags {
  readonly tables?: string;
  readonly schema?: string;
  readonly primaryKey: string;
  readonly updatedAt: string;
}

const listed = (tables: string | undefined) =>
  tables
    ?.split(",")
    .map((t) => t.trim())
    .filter(Boolean);

/**
 * Which tables go into which D1 database: from the stack's tables (store d1), or from the flags. With
 * `otherStores`, the run also copies the new schema's tables: names of those are not unknown, and no
 * D1 table to copy is not an error.
 */
export function planBackfill(
  target: ResolvedTarget,
  flags: PlanFlags,
  otherStores = false,
): { database: D1Binding; tables: TableSpec[] }[] {
  const wanted = listed(flags.tables);
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
  const known = otherStores ? spec.tables : d1Tables;
  const unknown = (wanted ?? []).filter((w) => !known.some((t) => t.name === w));
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
  if (plan.length === 0 && !otherStores)
    throw new UsageError("no D1 tables to copy; hint: mark tables with store: d1 and d1Database");
  return plan;
}

/** A legacy table of the migration and where it lands in the new schema (the spec's mapping). */
export function pgTableSpec(spec: DualWriteMigration, t: DualWriteMigration["tables"][number]): PgTableSpec {
  return {
    name: t.name,
    schema: spec.legacy.schema,
    primaryKey: t.primaryKey,
    updatedAtColumn: t.updatedAtColumn,
    targetSchema: spec.target.schema,
    targetName: t.targetName ?? t.name,
    columns: t.columns,
  };
}

/**
 * The new schema's tables (store supabase) to copy, with their mapping. `only`: the run copies nothing
 * else (--store supabase), so unknown names and an empty list are errors here.
 */
export function planPgBackfill(
  spec: DualWriteMigration,
  tables: string | undefined,
  only: boolean,
): PgTableSpec[] {
  const wanted = listed(tables);
  const pgTables = spec.tables.filter((t) => t.store === "supabase");
  const known = only ? pgTables : spec.tables;
  const unknown = (wanted ?? []).filter((w) => !known.some((t) => t.name === w));
  if (unknown.length) {
    throw new UsageError(
      `not a table of this migration${only ? " stored in the new schema" : ""}: ${unknown.join(", ")}; hint: one of ${known.map((t) => t.name).join(", ") || "none"}`,
    );
  }
  const plan = pgTables.filter((t) => !wanted || wanted.includes(t.name)).map((t) => pgTableSpec(spec, t));
  if (plan.length === 0 && only)
    throw new UsageError(
      "no tables stored in the new schema to copy; hint: mark tables with store: supabase",
    );
  return plan;
}

/** The two PostgreSQL sides of a dual-write migration and the variables that reach them. */
const SIDES = {
  legacy: { url: "LEGACY_DATABASE_URL", password: "LEGACY_DATABASE_PASSWORD", flag: "--source" },
  target: { url: "TARGET_DATABASE_URL", password: "TARGET_DATABASE_PASSWORD", flag: "--target" },
} as const;
export type PostgresSide = keyof typeof SIDES;

/** The variables holding a side's URL or password: masked in every error. */
export const DATABASE_SECRETS = (env = process.env) =>
  Object.values(SIDES).flatMap((s) => [...urlSecrets(env[s.url]), env[s.password]]);

/**
 * What to mask of a URL variable: its password; and the whole value when it is not a URL but long
 * enough to be a password pasted in the wrong place (a short word such as "base" would otherwise mask
 * itself inside every "database" of a message).
 */
function urlSecrets(value: string | undefined): string[] {
  if (!value) return [];
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return secretsOfUrl(value);
  return value.length >= 8 ? [value] : [];
}

/**
 * A side's connection: the flag, else <SIDE>_DATABASE_URL, else the stack's host for that side with
 * <SIDE>_DATABASE_PASSWORD (the Pulumi secret itself cannot be read offline). TLS is required.
 */
export function databaseUrl(
  side: PostgresSide,
  flag: string | undefined,
  spec: DualWriteMigration | undefined,
  env = process.env,
): string {
  const names = SIDES[side];
  const url = flag ?? env[names.url];
  if (url) return url;
  const password = env[names.password];
  if (spec && password) {
    const { user, host, port, database } = spec[side];
    return `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${host}:${port}/${database}?sslmode=require`;
  }
  throw new UsageError(
    `no ${side} database; hint: export ${names.url}=postgres://… (or pass ${names.flag}), or with --stack export ${names.password} (value of the stack's ${side}.passwordSecretKey)`,
  );
}

/** The legacy connection (see {@link databaseUrl}). */
export const sourceUrl = (
  flag: string | undefined,
  spec: DualWriteMigration | undefined,
  env = process.env,
) => databaseUrl("legacy", flag, spec, env);
