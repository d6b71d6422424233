import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import type { CloudSqlMigration } from "../config/cloudsql";
import type { EnvVar } from "../engine/env";
import { containerEnv, directVpcEgress, type Vpc } from "./cloud-run-app";

export interface SwitchJobsArgs {
  readonly cloudRun: CloudSqlMigration["cloudRun"];
  readonly project: string;
  /** An image built from this repository (config `validation.image`): it holds `scripts/replication.ts`. */
  readonly image: string;
  readonly freezeJob: string;
  readonly thawJob: string;
  readonly thawBackJob: string;
  /** `switch` (the freeze job's) arguments: mode, role, tables, deadline, replication name. */
  readonly switchArgs: readonly string[];
  /** The app's role on the source (the thaw job's `--role`). */
  readonly role: string;
  /**
   * A rollback on the switch route: only the rollback's thaw job, created (and so run once) by this
   * `pulumi up`; else the switch's two jobs, run by the switch.
   */
  readonly thawNow: boolean;
  readonly env: readonly EnvVar[];
  readonly vpc: Vpc;
}

/**
 * The switch's Cloud Run Jobs in the VPC, as the app's service account (it already reads both URLs'
 * secrets): `freeze` (freeze the source, the marker, the validation — and the logical stop) run by the
 * CutoverSwitch provider inside its deadline, and `thaw` (writes back to the source) run by the provider
 * when a term fails. At a rollback only `thaw-back`, which `pulumi up` runs when it creates it
 * (`runExecutionToken`: the job is ready when that execution has succeeded).
 */
export class SwitchJobs extends pulumi.ComponentResource {
  public readonly freeze?: gcp.cloudrunv2.Job;
  public readonly thaw: gcp.cloudrunv2.Job;

  constructor(name: string, args: SwitchJobsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("cutover:gcp:SwitchJobs", name, {}, opts);
    const job = (suffix: string, jobName: string, command: readonly string[], run: boolean) =>
      new gcp.cloudrunv2.Job(
        `${name}-${suffix}`,
        {
          name: jobName,
          project: args.project,
          location: args.cloudRun.region,
          deletionProtection: false,
          ...(run ? { runExecutionToken: "thaw" } : {}),
          template: {
            taskCount: 1,
            template: {
              serviceAccount: args.cloudRun.serviceAccount,
              // The switch decides what a failure means (it thaws); a blind retry would freeze again.
              maxRetries: 0,
              timeout: "3600s",
              containers: [
                {
                  image: args.image,
                  commands: ["node", "--import", "tsx", "scripts/replication.ts"],
                  args: [...command],
                  envs: containerEnv(args.env),
                },
              ],
              vpcAccess: directVpcEgress(args.vpc),
            },
          },
        },
        { parent: this },
      );
    const thaw = ["thaw-source", "--role", args.role];
    if (args.thawNow) this.thaw = job("thaw-back", args.thawBackJob, thaw, true);
    else {
      this.freeze = job("freeze", args.freezeJob, ["switch", ...args.switchArgs], false);
      this.thaw = job("thaw", args.thawJob, thaw, false);
    }
    this.registerOutputs({ freezeJob: this.freeze?.name, thawJob: this.thaw.name });
  }
}
