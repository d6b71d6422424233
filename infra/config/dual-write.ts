import { z } from "zod";
import {
  EvidenceMaxAgeHoursSchema,
  EvidenceSignedBySchema,
  FollowOverrideSchema,
  FollowsSchema,
  HostSchema,
  InstantSchema,
  LedgerRepairSchema,
  PortSchema,
  RampSchema,
  rampGateFields,
  retiredKey,
  SecretConfigKeySchema,
} from "./common";

/** The phases of kind `dual-write`, in runbook order (rollback last). */
export const DUAL_WRITE_PHASES = [
  "baseline",
  "shadow",
  "backfill",
  "dual-write",
  "read-switch",
  "final-cut",
  "decommission",
  "rollback",
] as const;
export type DualWritePhase = (typeof DUAL_WRITE_PHASES)[number];

/**
 * Phases a dual-write rollback can leave: those in which legacy is still written. The engine's phase
 * table says the same (`DUAL_WRITE_ROLLBACK_ORIGINS`); a test holds the two together.
 */
export const DUAL_WRITE_ROLLBACK_ORIGINS = DUAL_WRITE_PHASES.slice(
  DUAL_WRITE_PHASES.indexOf("shadow"),
  DUAL_WRITE_PHASES.indexOf("final-cut"),
) as [DualWriteRollbackOrigin, ...DualWriteRollbackOrigin[]];
type DualWriteRollbackOrigin = "shadow" | "backfill" | "dual-write" | "read-switch";

const PostgresConnectionSchema = z.strictObject({
  host: HostSchema,
  /** @default 5432 */
  port: PortSchema.default(5432),
  /** @default "postgres" */
  database: z.string().min(1).default("postgres"),
  user: z.string().min(1),
  /** Name of the Pulumi secret config key holding the password. */
  passwordSecretKey: SecretConfigKeySchema,
  /** Schema holding the tables. @default "public" */
  schema: z.string().min(1).default("public"),
});

const D1DatabaseSchema = z.strictObject({
  /** D1 database name (also its wrangler binding's database_name). */
  name: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, { message: "expected a D1 database name (lowercase, digits, '-')" }),
  /** Workers binding name. */
  binding: z
    .string()
    .regex(/^[A-Z][A-Z0-9_]*$/, { message: "expected an upper-case binding name such as EDGE_DB" }),
  /** Primary location hint. */
  locationHint: z.enum(["wnam", "enam", "weur", "eeur", "apac", "oc"], {
    message:
      "expected a D1 location hint: wnam, enam, weur, eeur, apac or oc; hint: wnam is closest to us-west2",
  }),
  /** Read replication, stated explicitly (an implicit value hits a known create error). */
  readReplication: z.enum(["auto", "disabled"], {
    message:
      "expected readReplication auto or disabled, stated explicitly; hint: an implicit value hits a known D1 create error — disabled keeps every read on the primary",
  }),
  /** Marked retired: only `decommission` may delete it. @default false */
  retired: z.boolean().default(false),
});

const IdentifierSchema = z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, {
  message: "expected a lower-case SQL identifier (letters, digits, _; at most 63 characters)",
});

const TableSchema = z.strictObject({
  /** Table name in the legacy schema. */
  name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: "expected a table name" }),
  /** Which store owns it after the migration: D1 (edge read-only data) or the new Supabase schema. */
  store: z.enum(["d1", "supabase"], {
    message:
      "expected store d1 or supabase; hint: d1 for edge read-only data (cities, categories), supabase for relational data",
  }),
  /** D1 database (by name) for tables stored in D1. */
  d1Database: z.string().optional(),
  /** Primary key columns. @default ["id"] */
  primaryKey: z.array(z.string().min(1)).min(1).default(["id"]),
  /** Column the incremental backfill uses as watermark. @default "updated_at" */
  updatedAtColumn: z.string().min(1).default("updated_at"),
  /** Name of the table in the new store when it was renamed. @default the legacy name */
  targetName: IdentifierSchema.optional(),
  /**
   * Renamed columns, new name ← legacy name (e.g. `display_name: full_name`). Types need no entry: the
   * new schema's column type decides, and PostgreSQL converts the legacy value's text on the way in.
   * Columns of the new table that are not named here take the legacy column of the same name.
   */
  columns: z
    .record(IdentifierSchema, IdentifierSchema)
    .refine((m) => new Set(Object.values(m)).size === Object.values(m).length, {
      message:
        "expected each legacy column mapped at most once; hint: two new columns read the same legacy column",
    })
    .optional(),
});

/**
 * The gate `cutover advance` applies to each read-switch step: the new stores' errors and read latency,
 * as the flags module reports every store call to Workers Analytics Engine (dataset `dataset`).
 */
const ReadSwitchAdvanceSchema = z
  .strictObject({
    ...rampGateFields,
    /** Highest 99th-percentile latency of reads served by the new stores over the bake, in ms. @default 500 */
    maxLatencyP99Ms: z.number().int().min(1).default(500),
    /** Fewer reads by the new stores than this over the bake is no evidence: no step is taken. @default 100 */
    minRequests: z.number().int().min(1).default(100),
    /**
     * Roll back on its own once the new stores are failing. Legacy is written throughout the read switch,
     * so a rollback loses nothing: on by default. @default true
     */
    autoRollback: z.boolean().default(true),
    /** The Analytics Engine dataset the Workers' CUTOVER_METRICS binding writes to. @default "cutover_store_calls" */
    dataset: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, {
        message: "expected a dataset name such as cutover_store_calls",
      })
      .default("cutover_store_calls"),
  })
  .prefault({});

