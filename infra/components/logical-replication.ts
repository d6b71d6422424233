import type * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import type { CloudSqlMigration } from "../config/cloudsql";
import type { EnvVar } from "../engine/env";
import type { Vpc } from "./cloud-run-app";
import { replicationJob } from "./replication-job";

export interface LogicalReplicationArgs {
  readonly cloudRun: CloudSqlMigration["cloudRun"];
  readonly logical: CloudSqlMigration["logical"];
  readonly project: string;
  /** An image built from this repository (config `validation.image`): it holds `cutover replication`. */
  readonly image: string;
  /** Publication, subscription and slot name (one per attempt). */
  readonly replicationName: string;
  readonly startJob: string;
  readonly stopJob: string;
  /** Declare and run the stop job (the `promote` step). */
  readonly stop: boolean;
  /** SOURCE_DATABASE_URL and TARGET_DATABASE_URL, by Secret Manager reference only. */
  readonly env: readonly EnvVar[];
  readonly vpc: Vpc;
}

/**
 * `replication: logical` as two one-off Cloud Run Jobs in the VPC, each run once by `pulumi up`
 * (`runExecutionToken`) and waited for, following the migrate job's pattern:
 *   - start (from `replicate` on): copies the schema, creates the publications on the source and the
 *     subscription on Cloud SQL; idempotent, so a re-run after a failure finishes what is missing;
 *   - stop (from `promote` on): waits for the marker, moves the sequences, drops the replication.
 * Both run as the app's service account, which already reads both URLs' secrets (no new grant), with
 * the image of the validation job. Deleting a job (decommission) deletes its record, not its effect.
 */
export class LogicalReplication extends pulumi.ComponentResource {
  public readonly startJob: gcp.cloudrunv2.Job;
  public readonly stopJob?: gcp.cloudrunv2.Job;

  constructor(name: string, args: LogicalReplicationArgs, opts?: pulumi.ComponentResourceOptions) {
    super("cutover:gcp:LogicalReplication", name, {}, opts);
    // A step that failed is rerun by the next `pulumi up` of the same phase, not blindly by Cloud Run.
    const job = (suffix: string, jobName: string, command: string[], timeoutSeconds: number) =>
      replicationJob(
        `${name}-${suffix}`,
        { ...args, jobName, args: command, timeoutSeconds, runToken: "run" },
        { parent: this },
      );
    const common = ["--name", args.replicationName, "--schemas", args.logical.schemas.join(",")];
    this.startJob = job("start", args.startJob, ["start", ...common], 3600);
    if (args.stop) {
      const timeout = args.logical.catchUpTimeoutSeconds;
      this.stopJob = job(
        "stop",
        args.stopJob,
        ["stop", ...common, "--timeout", String(timeout)],
        timeout + 300,
      );
    }
    this.registerOutputs({ startJob: this.startJob.name, stopJob: this.stopJob?.name });
  }
}
