import type { CloudSqlMigration } from "../config/cloudsql";
import type { RevisionPlan } from "./cloudsql";

/** A plain variable, or a reference to a Secret Manager secret (never a secret value). */
export type EnvVar =
  | { readonly name: string; readonly value: string }
  | { readonly name: string; readonly secret: string; readonly version: string };

/** Secret Manager ids of the secrets this program creates for a migration. */
export function managedSecretIds(migration: string) {
  return {
    databaseUrl: `${migration}-cloudsql-database-url`,
    directUrl: `${migration}-cloudsql-direct-url`,
    redisUrl: `${migration}-redis-url`,
    redisCa: `${migration}-redis-ca`,
    /** The validation job's read-only URL, and the SQL that makes its role (infra/engine/reader.ts). */
    validateUrl: `${migration}-cloudsql-validate-url`,
    readerGrant: `${migration}-cloudsql-reader-grant`,
  } as const;
}

/**
 * The environment of a revision: the stable env, plus what its role changes. Database URLs always come
 * from Secret Manager; the write-block flag is the only difference between stable and frozen.
 */
export function revisionEnv(migration: string, spec: CloudSqlMigration, revision: RevisionPlan): EnvVar[] {
  const ids = managedSecretIds(migration);
  const secretEnv: Record<string, { secret: string; version: string }> = { ...spec.cloudRun.secretEnv };
  const plain: Record<string, string> = { ...spec.cloudRun.env };
  if (revision.database === "cloudsql") {
    secretEnv.DATABASE_URL = { secret: ids.databaseUrl, version: "latest" };
    secretEnv.DIRECT_URL = { secret: ids.directUrl, version: "latest" };
  }
  if (!revision.writes) plain[spec.cloudRun.writeBlock.name] = spec.cloudRun.writeBlock.value;
  if (revision.redis) {
    secretEnv.REDIS_URL = { secret: ids.redisUrl, version: "latest" };
    secretEnv.REDIS_CA_CERT = { secret: ids.redisCa, version: "latest" };
    plain.REDIS_KEY_PREFIX = spec.redis.keyPrefix;
    plain.CHAT_REALTIME_BUS = "redis";
    plain.CHAT_REALTIME_REDIS_CHANNEL = spec.redis.channel;
  }
  const vars: EnvVar[] = [
    ...Object.entries(plain).map(([name, value]) => ({ name, value })),
    ...Object.entries(secretEnv).map(([name, ref]) => ({ name, secret: ref.secret, version: ref.version })),
  ];
  // Sorted so that the same revision always renders the same template (revision names are immutable).
  return vars.sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * The validation job's environment: the source as the app reaches it without a pooler (DIRECT_URL,
 * else DATABASE_URL) and Cloud SQL as the read-only reader — both Secret Manager references, never values.
 */
/**
 * The environment of the logical path's jobs: the source as the migration role, and Cloud SQL as the app
 * user (a member of cloudsqlsuperuser: it creates the subscription and owns the copied tables).
 */
export function replicationEnv(migration: string, spec: CloudSqlMigration): EnvVar[] {
  const source = spec.cloudRun.secretEnv.DIRECT_URL ?? spec.cloudRun.secretEnv.DATABASE_URL;
  return [
    { name: "SOURCE_DATABASE_URL", secret: source.secret, version: source.version },
    { name: "TARGET_DATABASE_URL", secret: managedSecretIds(migration).directUrl, version: "latest" },
  ];
}

/** The switch's jobs: the replication's URLs, and Cloud SQL as the validation's read-only reader. */
export function switchEnv(migration: string, spec: CloudSqlMigration): EnvVar[] {
  return [
    ...replicationEnv(migration, spec),
    { name: "VALIDATE_TARGET_URL", secret: managedSecretIds(migration).validateUrl, version: "latest" },
  ];
}

export function validationEnv(migration: string, spec: CloudSqlMigration): EnvVar[] {
  const source = spec.cloudRun.secretEnv.DIRECT_URL ?? spec.cloudRun.secretEnv.DATABASE_URL;
  return [
    { name: "SOURCE_DATABASE_URL", secret: source.secret, version: source.version },
    // Cloud SQL as the read-only reader: before promotion DMS owns the tables, and the app user cannot
    // read them (nor should the gate's check be able to write them).
    { name: "TARGET_DATABASE_URL", secret: managedSecretIds(migration).validateUrl, version: "latest" },
  ];
}
