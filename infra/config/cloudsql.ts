/**
 * The cloudsql spec, key by key with its documentation and default (the service keys live in
 * cloudsql-services.ts, the replication paths' in cloudsql-replication.ts, the cross-field rules in
 * rules-cloudsql.ts).
 */
import { z } from "zod";
import { DmsSchema, LogicalSchema, REPLICATION_MODES } from "./cloudsql-replication";
import { CloudRunSchema, RedisSchema, ValidationSchema } from "./cloudsql-services";
import { LOG_RETENTION_ANY_EDITION } from "../../contract/facts";
import {
  HostSchema,
  PemCertificateSchema,
  PortSchema,
  EvidenceMaxAgeHoursSchema,
  EvidenceSignedBySchema,
  FollowOverrideSchema,
  FollowsSchema,
  LedgerRepairSchema,
  RampSchema,
  rampGateFields,
  retiredKey,
  SecretConfigKeySchema,
} from "./common";

/** The phases of kind `cloudsql`, in runbook order (rollback last: it is reachable from any of them). */
export const CLOUDSQL_PHASES = [
  "baseline",
  "provision",
  "replicate",
  "switch",
  "freeze",
  "promote",
  "canary",
  "stabilize",
  "decommission",
  "rollback",
] as const;
export type CloudSqlPhase = (typeof CLOUDSQL_PHASES)[number];

/**
 * Phases a rollback can leave: every one after baseline but decommission (the source is stale by then).
 * The engine's phase table says the same (`CLOUDSQL_ROLLBACK_ORIGINS`); a test holds the two together.
 */
export const ROLLBACK_ORIGINS = CLOUDSQL_PHASES.filter(
  (p): p is Exclude<CloudSqlPhase, "baseline" | "decommission" | "rollback"> =>
    p !== "baseline" && p !== "decommission" && p !== "rollback",
) as [
  Exclude<CloudSqlPhase, "baseline" | "decommission" | "rollback">,
  ...Exclude<CloudSqlPhase, "baseline" | "decommission" | "rollback">[],
];

export { REPLICATION_MODES, type ReplicationMode } from "./cloudsql-replication";

const GcpSchema = z.strictObject({
  /** GCP project id. */
  project: z.string().regex(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/, { message: "expected a GCP project id" }),
  /** Region of Cloud SQL, DMS and Redis. */
  region: z.string().regex(/^[a-z]+-[a-z]+[0-9]$/, { message: "expected a GCP region such as us-west2" }),
});

const SourceSchema = z.strictObject({
  /** Supabase *direct* host (db.<ref>.supabase.co) or session-mode pooler; never the transaction pooler. */
  host: HostSchema,
  /** @default 5432 */
  port: PortSchema.default(5432),
  /** @default "postgres" */
  database: z.string().min(1).default("postgres"),
  /** @default "postgres" */
  user: z.string().min(1).default("postgres"),
  /** Name of the Pulumi secret config key holding the source password. @default "<migration>SourcePassword" */
  passwordSecretKey: SecretConfigKeySchema.optional(),
  /** The server CA certificate DMS uses to verify the source (TLS). */
  caCertificate: PemCertificateSchema,
  /** Tables checked by `cutover check validate` (the runbook's critical tables). */
  criticalTables: z.array(z.string().min(1)).min(1),
});