/** A migration of kind `dual-write`: Workers API → new Supabase schema + Cloudflare D1 (runbook 2). */
export const DualWriteMigrationSchema = z.strictObject({
  kind: z.literal("dual-write"),
  phase: z.enum(DUAL_WRITE_PHASES, { message: `expected one of ${DUAL_WRITE_PHASES.join(", ")}` }),
  /** For `rollback`: the phase being left (optional; when set, it must be the deployed phase). */
  rollbackFrom: z
    .enum(DUAL_WRITE_ROLLBACK_ORIGINS, {
      message: `expected the phase being rolled back from: ${DUAL_WRITE_ROLLBACK_ORIGINS.join(", ")}; hint: there is no rollback after the final cut (legacy is no longer written) — fix forward`,
    })
    .optional(),
  /** Share of reads served by the new stores in `read-switch`: one of the ramp steps. */
  readPercent: z.number().int().min(0).max(100).optional(),
  /** Read ramp. @default [10, 50, 100] */
  ramp: RampSchema.default([10, 50, 100]),
  /** The read switch's health gate (`cutover advance`). */
  advance: ReadSwitchAdvanceSchema,
  /** A repair of a damaged phase ledger (see LedgerRepairSchema); only for one `pulumi up`. */
  ledgerRepair: LedgerRepairSchema,
  /** No longer read: the phase ledger records the time of the final cut. Refused with that hint. */
  finalCutAt: retiredKey(
    "finalCutAt is no longer read: the phase ledger records when the final cut was applied (stack output <migration>.ledger.facts.finalCut) and judges the soak from it; hint: remove this key",
  ),
  /**
   * When this phase's flags took effect (ISO-8601), set in the same change as the phase. It becomes the
   * flags entry's `updatedAt`: taken from config so that the same config always renders the same entry.
   */
  flagsUpdatedAt: InstantSchema.optional(),
  /** Gate evidence older than this is refused by `cutover phase … next`. @default 24 */
  evidenceMaxAgeHours: EvidenceMaxAgeHoursSchema,
  /** The pipeline's evidence-signing public key; gates then accept only evidence it signed. */
  evidenceSignedBy: EvidenceSignedBySchema,
  /** The stack that leads this one (prod follows staging): no step past the leader's position. */
  follows: FollowsSchema,
  /** For an emergency: the one position the follower may take ahead of its leader, and why. */
  followOverride: FollowOverrideSchema,
  /** Days of monitoring after the final cut before decommission. @default 7 */
  soakDays: z.number().int().min(1).max(90).default(7),
  /**
   * The change capture's lag (age of the oldest change not yet applied) that still counts as keeping up:
   * `capture -- status --evidence` passes within it, and `dual-write → read-switch` needs that evidence.
   * @default 30
   */
  captureMaxLagSeconds: z.number().positive().max(3600).default(30),
  /**
   * The comparison Worker (workers/compare), deployed while both stores are kept equal (dual-write,
   * read-switch, rollback): every `cron` it compares `sample` random keys per table between legacy and the
   * new stores. Its summary is gate evidence for `dual-write → read-switch` when younger than
   * `maxAgeMinutes`. @default { cron: "*\/10 * * * *", sample: 200, maxAgeMinutes: 60 }
   */
  compare: z
    .strictObject({
      cron: z
        .string()
        .regex(/^\S+( \S+){4}$/, {
          message: 'expected a cron expression of five fields, e.g. "*/10 * * * *"',
        })
        .default("*/10 * * * *"),
      sample: z.number().int().min(1).max(5000).default(200),
      maxAgeMinutes: z.number().int().min(1).max(1440).default(60),
    })
    .default({ cron: "*/10 * * * *", sample: 200, maxAgeMinutes: 60 }),
  cloudflare: z.strictObject({
    accountId: z
      .string()
      .regex(/^[a-f0-9]{32}$/, { message: "expected a 32-character Cloudflare account id" }),
    /** Title of the Workers KV namespace holding the flags. */
    kvNamespace: z.string().min(1),
    /** Workers that read the flags (documentation and the plan). */
    workers: z.array(z.string().min(1)).min(1),
    /**
     * Names of the bindings (secrets, vars, Hyperdrive) through which the Workers reach the legacy
     * database, e.g. LEGACY_DATABASE_URL: decommission is refused while any Worker still has one.
     * @default []
     */
    legacyBindings: z
      .array(
        z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, {
          message: "expected a binding name such as LEGACY_DATABASE_URL",
        }),
      )
      .default([]),
  }),
  d1: z.array(D1DatabaseSchema).min(1),
  legacy: PostgresConnectionSchema,
  target: PostgresConnectionSchema,
  tables: z.array(TableSchema).min(1),
});
export type DualWriteMigration = z.infer<typeof DualWriteMigrationSchema>;
