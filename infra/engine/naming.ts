import type { CloudSqlMigration } from "../config/cloudsql";

/** Roles of the revisions a cloudsql migration deploys (the stable one exists already). */
export const REVISION_ROLES = ["freeze", "candidate", "redis"] as const;
export type RevisionRole = (typeof REVISION_ROLES)[number];

const ROLE_SUFFIX: Record<RevisionRole, string> = {
  freeze: "freeze",
  candidate: "cand",
  redis: "redis",
};

/**
 * Deterministic revision name: `<service>-<role>-a<attempt>`. The same (role, attempt) always yields the
 * same name and the same template, so moving back and forth between phases re-declares an identical
 * revision instead of colliding with an existing one; a retry takes a new attempt and new names.
 */
export function revisionName(
  spec: Pick<CloudSqlMigration, "cloudRun" | "attempt">,
  role: RevisionRole,
): string {
  return `${spec.cloudRun.service}-${ROLE_SUFFIX[role]}-a${spec.attempt}`;
}

/** Every revision name the migration can generate (validated up front). */
export function revisionNamesOf(spec: Pick<CloudSqlMigration, "cloudRun" | "attempt">): string[] {
  return REVISION_ROLES.map((r) => revisionName(spec, r));
}

/** Name of the Cloud Run Job that runs the schema migration once per attempt. */
export function migrateJobName(spec: Pick<CloudSqlMigration, "cloudRun" | "attempt">): string {
  return `${spec.cloudRun.service}-migrate-a${spec.attempt}`;
}

/** Name of the Cloud Run Job that validates the copy (one per attempt). */
export function validationJobName(spec: Pick<CloudSqlMigration, "cloudRun" | "attempt">): string {
  return `${spec.cloudRun.service}-validate-a${spec.attempt}`;
}

/** DMS migration job id (new per attempt: type/source/destination changes force replacement anyway). */
export function dmsJobId(migration: string, spec: Pick<CloudSqlMigration, "attempt">): string {
  return `${migration}-dms-a${spec.attempt}`;
}

/**
 * Name of the publication, subscription and slot of `replication: logical` (one per attempt):
 * PostgreSQL identifiers, so lowercase with underscores.
 */
export function replicationName(migration: string, spec: Pick<CloudSqlMigration, "attempt">): string {
  return `cutover_${migration.toLowerCase().replace(/[^a-z0-9]/g, "_")}_a${spec.attempt}`;
}

/**
 * Names of the switch's Cloud Run Jobs (writeMove: switch): freeze the source; give writes back when the
 * switch fails (run by the switch); give them back at a rollback (created by it, so `up` runs it once).
 */
export function switchJobNames(spec: Pick<CloudSqlMigration, "cloudRun" | "attempt">) {
  return {
    freeze: `${spec.cloudRun.service}-switch-a${spec.attempt}`,
    thaw: `${spec.cloudRun.service}-thaw-a${spec.attempt}`,
    thawBack: `${spec.cloudRun.service}-thaw-back-a${spec.attempt}`,
  } as const;
}

/** Names of the Cloud Run Jobs that start and stop logical replication (one pair per attempt). */
export function replicationJobNames(spec: Pick<CloudSqlMigration, "cloudRun" | "attempt">) {
  return {
    start: `${spec.cloudRun.service}-repl-start-a${spec.attempt}`,
    stop: `${spec.cloudRun.service}-repl-stop-a${spec.attempt}`,
  } as const;
}