const CloudSqlSchema = z.strictObject({
  /** Instance name (≤ 98 chars, lowercase). */
  instanceName: z.string().regex(/^[a-z][a-z0-9-]{0,96}[a-z0-9]$/, {
    message: "expected a Cloud SQL instance name (lowercase letters, digits, hyphens)",
  }),
  /** @default "POSTGRES_15" */
  databaseVersion: z
    .enum(["POSTGRES_14", "POSTGRES_15", "POSTGRES_16", "POSTGRES_17"])
    .default("POSTGRES_15"),
  /** @default "ENTERPRISE" */
  edition: z.enum(["ENTERPRISE", "ENTERPRISE_PLUS"]).default("ENTERPRISE"),
  tier: z
    .string()
    .regex(/^db-[a-z0-9-]+$/, { message: "expected a Cloud SQL tier such as db-custom-2-7680" }),
  /** @default 50 */
  diskSizeGb: z.number().int().min(10).max(65536).default(50),
  /** @default "PD_SSD" */
  diskType: z.enum(["PD_SSD", "PD_HDD"]).default("PD_SSD"),
  /** REGIONAL availability (HA). @default true */
  highAvailability: z.boolean().default(true),
  backups: z
    .strictObject({
      /** Backup window start, HH:MM UTC. @default "03:00" */
      startTime: z
        .string()
        .regex(/^([01][0-9]|2[0-3]):[0-5][0-9]$/, { message: "expected HH:MM (UTC)" })
        .default("03:00"),
      /** @default 14 */
      retainedBackups: z.number().int().min(1).max(365).default(14),
      /** @default 7 */
      logRetentionDays: z
        .number()
        .int()
        .min(LOG_RETENTION_ANY_EDITION.min)
        .max(LOG_RETENTION_ANY_EDITION.max)
        .default(7),
    })
    .prefault({}),
  maintenanceWindow: z
    .strictObject({
      /** 1 = Monday … 7 = Sunday. @default 7 */
      day: z.number().int().min(1).max(7).default(7),
      /** Hour UTC. @default 4 */
      hour: z.number().int().min(0).max(23).default(4),
    })
    .prefault({}),
  /** Extra database flags (the audit/logging flags are set by default). */
  flags: z.record(z.string().regex(/^[a-z][a-z0-9_.]*$/), z.string()).default({}),
  /** VPC network for private IP, projects/<p>/global/networks/<n>. */
  privateNetwork: z.string().regex(/^projects\/[^/]+\/global\/networks\/[^/]+$/, {
    message: "expected projects/<project>/global/networks/<network>",
  }),
  /** Subnetwork Cloud Run's Direct VPC egress uses to reach the private IP. */
  subnetwork: z.string().regex(/^projects\/[^/]+\/regions\/[^/]+\/subnetworks\/[^/]+$/, {
    message: "expected projects/<project>/regions/<region>/subnetworks/<subnet>",
  }),
  /**
   * The app's database on Cloud SQL is the source's own (`source.database`), which DMS migrates under the
   * same name. Optional; when given it must name that database (a second name would point the app at an
   * empty database after promotion).
   */
  database: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, { message: "expected a PostgreSQL database name" })
    .optional(),
  /** Dedicated application user. */
  user: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, { message: "expected a PostgreSQL role name" }),
});

/**
 * How writes move from the source to Cloud SQL:
 *   - `switch`: one bounded `pulumi up` (phase `switch`) freezes the source at the database, checks
 *     replication reached a marker taken after the freeze, validates, promotes, runs the post-promotion
 *     steps and the schema command, smokes the candidate on its own URL, then gives it 100% — writes are
 *     refused for minutes, and any term that fails or overruns gives them back to the source;
 *   - `ramp`: the stepped walk (freeze, promote, canary through \`ramp\`), one pull request per step —
 *     the frozen share refuses writes until canary reaches 100%, about half an hour with the default bakes.
 */
export const WRITE_MOVES = ["switch", "ramp"] as const;
export type WriteMove = (typeof WRITE_MOVES)[number];
/** What a migration that names no `writeMove` does: the short path. */
export const DEFAULT_WRITE_MOVE: WriteMove = "switch";

/** The bound of the switch (`writeMove: switch`). */
const SwitchSchema = z
  .strictObject({
    /**
     * Longest the switch may take from the freeze to the candidate's smoke; past it, writes go back to
     * the source. The runbook's write budget is 5–10 minutes. @default 600
     */
    deadlineSeconds: z.number().int().min(30).max(3600).default(600),
    /**
     * The role the app connects to the source as: the switch makes it read-only and ends its sessions.
     * @default source.user
     */
    appRole: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_$-]{0,62}$/, { message: "expected a PostgreSQL role name" })
      .optional(),
  })
  .prefault({});

