import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import type { CloudSqlMigration } from "../config/cloudsql";
import type { EnvVar } from "../engine/env";
import { containerEnv, directVpcEgress, type Vpc } from "./cloud-run-app";

/** What every one-off job of `cutover replication` shares (the logical path's and the switch's). */
export interface ReplicationJobArgs {
  readonly cloudRun: CloudSqlMigration["cloudRun"];
  readonly project: string;
  /** An image built from this repository (config `validation.image`): it holds `cutover replication`. */
  readonly image: string;
  readonly env: readonly EnvVar[];
  readonly vpc: Vpc;
}

/**
 * A Cloud Run Job running `cutover replication <args>` in the VPC as the app's service account, never
 * retried blindly (whoever runs it decides what a failure means). With `runToken`, `pulumi up` runs it
 * once when it creates it and waits for it (job name plus token under 63 characters).
 */
export function replicationJob(
  resourceName: string,
  a: ReplicationJobArgs & {
    readonly jobName: string;
    readonly args: readonly string[];
    readonly timeoutSeconds: number;
    readonly runToken?: string;
  },
  opts: pulumi.CustomResourceOptions,
): gcp.cloudrunv2.Job {
  return new gcp.cloudrunv2.Job(
    resourceName,
    {
      name: a.jobName,
      project: a.project,
      location: a.cloudRun.region,
      deletionProtection: false,
      ...(a.runToken ? { runExecutionToken: a.runToken } : {}),
      template: {
        taskCount: 1,
        template: {
          serviceAccount: a.cloudRun.serviceAccount,
          maxRetries: 0,
          timeout: `${a.timeoutSeconds}s`,
          containers: [
            {
              image: a.image,
              commands: ["node", "dist/cli/main.js", "replication"],
              args: [...a.args],
              envs: containerEnv(a.env),
            },
          ],
          vpcAccess: directVpcEgress(a.vpc),
        },
      },
    },
    opts,
  );
}
