import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import type { CloudSqlMigration } from "../config/cloudsql";

export interface DmsReplicationArgs {
  readonly source: CloudSqlMigration["source"];
  readonly dms: CloudSqlMigration["dms"];
  readonly project: string;
  readonly region: string;
  /** Migration name: prefix of the connection profile ids. */
  readonly migration: string;
  /** Migration job id (new per attempt). */
  readonly jobId: string;
  /** Source password, a Pulumi secret. */
  readonly sourcePassword: pulumi.Input<string>;
  /** Destination Cloud SQL instance name. */
  readonly destinationInstance: pulumi.Input<string>;
  /** VPC for `vpc-peering` connectivity. */
  readonly network: string;
}

/**
 * DMS continuous migration Supabase → Cloud SQL: source profile (direct host, TLS verified with the CA),
 * destination profile (the existing instance), and a CONTINUOUS job started by `desiredState`.
 */
export class DmsReplication extends pulumi.ComponentResource {
  public readonly sourceProfile: gcp.databasemigrationservice.ConnectionProfile;
  public readonly destinationProfile: gcp.databasemigrationservice.ConnectionProfile;
  public readonly job: gcp.databasemigrationservice.MigrationJob;

  constructor(name: string, args: DmsReplicationArgs, opts?: pulumi.ComponentResourceOptions) {
    super("cutover:gcp:DmsReplication", name, {}, opts);
    const where = { project: args.project, location: args.region };
    this.sourceProfile = new gcp.databasemigrationservice.ConnectionProfile(
      `${name}-source`,
      {
        ...where,
        connectionProfileId: `${args.migration}-source`,
        displayName: `${args.migration} source (Supabase)`,
        postgresql: {
          host: args.source.host,
          port: args.source.port,
          username: args.source.user,
          password: pulumi.secret(args.sourcePassword),
          ssl: { type: "SERVER_ONLY", caCertificate: args.source.caCertificate },
        },
      },
      { parent: this },
    );
    this.destinationProfile = new gcp.databasemigrationservice.ConnectionProfile(
      `${name}-destination`,
      {
        ...where,
        connectionProfileId: `${args.migration}-destination`,
        displayName: `${args.migration} destination (Cloud SQL)`,
        postgresql: { cloudSqlId: args.destinationInstance },
      },
      { parent: this },
    );
    this.job = new gcp.databasemigrationservice.MigrationJob(
      `${name}-job`,
      {
        ...where,
        migrationJobId: args.jobId,
        displayName: `${args.migration} ${args.jobId}`,
        type: "CONTINUOUS",
        source: this.sourceProfile.name,
        destination: this.destinationProfile.name,
        desiredState: "RUNNING",
        performanceConfig: { dumpParallelLevel: args.dms.dumpParallelLevel },
        // The job names the databases it migrates; each lands on Cloud SQL under its own name.
        objectsConfig: {
          sourceObjectsConfig: {
            objectsSelectionType: "SPECIFIED_OBJECTS",
            objectConfigs: args.dms.databases.map((database) => ({
              objectIdentifier: { type: "DATABASE", database },
            })),
          },
        },
        ...(args.dms.connectivity === "static-ip"
          ? { staticIpConnectivity: {} }
          : { vpcPeeringConnectivity: { vpc: args.network } }),
      },
      { parent: this },
    );
    this.registerOutputs({ jobName: this.job.name, jobState: this.job.state, jobPhase: this.job.phase });
  }
}
