import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import type { CloudSqlMigration } from "../config/cloudsql";
import type { EnvVar } from "../engine/env";
import { containerEnv, directVpcEgress, type Vpc } from "./cloud-run-app";
import { READER_JOB_SCRIPT } from "../engine/reader";

export interface ValidationJobArgs {
  readonly validation: NonNullable<CloudSqlMigration["validation"]>;
  readonly cloudRun: CloudSqlMigration["cloudRun"];
  readonly project: string;
  readonly jobName: string;
  /** The tables to check and the schema both sides hold them in. */
  readonly tables: readonly string[];
  /** SOURCE_DATABASE_URL and TARGET_DATABASE_URL, by Secret Manager reference only. */
  readonly env: readonly EnvVar[];
  readonly vpc: Vpc;
  /**
   * The job that gives the validation's reader SELECT on what DMS owns (run before each validation): the
   * app image (its Prisma) as the app user, with the reader-grant SQL from Secret Manager.
   */
  readonly reader: { readonly image: string; readonly env: readonly EnvVar[] };
}

/**
 * The validation gate as a Cloud Run Job: `validate --shard auto` in `tasks` parallel tasks, each one
 * slice of every table (CLOUD_RUN_TASK_INDEX / CLOUD_RUN_TASK_COUNT), inside the VPC the way the app is
 * (Cloud SQL has no public IP), as the app's service account (which already reads both URLs' secrets:
 * no new grant). Each task logs its report as one JSON line; `validate --merge` joins them from Cloud
 * Logging into the gate evidence. It never runs on `pulumi up` (no execution token): `up.yml` executes
 * it after the phase is applied, and an operator can with `gcloud run jobs execute <name> --wait`.
 */
export class ValidationJob extends pulumi.ComponentResource {
  public readonly job: gcp.cloudrunv2.Job;
  /** `<job>-grant`: executed by up.yml before the validation job, never by `pulumi up`. */
  public readonly readerJob: gcp.cloudrunv2.Job;

  constructor(name: string, args: ValidationJobArgs, opts?: pulumi.ComponentResourceOptions) {
    super("cutover:gcp:ValidationJob", name, {}, opts);
    const v = args.validation;
    this.job = new gcp.cloudrunv2.Job(
      `${name}-job`,
      {
        name: args.jobName,
        project: args.project,
        location: args.cloudRun.region,
        deletionProtection: false,
        template: {
          taskCount: v.tasks,
          parallelism: v.tasks,
          template: {
            serviceAccount: args.cloudRun.serviceAccount,
            // A failed slice is rerun once; the merge refuses a verdict with a slice missing.
            maxRetries: 1,
            timeout: `${v.timeoutSeconds}s`,
            containers: [
              {
                image: v.image,
                args: ["--tables", args.tables.join(","), "--shard", "auto", "--json", "--no-progress"],
                envs: containerEnv(args.env),
                resources: { limits: { cpu: v.cpu, memory: v.memory } },
              },
            ],
            vpcAccess: directVpcEgress(args.vpc),
          },
        },
      },
      { parent: this },
    );
    this.readerJob = new gcp.cloudrunv2.Job(
      `${name}-grant-job`,
      {
        name: `${args.jobName}-grant`,
        project: args.project,
        location: args.cloudRun.region,
        deletionProtection: false,
        template: {
          taskCount: 1,
          template: {
            serviceAccount: args.cloudRun.serviceAccount,
            maxRetries: 0,
            timeout: "600s",
            containers: [
              {
                image: args.reader.image,
                commands: ["sh", "-c"],
                args: [READER_JOB_SCRIPT],
                envs: containerEnv(args.reader.env),
              },
            ],
            vpcAccess: directVpcEgress(args.vpc),
          },
        },
      },
      { parent: this },
    );
    this.registerOutputs({ jobName: this.job.name, readerJobName: this.readerJob.name });
  }
}
