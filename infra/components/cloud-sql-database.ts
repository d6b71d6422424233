import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { CloudSqlMigration } from "../config/cloudsql";

/** Flags set on every instance: audit and connection logging (policy pack checks them). */
export const DEFAULT_DATABASE_FLAGS: Readonly<Record<string, string>> = {
  "cloudsql.enable_pgaudit": "on",
  log_connections: "on",
  log_disconnections: "on",
  log_min_messages: "warning",
  log_min_error_statement: "error",
};

export interface CloudSqlDatabaseArgs {
  /** The `cloudSql` section of the migration spec. */
  readonly config: CloudSqlMigration["cloudSql"];
  readonly project: string;
  readonly region: string;
  /**
   * DMS has demoted the instance to a replica: it suspends backups and PITR, and Pulumi must not try to
   * turn them back on until promotion (the promotion step re-enables them).
   * @default false
   */
  readonly backupsManagedByDms?: boolean;
  /** Pulumi `protect` on the stateful children (prod). @default false */
  readonly protect?: boolean;
}

/** Cloud SQL for PostgreSQL: HA instance with backups, PITR, TLS only, private IP; app database and user. */
export class CloudSqlDatabase extends pulumi.ComponentResource {
  public readonly instance: gcp.sql.DatabaseInstance;
  public readonly user: gcp.sql.User;
  /** The app user's password (secret). */
  public readonly password: pulumi.Output<string>;
  /** Private IP the app reaches through Direct VPC egress. */
  public readonly privateIp: pulumi.Output<string>;

  constructor(name: string, args: CloudSqlDatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
    super("cutover:gcp:CloudSqlDatabase", name, {}, opts);
    const c = args.config;
    const stateful = { parent: this, protect: args.protect ?? false };

    this.instance = new gcp.sql.DatabaseInstance(
      `${name}-instance`,
      {
        name: c.instanceName,
        project: args.project,
        region: args.region,
        databaseVersion: c.databaseVersion,
        deletionProtection: true,
        settings: {
          edition: c.edition,
          tier: c.tier,
          availabilityType: c.highAvailability ? "REGIONAL" : "ZONAL",
          diskSize: c.diskSizeGb,
          diskType: c.diskType,
          diskAutoresize: true,
          deletionProtectionEnabled: true,
          backupConfiguration: {
            enabled: true,
            startTime: c.backups.startTime,
            pointInTimeRecoveryEnabled: true,
            transactionLogRetentionDays: c.backups.logRetentionDays,
            backupRetentionSettings: { retainedBackups: c.backups.retainedBackups, retentionUnit: "COUNT" },
          },
          ipConfiguration: {
            ipv4Enabled: false,
            privateNetwork: c.privateNetwork,
            sslMode: "ENCRYPTED_ONLY",
          },
          maintenanceWindow: {
            day: c.maintenanceWindow.day,
            hour: c.maintenanceWindow.hour,
            updateTrack: "stable",
          },
          databaseFlags: Object.entries({ ...DEFAULT_DATABASE_FLAGS, ...c.flags }).map(([flag, value]) => ({
            name: flag,
            value,
          })),
          insightsConfig: { queryInsightsEnabled: true },
        },
      },
      { ...stateful, ignoreChanges: args.backupsManagedByDms ? ["settings.backupConfiguration"] : [] },
    );

    // No application database is created here: DMS creates the migrated databases under their source
    // names, and a database made beside them before the job starts would conflict with the migration.

    const password = new random.RandomPassword(
      `${name}-password`,
      { length: 32, special: false },
      { parent: this, protect: args.protect ?? false },
    );
    this.password = pulumi.secret(password.result);

    this.user = new gcp.sql.User(
      `${name}-user`,
      {
        name: c.user,
        instance: this.instance.name,
        project: args.project,
        password: this.password,
        deletionPolicy: "ABANDON",
      },
      stateful,
    );

    this.privateIp = this.instance.privateIpAddress;
    this.registerOutputs({ instanceName: this.instance.name, privateIp: this.privateIp });
  }
}
