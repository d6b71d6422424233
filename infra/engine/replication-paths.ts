import type { CloudSqlMigration, ReplicationMode } from "../config/cloudsql";
import { dmsJobId, replicationName } from "./naming";

/** What the phase rows may read of the migration. */
export interface PathContext {
  readonly spec: CloudSqlMigration;
  readonly migration: string;
}

/**
 * What differs between the two ways data reaches Cloud SQL. The phases and their transitions are the
 * same table for both (`CLOUDSQL_PHASE_TABLE`); a row asks this table only for what its path decides.
 */
export interface ReplicationPath {
  /**
   * The destination is demoted to a replica while replication runs, and the service, not this program,
   * owns its backups and PITR until promotion (DMS on an existing instance). False: Cloud SQL stays a
   * primary with backups and PITR throughout.
   */
  readonly demotesDestination: boolean;
  /** Said at `replicate`: what now runs and what it means for the destination. */
  readonly replicating: (c: PathContext) => string;
  /** Said at `freeze`: what "caught up" means before moving to promote. */
  readonly caughtUp: (c: PathContext) => string;
  /** The irreversible step of `promote`. */
  readonly promotion: (c: PathContext) => string;
  /** The irreversible step of `decommission`. */
  readonly teardown: (c: PathContext) => string;
}

const backups = (c: PathContext) =>
  `${c.spec.cloudSql.backups.retainedBackups} backups, ${c.spec.cloudSql.backups.logRetentionDays} days of logs`;

export const REPLICATION_PATHS: Readonly<Record<ReplicationMode, ReplicationPath>> = {
  dms: {
    demotesDestination: true,
    replicating: (c) =>
      `DMS demotes ${c.spec.cloudSql.instanceName} to a replica while it runs: backups and PITR are suspended by DMS and left alone by this program until promotion.`,
    caughtUp: () => "wait for DMS replication delay ≈ 0 and READY_FOR_PROMOTE before moving to promote",
    promotion: (c) =>
      `DMS promotion of job ${dmsJobId(c.migration, c.spec)}: Cloud SQL becomes a standalone primary and replication from the source stops for good (a retry needs attempt ${c.spec.attempt + 1}); the same step turns automated backups and PITR back on (${backups(c)}).`,
    teardown: (c) =>
      `DMS job ${dmsJobId(c.migration, c.spec)} and its connection profiles are deleted and the rollback tag is dropped: returning to the source is no longer a config change.`,
  },
  logical: {
    demotesDestination: false,
    replicating: (c) =>
      `Cloud SQL subscribes to publication ${replicationName(c.migration, c.spec)} on ${c.spec.source.host} (schemas ${c.spec.logical.schemas.join(", ")}): it stays a primary with backups and PITR (${backups(c)}); nothing may write to the replicated tables there, and schema changes on the source are not replicated — hold them until promote. The subscription connects from the instance to ${c.spec.source.host}:${c.spec.source.port} directly (no pooler): the source must accept it (Supabase: allow the instance's outgoing address in Network Restrictions).`,
    caughtUp: (c) =>
      `wait until \`cutover replication status --name ${replicationName(c.migration, c.spec)}\` says every table is streaming and the lag is ≈ 0`,
    promotion: (c) =>
      `Replication ${replicationName(c.migration, c.spec)} stops for good once Cloud SQL confirms the source position taken after the freeze (at most ${c.spec.logical.catchUpTimeoutSeconds} s, else nothing is stopped): sequences take the source's positions, the subscription, its slot and the publications are dropped (a retry needs attempt ${c.spec.attempt + 1}). Cloud SQL was a primary throughout: backups and PITR never stopped.`,
    teardown: (c) =>
      `The replication jobs of attempt ${c.spec.attempt} are deleted and the rollback tag is dropped: returning to the source is no longer a config change.`,
  },
};
