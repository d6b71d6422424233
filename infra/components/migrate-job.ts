import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import type { CloudSqlMigration } from "../config/cloudsql";
import type { EnvVar } from "../engine/env";
import { migrateJobScript, POST_PROMOTION_SQL } from "../engine/sequences";
import { containerEnv, directVpcEgress, type Vpc } from "./cloud-run-app";

export interface MigrateJobArgs {
  readonly config: CloudSqlMigration["cloudRun"];
  readonly project: string;
  /** Job name (one per attempt). */
  readonly jobName: string;
  /** Env of the candidate revision (Cloud SQL URLs by secret reference). */
  readonly env: readonly EnvVar[];
  readonly vpc: Vpc;
  /** `pulumi up` runs it once and waits (false: the switch runs it, inside its deadline). @default true */
  readonly run?: boolean;
}

/**
 * `prisma migrate deploy` as a Cloud Run Job in the pipeline, never at request time. `runExecutionToken`
 * makes `pulumi up` run it once per token and wait for it; the token is the attempt's job name, so a
 * retry runs it again and a re-apply does not.
 */
export class MigrateJob extends pulumi.ComponentResource {
  public readonly job: gcp.cloudrunv2.Job;

  constructor(name: string, args: MigrateJobArgs, opts?: pulumi.ComponentResourceOptions) {
    super("cutover:gcp:MigrateJob", name, {}, opts);
    this.job = new gcp.cloudrunv2.Job(
      `${name}-job`,
      {
        name: args.jobName,
        project: args.project,
        location: args.config.region,
        deletionProtection: false,
        ...(args.run === false ? {} : { runExecutionToken: args.jobName }),
        template: {
          taskCount: 1,
          template: {
            serviceAccount: args.config.serviceAccount,
            maxRetries: 0,
            timeout: "1800s",
            containers: [
              {
                image: args.config.image,
                commands: ["sh", "-c"],
                args: [migrateJobScript(args.config.migrateCommand)],
                envs: [...containerEnv(args.env), { name: "POST_PROMOTION_SQL", value: POST_PROMOTION_SQL }],
              },
            ],
            vpcAccess: directVpcEgress(args.vpc),
          },
        },
      },
      { parent: this },
    );
    this.registerOutputs({ jobName: this.job.name });
  }
}
