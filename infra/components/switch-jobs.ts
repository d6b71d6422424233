import type * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import type { CloudSqlMigration } from "../config/cloudsql";
import type { CloudSqlPlan } from "../engine/cloudsql";
import { switchEnv } from "../engine/env";
import type { Vpc } from "./cloud-run-app";
import { CutoverSwitch } from "./cutover-switch";
import { replicationJob } from "./replication-job";

/** Where DMS's promotion is, and the backups and PITR it turns back on: one shape for both promoters. */
export function dmsPromotionTarget(spec: CloudSqlMigration, plan: CloudSqlPlan) {
  const { project, region } = spec.gcp;
  return {
    // Known at preview (the id is ours).
    migrationJob: `projects/${project}/locations/${region}/migrationJobs/${plan.dmsJobId}`,
    attempt: plan.attempt,
    timeoutMinutes: spec.dms.promoteTimeoutMinutes,
    reenableBackups: {
      project,
      instance: spec.cloudSql.instanceName,
      startTime: spec.cloudSql.backups.startTime,
      retainedBackups: spec.cloudSql.backups.retainedBackups,
      logRetentionDays: spec.cloudSql.backups.logRetentionDays,
    },
  };
}

export interface SwitchJobsArgs {
  readonly spec: CloudSqlMigration;
  readonly plan: CloudSqlPlan & { readonly switch: NonNullable<CloudSqlPlan["switch"]> };
  /** An image built from this repository (config `validation.image`): it holds `cutover replication`. */
  readonly image: string;
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

  constructor(name: string, a: SwitchJobsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("cutover:gcp:SwitchJobs", name, {}, opts);
    const { spec, plan } = a;
    const role = spec.switch.appRole ?? spec.source.user;
    const base = {
      cloudRun: spec.cloudRun,
      project: spec.gcp.project,
      image: a.image,
      env: switchEnv(plan.migration, spec),
      vpc: a.vpc,
      // The switch decides what a failure means (it thaws); a blind retry would freeze again.
      timeoutSeconds: 3600,
    };
    const thaw = ["thaw-source", "--role", role];
    if (plan.switch.thawNow)
      this.thaw = replicationJob(
        `${name}-thaw-back`,
        { ...base, jobName: plan.switch.thawBackJob, args: thaw, runToken: "thaw" },
        { parent: this },
      );
    else {
      const args = [
        "switch",
        ...["--mode", spec.replication, "--role", role],
        ...["--tables", spec.source.criticalTables.join(",")],
        ...["--deadline", String(spec.switch.deadlineSeconds)],
        ...(plan.logical ? ["--name", plan.logical.name, "--schemas", spec.logical.schemas.join(",")] : []),
      ];
      this.freeze = replicationJob(
        `${name}-freeze`,
        { ...base, jobName: plan.switch.freezeJob, args },
        { parent: this },
      );
      this.thaw = replicationJob(
        `${name}-thaw`,
        { ...base, jobName: plan.switch.thawJob, args: thaw },
        { parent: this },
      );
    }
    this.registerOutputs({ freezeJob: this.freeze?.name, thawJob: this.thaw.name });
  }
}

/**
 * writeMove: switch — what gates the service's traffic: the switch's jobs from its phase on (the thaw
 * serves a rollback), and in its phase the switch itself. Throws rather than let the switch's phase move
 * traffic without the switch (the config requires what it needs).
 */
export function declareSwitch(
  name: string,
  a: {
    readonly spec: CloudSqlMigration;
    readonly plan: CloudSqlPlan;
    /** Cloud SQL and the validation job exist (the reader's grant job is the validation's). */
    readonly readerJob?: pulumi.Input<string>;
    readonly accessToken: pulumi.Input<string>;
    readonly vpc: Vpc;
    readonly dependsOn: readonly pulumi.Resource[];
    readonly parent: pulumi.Resource;
  },
): pulumi.Resource[] {
  const { spec, plan } = a;
  const gate: pulumi.Resource[] = [];
  const sw = plan.switch;
  if (sw && spec.validation && a.readerJob && (plan.resources.switch || sw.thawNow)) {
    const jobs = new SwitchJobs(
      `${name}-switch`,
      { spec, plan: { ...plan, switch: sw }, image: spec.validation.image, vpc: a.vpc },
      { parent: a.parent, dependsOn: [...a.dependsOn] },
    );
    gate.push(jobs);
    // Only in the phase itself: a rollback keeps the record of a switch that ran, and never runs one.
    if (plan.phase === "switch")
      gate.push(
        new CutoverSwitch(
          `${name}-switch-run`,
          {
            attempt: plan.attempt,
            project: spec.gcp.project,
            region: spec.gcp.region,
            service: spec.cloudRun.service,
            freezeJob: sw.freezeJob,
            thawJob: sw.thawJob,
            readerJob: a.readerJob,
            migrateJob: plan.migrateJobName,
            ...(plan.logical
              ? {}
              : {
                  promotion: {
                    ...dmsPromotionTarget(spec, plan),
                    endpoint: spec.dms.endpoint ?? "https://datamigration.googleapis.com",
                    sqladminEndpoint: "https://sqladmin.googleapis.com",
                    pollIntervalSeconds: 10,
                    // The freeze job has proven writes stopped and replication reached the marker.
                    allowPromoteFromCdc: true,
                  },
                }),
            deadlineSeconds: spec.switch.deadlineSeconds,
            runEndpoint: "https://run.googleapis.com",
            pollIntervalSeconds: 5,
            smoke: {
              statusPath: "/system/status",
              writeProbePath: "/system/write-probe",
              tokenHeader: "authorization",
              timeoutSeconds: 10,
            },
            accessToken: a.accessToken,
          },
          { parent: a.parent, dependsOn: [jobs, ...a.dependsOn] },
        ),
      );
  }
  if (plan.phase === "switch" && !gate.some((g) => g instanceof CutoverSwitch))
    throw new Error(
      `${name}: phase switch without the switch (it needs Cloud SQL, validation.image and the validation job); nothing was changed`,
    );
  return gate;
}