/** The gate `cutover advance` applies to each canary step before taking the next one. */
const AdvanceSchema = z
  .strictObject({
    ...rampGateFields,
    /** Highest 95th-percentile latency of the candidate over the bake, in ms. @default 1500 */
    maxLatencyP95Ms: z.number().int().min(1).default(1500),
    /** Fewer requests than this over the bake is no evidence: no step is taken. @default 20 */
    minRequests: z.number().int().min(1).default(20),
    /**
     * Roll back on its own once the candidate is failing. Every advance step is after promotion, where
     * a rollback strands the writes Cloud SQL accepted since: off, advance holds and says so. @default false
     */
    autoRollback: z.boolean().default(false),
  })
  .prefault({});

/** A migration of kind `cloudsql`: Supabase PostgreSQL → Cloud SQL through DMS (runbook 1). */
export const CloudSqlMigrationSchema = z.strictObject({
  kind: z.literal("cloudsql"),
  phase: z.enum(CLOUDSQL_PHASES, {
    message: `expected one of ${CLOUDSQL_PHASES.join(", ")}`,
  }),
  /** For `rollback`: the phase being left; its resources are kept (a rollback deletes nothing stateful). */
  rollbackFrom: z
    .enum(ROLLBACK_ORIGINS, {
      message: `expected the phase being rolled back from: ${ROLLBACK_ORIGINS.join(", ")}; hint: there is no rollback after decommission (the DMS job is gone and the source is stale) — fix forward or restore Cloud SQL with PITR`,
    })
    .optional(),
  /** Candidate's share in `canary`: one of the ramp steps. */
  trafficPercent: z.number().int().min(0).max(100).optional(),
  /** How writes move to Cloud SQL: `switch` (one bounded step) or `ramp` (stepped). @default "switch" */
  writeMove: z
    .enum(WRITE_MOVES, {
      message: `expected one of ${WRITE_MOVES.join(", ")}; hint: switch moves writes in one bounded step of minutes, ramp in steps through canary`,
    })
    .default(DEFAULT_WRITE_MOVE),
  switch: SwitchSchema,
  /** Traffic ramp for `canary` (`writeMove: ramp`). @default [10, 50, 100] */
  ramp: RampSchema.default([10, 50, 100]),
  /** Gate evidence older than this is refused by `cutover phase … next`. @default 24 */
  evidenceMaxAgeHours: EvidenceMaxAgeHoursSchema,
  /** The pipeline's evidence-signing public key; gates then accept only evidence it signed. */
  evidenceSignedBy: EvidenceSignedBySchema,
  /** The stack that leads this one (prod follows staging): no step past the leader's position. */
  follows: FollowsSchema,
  /** For an emergency: the one position the follower may take ahead of its leader, and why. */
  followOverride: FollowOverrideSchema,
  /** Retry counter: a new attempt gets new job and revision names. @default 1 */
  attempt: z.number().int().min(1).max(99).default(1),
  /** Observation window after 100% before decommission. @default 48 */
  observeHours: z
    .number()
    .int()
    .min(1)
    .max(24 * 30)
    .default(48),
  /** No longer read: the phase ledger records when the candidate reached 100%. Refused with that hint. */
  cutoverCompletedAt: retiredKey(
    "cutoverCompletedAt is no longer read: the phase ledger records when the candidate reached 100% (stack output <migration>.ledger.facts.cutoverCompleted) and judges the observation window from it; hint: remove this key",
  ),
  advance: AdvanceSchema,
  /** A repair of a damaged phase ledger (see LedgerRepairSchema); only for one `pulumi up`. */
  ledgerRepair: LedgerRepairSchema,
  /** How data reaches Cloud SQL: `dms` or `logical` (see REPLICATION_MODES). @default "dms" */
  replication: z
    .enum(REPLICATION_MODES, {
      message: `expected one of ${REPLICATION_MODES.join(", ")}; hint: cutover check preflight --source <url> says which one this source supports`,
    })
    .default("dms"),
  logical: LogicalSchema,
  gcp: GcpSchema,
  source: SourceSchema,
  cloudSql: CloudSqlSchema,
  dms: DmsSchema,
  cloudRun: CloudRunSchema,
  redis: RedisSchema,
  validation: ValidationSchema,
});
export type CloudSqlMigration = z.infer<typeof CloudSqlMigrationSchema>;
