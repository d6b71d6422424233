/**
 * Platform facts and units as named values, each written once. Pure: imported by the config, the engine,
 * the components, the pack and the scripts; imports nothing of ours. Sources are in docs/platform-facts.md.
 */

export const HOUR_MS = 3_600_000;
export const DAY_HOURS = 24;

/** `37 h`, or `3 d 2 h` from 48 h on (rounded up to the hour): how long until a window ends. */
export function formatDuration(ms: number): string {
  const h = Math.ceil(ms / HOUR_MS);
  return h >= 2 * DAY_HOURS ? `${Math.floor(h / DAY_HOURS)} d ${h % DAY_HOURS} h` : `${h} h`;
}

/** Cloud SQL PITR transaction-log retention per edition, in days. */
export const LOG_RETENTION_RANGE = {
  ENTERPRISE: { min: 1, max: 7 },
  ENTERPRISE_PLUS: { min: 1, max: 35 },
} as const;
export type CloudSqlEdition = keyof typeof LOG_RETENTION_RANGE;
/** The widest range over every edition (what a check that does not know the edition may accept). */
export const LOG_RETENTION_ANY_EDITION = {
  min: Math.min(...Object.values(LOG_RETENTION_RANGE).map((r) => r.min)),
  max: Math.max(...Object.values(LOG_RETENTION_RANGE).map((r) => r.max)),
};
export const describeLogRetention = (): string =>
  Object.entries(LOG_RETENTION_RANGE)
    .map(([edition, r]) => `${r.min}–${r.max} on ${edition}`)
    .join(", ");

/**
 * Cloud Run limits on a container's environment (Admin API v2 `EnvVar`; "Environment variables for
 * services"): a literal value is at most 32,768 bytes, a service at most 1,000 variables.
 */
export const CLOUD_RUN_ENV_LIMITS = { valueBytes: 32_768, variables: 1_000 } as const;

/**
 * Resource types whose re-creation costs time, money or availability, though no data is lost: the PR
 * summary labels removing or replacing them "reversible with cost", with this reason.
 */
export const RECREATE_COST: Readonly<Record<string, string>> = {
  "gcp:databasemigrationservice/migrationJob:MigrationJob":
    "a new DMS job copies every table again from the start (full dump, then CDC)",
  "gcp:cloudrunv2/service:Service": "the service stops serving until it is created again",
  "gcp:cloudrunv2/job:Job": "the job's execution history goes with it",
  "gcp:databasemigrationservice/connectionProfile:ConnectionProfile":
    "the migration jobs that use it must be created again",
};

/**
 * The input a dynamic resource carries when creating it does something that cannot be undone (its value
 * says what): the PR summary labels its creation irreversible.
 */
export const IRREVERSIBLE_MARKER = "cutoverIrreversible";

/**
 * Inputs that make the provider run something when they are set or changed (Cloud Run Jobs execute
 * once per new `runExecutionToken` / `startExecutionToken`): what the run changes is not undone by
 * putting the config back.
 */
export const RUNS_WHEN_SET: Readonly<Record<string, readonly string[]>> = {
  "gcp:cloudrunv2/job:Job": ["runExecutionToken", "startExecutionToken"],
};

/** Resource types whose deletion or replacement loses data. */
export const STATEFUL_TYPES: ReadonlySet<string> = new Set([
  "gcp:sql/databaseInstance:DatabaseInstance",
  "gcp:sql/database:Database",
  "gcp:sql/user:User",
  "gcp:redis/instance:Instance",
  "gcp:secretmanager/secret:Secret",
  "random:index/randomPassword:RandomPassword",
  "cloudflare:index/d1Database:D1Database",
  "cloudflare:index/workersKvNamespace:WorkersKvNamespace",
]);

/**
 * Inputs that force a replacement when they change, per type (the providers' create-only fields).
 * Offline there is no provider to ask, so the plan and the tests read this table.
 */
export const REPLACE_ON_CHANGE: Readonly<Record<string, readonly string[]>> = {
  "gcp:sql/databaseInstance:DatabaseInstance": ["name", "project", "region"],
  "gcp:sql/database:Database": ["name", "instance", "project"],
  "gcp:sql/user:User": ["name", "instance", "project"],
  "gcp:redis/instance:Instance": [
    "name",
    "project",
    "region",
    "tier",
    "transitEncryptionMode",
    "connectMode",
    "authorizedNetwork",
  ],
  "gcp:secretmanager/secret:Secret": ["secretId", "project", "replication"],
  "random:index/randomPassword:RandomPassword": ["length", "special"],
  "gcp:databasemigrationservice/migrationJob:MigrationJob": [
    "migrationJobId",
    "type",
    "source",
    "destination",
    "objectsConfig",
  ],
  "cloudflare:index/d1Database:D1Database": ["name", "accountId", "primaryLocationHint"],
  "cloudflare:index/workersKvNamespace:WorkersKvNamespace": ["accountId"],
};
