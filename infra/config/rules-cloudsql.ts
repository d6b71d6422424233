import { CLOUD_RUN_ENV_LIMITS, describeLogRetention, LOG_RETENTION_RANGE } from "../../contract/facts";
import type { CloudSqlMigration } from "./cloudsql";
import { check, onlyInPhase, rampRules, type Rule } from "./rule-kit";

const CREDENTIAL_ENV =
  /(^|_)(DATABASE_URL|DIRECT_URL|REDIS_URL|PASSWORD|PASSWD|TOKEN|SECRET|API_KEY|PRIVATE_KEY)$/;
const URL_WITH_USERINFO = /^[a-z][a-z0-9+.-]*:\/\/[^/@\s]+@/i;
const REVISION_NAME = /^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** Values an app would read as "not blocked": the write-block flag must really block. */
const FALSE_LIKE = /^(false|0|no|off|n|f|disabled|)$/i;
/**
 * Cloud Run limits on a container's environment (Cloud Run Admin API v2 `EnvVar`; "Environment variables
 * for services"): a literal value is at most 32,768 bytes, a service at most 1,000 variables, PORT is
 * set by Cloud Run, and names may not start with X_GOOGLE_. The program adds up to ENV_ADDED_BY_CUTOVER
 * variables of its own (write block, Redis, realtime bus) to those in config.
 */
const ENV_ADDED_BY_CUTOVER = 8;
const RESERVED_ENV = /^(PORT|K_SERVICE|K_REVISION|K_CONFIGURATION|X_GOOGLE_.*)$/;

/** Cross-field rules of kind `cloudsql`. */
export const CLOUDSQL_RULES: Rule<CloudSqlMigration>[] = [
  {
    when: (s) =>
      check(
        s.replication === "logical" && s.validation === undefined,
        ["validation", "image"],
        "replication: logical runs its steps (start at replicate, stop at promote) as Cloud Run Jobs in the image built from this repository; hint: set validation.image (see the Dockerfile)",
      ),
  },
  {
    when: (s) =>
      check(
        s.writeMove === "switch" && s.validation === undefined,
        ["validation", "image"],
        "writeMove: switch runs its freeze, its validation and its thaw as Cloud Run Jobs in the image built from this repository; hint: set validation.image (see the Dockerfile), or writeMove: ramp",
      ),
  },
  {
    when: (s) => {
      const { min, max } = LOG_RETENTION_RANGE[s.cloudSql.edition];
      const days = s.cloudSql.backups.logRetentionDays;
      return check(
        days < min || days > max,
        ["cloudSql", "backups", "logRetentionDays"],
        `expected ${min}–${max} days for edition ${s.cloudSql.edition}, got ${days}; hint: ${describeLogRetention()} days`,
      );
    },
  },
  {
    when: (s) =>
      check(
        s.cloudSql.backups.logRetentionDays >= s.cloudSql.backups.retainedBackups,
        ["cloudSql", "backups", "logRetentionDays"],
        `expected fewer log retention days (${s.cloudSql.backups.logRetentionDays}) than retained backups (${s.cloudSql.backups.retainedBackups}); hint: the Cloud SQL API answers 400 otherwise — raise retainedBackups or lower logRetentionDays`,
      ),
  },
  ...rampRules<CloudSqlMigration>("trafficPercent", "canary"),
  {
    when: (s) => {
      const name = s.cloudRun.stableRevision;
      const prefix = `${s.cloudRun.service}-`;
      return check(
        !REVISION_NAME.test(name) || !name.startsWith(prefix) || name.length > 63,
        ["cloudRun", "stableRevision"],
        `expected a Cloud Run revision name starting with "${prefix}" (lowercase letters, digits, '-', ≤ 63 chars, no trailing '-'); hint: gcloud run revisions list --service ${s.cloudRun.service}`,
      );
    },
  },
  {
    when: (s) =>
      check(
        s.phase === "rollback" && s.rollbackFrom === undefined,
        ["rollbackFrom"],
        "phase rollback needs rollbackFrom (the phase being left, e.g. canary) so that what exists is kept; hint: pulumi config set --path 'cutover:migrations.<name>.rollbackFrom' canary",
      ),
  },
  onlyInPhase<CloudSqlMigration>("rollbackFrom", "rollback"),
  {
    when: (s) =>
      check(
        s.cloudSql.database !== undefined && s.cloudSql.database !== s.source.database,
        ["cloudSql", "database"],
        `expected the source's database (${s.source.database}), got ${s.cloudSql.database}: DMS migrates each source database under its own name, so after promotion the app would read and write an empty ${s.cloudSql.database}; hint: remove cloudSql.database (the app uses source.database)`,
      ),
  },
  {
    when: (s) =>
      check(
        !s.dms.databases.includes(s.source.database),
        ["dms", "databases"],
        `expected the app's database ${s.source.database} among the migrated databases (${s.dms.databases.join(", ")}); hint: add it, or the candidate would start on a database DMS never filled`,
      ),
  },
  {
    when: (s) =>
      check(
        !("DATABASE_URL" in s.cloudRun.secretEnv),
        ["cloudRun", "secretEnv", "DATABASE_URL"],
        "expected DATABASE_URL of the source database as a Secret Manager reference; hint: DATABASE_URL: { secret: <id>, version: latest }",
      ),
  },
  {
    when: (s) =>
      Object.entries(s.cloudRun.env)
        .filter(([k, v]) => CREDENTIAL_ENV.test(k) || URL_WITH_USERINFO.test(v))
        .map(([k]) => ({
          path: ["cloudRun", "env", k],
          message: `expected no credential or connection string in plain env (value not shown); hint: move ${k} to cloudRun.secretEnv as a Secret Manager reference`,
        })),
  },
  {
    when: (s) =>
      Object.keys(s.cloudRun.env)
        .filter((k) => k in s.cloudRun.secretEnv || k === s.cloudRun.writeBlock.name)
        .map((k) => ({
          path: ["cloudRun", "env", k],
          message: `${k} is set twice (env and ${k in s.cloudRun.secretEnv ? "secretEnv" : "writeBlock"}); hint: keep one`,
        })),
  },
  {
    when: (s) =>
      check(
        FALSE_LIKE.test(s.cloudRun.writeBlock.value.trim()),
        ["cloudRun", "writeBlock", "value"],
        `expected a value that blocks writes, got "${s.cloudRun.writeBlock.value}"; hint: the frozen revision sets ${s.cloudRun.writeBlock.name} to this value and the app must refuse writes while it is set — use "true"`,
      ),
  },
  {
    when: (s) =>
      Object.entries(s.cloudRun.env)
        .filter(([, v]) => new TextEncoder().encode(v).length > CLOUD_RUN_ENV_LIMITS.valueBytes)
        .map(([k, v]) => ({
          path: ["cloudRun", "env", k],
          message: `expected at most ${CLOUD_RUN_ENV_LIMITS.valueBytes} bytes (Cloud Run's limit for one value), got ${new TextEncoder().encode(v).length}; hint: move large values to Secret Manager (cloudRun.secretEnv) or a file in the image`,
        })),
  },
  {
    when: (s) => {
      const count = Object.keys(s.cloudRun.env).length + Object.keys(s.cloudRun.secretEnv).length;
      return check(
        count + ENV_ADDED_BY_CUTOVER > CLOUD_RUN_ENV_LIMITS.variables,
        ["cloudRun", "env"],
        `expected at most ${CLOUD_RUN_ENV_LIMITS.variables - ENV_ADDED_BY_CUTOVER} variables in env and secretEnv together (Cloud Run allows ${CLOUD_RUN_ENV_LIMITS.variables} per service and cutover adds up to ${ENV_ADDED_BY_CUTOVER}), got ${count}; hint: group settings into one JSON variable`,
      );
    },
  },
  {
    when: (s) =>
      [
        ...Object.keys(s.cloudRun.env).map((k) => ["env", k]),
        ...Object.keys(s.cloudRun.secretEnv).map((k) => ["secretEnv", k]),
      ]
        .filter(([, k]) => RESERVED_ENV.test(k))
        .map(([where, k]) => ({
          path: ["cloudRun", where, k],
          message: `${k} is reserved by Cloud Run (set by the platform or refused); hint: remove it — the container port is cloudRun.port`,
        })),
  },
  {
    when: (s) =>
      check(
        s.source.port === 6543 || (/pooler\.supabase\.com$/.test(s.source.host) && s.source.port !== 5432),
        ["source", "port"],
        `expected a direct connection (port 5432), got ${s.source.host}:${s.source.port}; hint: DMS cannot replicate through Supabase's transaction pooler — use db.<ref>.supabase.co:5432`,
      ),
  },
  {
    when: (s) => {
      const region = s.cloudSql.subnetwork.split("/")[3];
      return check(
        region !== s.cloudRun.region,
        ["cloudSql", "subnetwork"],
        `expected a subnetwork in ${s.cloudRun.region} (the Cloud Run region), got one in ${region}; hint: Direct VPC egress needs a subnet in the service's region`,
      );
    },
  },
];
