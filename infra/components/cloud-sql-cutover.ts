import * as pulumi from "@pulumi/pulumi";
import type { CloudSqlMigration } from "../config/cloudsql";
import type { CloudSqlPlan } from "../engine/cloudsql";
import { managedSecretIds, replicationEnv, revisionEnv, validationEnv } from "../engine/env";
import { AppSecret } from "./app-secret";
import { CloudRunApp } from "./cloud-run-app";
import { CloudSqlDatabase } from "./cloud-sql-database";
import { declareSwitch, dmsPromotionTarget } from "./switch-jobs";
import { DmsPromotion } from "./dms-promotion";
import { DmsReplication } from "./dms-replication";
import { LogicalReplication } from "./logical-replication";
import { MigrateJob } from "./migrate-job";
import { MigrationSpec } from "./migration-spec";
import { Memorystore } from "./memorystore";
import { ValidationJob } from "./validation-job";
import { ValidationReader } from "./validation-reader";

export interface CloudSqlCutoverArgs {
  /** The validated spec. */
  readonly spec: CloudSqlMigration;
  /** The phase's desired state (from `planCloudSql`). */
  readonly plan: CloudSqlPlan;
  /** Source password from the Pulumi secret config key. */
  readonly sourcePassword: pulumi.Input<string>;
  /** Bearer token for the DMS promotion call (secret). */
  readonly accessToken: pulumi.Input<string>;
  /** Pulumi `protect` on stateful resources (prod). @default false */
  readonly protect?: boolean;
}

/** One `cloudsql` migration: turns the phase's desired state into resources, nothing more. */
export class CloudSqlCutover extends pulumi.ComponentResource {
  public readonly serviceUri: pulumi.Output<string>;
  /** The validation job's name, in the phases that declare it. */
  public readonly validationJob?: pulumi.Output<string>;
  /** The job that gives the validation's reader SELECT on what DMS owns, run before each validation. */
  public readonly readerJob?: pulumi.Output<string>;

  constructor(name: string, args: CloudSqlCutoverArgs, opts?: pulumi.ComponentResourceOptions) {
    super("cutover:migration:CloudSql", name, {}, opts);
    const { spec, plan } = args;
    const project = spec.gcp.project;
    const region = spec.gcp.region;
    const protect = args.protect ?? false;
    const accessors = [spec.cloudRun.serviceAccount];
    const ids = managedSecretIds(name);
    const vpc = { network: spec.cloudSql.privateNetwork, subnetwork: spec.cloudSql.subnetwork };
    const child = { parent: this };

    new MigrationSpec(
      `${name}-spec`,
      {
        cutoverSpec: "v1",
        migration: name,
        kind: "cloudsql",
        phase: plan.phase,
        basePhase: plan.basePhase,
        attempt: plan.attempt,
        promoted: plan.promoted,
        backupsManagedByDms: plan.backupsManagedByDms,
        service: spec.cloudRun.service,
        public: spec.cloudRun.public,
        stableRevision: spec.cloudRun.stableRevision,
        revisions: plan.revisions.map(({ name: n, role, database, writes }) => ({
          name: n,
          role,
          database,
          writes,
        })),
      },
      child,
    );

    const dependencies: pulumi.Resource[] = [];
    let sql: CloudSqlDatabase | undefined;
    if (plan.resources.cloudSql) {
      sql = new CloudSqlDatabase(
        `${name}-sql`,
        { config: spec.cloudSql, project, region, backupsManagedByDms: plan.backupsManagedByDms, protect },
        child,
      );
      const url = pulumi.interpolate`postgresql://${spec.cloudSql.user}:${sql.password}@${sql.privateIp}:5432/${plan.appDatabase}?sslmode=require`;
      for (const [role, secretId] of [
        ["database-url", ids.databaseUrl],
        ["direct-url", ids.directUrl],
      ] as const) {
        const s = new AppSecret(
          `${name}-${role}`,
          { secretId, project, value: url, accessors, protect },
          child,
        );
        dependencies.push(s);
      }
      if (spec.validation)
        dependencies.push(
          new ValidationReader(
            `${name}-reader`,
            {
              project,
              accessors,
              protect,
              privateIp: sql.privateIp,
              database: plan.appDatabase,
              secretIds: { url: ids.validateUrl, grant: ids.readerGrant },
            },
            child,
          ),
        );
    }

    if (plan.resources.redis) {
      const redis = new Memorystore(
        `${name}-redis`,
        {
          config: spec.redis,
          instanceName: plan.redisInstanceName,
          project,
          region,
          network: spec.cloudSql.privateNetwork,
          protect,
        },
        child,
      );
      dependencies.push(
        new AppSecret(
          `${name}-redis-url`,
          { secretId: ids.redisUrl, project, value: redis.url, accessors, protect },
          child,
        ),
        new AppSecret(
          `${name}-redis-ca`,
          { secretId: ids.redisCa, project, value: redis.caCert, accessors, protect },
          child,
        ),
      );
    }

    // What the schema migration waits for: the promotion (DMS) or the replication's stop (logical). In
    // the switch's phase the switch promotes, inside its deadline: neither is declared to run on its own.
    let promotion: pulumi.Resource | undefined;
    let dmsJob: pulumi.Resource | undefined;
    const promotes = plan.resources.promotion && !plan.resources.switch;
    if (plan.resources.replication && sql && plan.logical && spec.validation) {
      const logical = new LogicalReplication(
        `${name}-logical`,
        {
          cloudRun: spec.cloudRun,
          logical: spec.logical,
          project,
          image: spec.validation.image,
          replicationName: plan.logical.name,
          startJob: plan.logical.startJob,
          stopJob: plan.logical.stopJob,
          stop: promotes,
          env: replicationEnv(name, spec),
          vpc,
        },
        { parent: this, dependsOn: dependencies },
      );
      promotion = logical.stopJob;
    } else if (plan.resources.replication && sql) {
      const dms = new DmsReplication(
        `${name}-dms`,
        {
          source: spec.source,
          dms: spec.dms,
          project,
          region,
          migration: name,
          jobId: plan.dmsJobId,
          sourcePassword: args.sourcePassword,
          destinationInstance: sql.instance.name,
          network: spec.cloudSql.privateNetwork,
        },
        child,
      );
      dmsJob = dms;
      if (promotes) {
        promotion = new DmsPromotion(
          `${name}-promotion`,
          {
            // `dependsOn` below orders it after the job.
            ...dmsPromotionTarget(spec, plan),
            accessToken: args.accessToken,
            endpoint: spec.dms.endpoint,
            allowPromoteFromCdc: spec.dms.allowPromoteFromCdc,
          },
          { parent: this, dependsOn: [dms] },
        );
      }
    }

    if (plan.resources.migrateJob) {
      const job = new MigrateJob(
        `${name}-migrate`,
        {
          config: spec.cloudRun,
          project,
          jobName: plan.migrateJobName,
          env: revisionEnv(name, spec, plan.migrateJobRevision),
          vpc,
          // On the switch route the switch runs it, inside its deadline; `pulumi up` never does.
          run: plan.switch === undefined,
        },
        { parent: this, dependsOn: [...dependencies, ...(promotion ? [promotion] : [])] },
      );
      dependencies.push(job);
    }

    let readerJob: pulumi.Output<string> | undefined;
    if (plan.validationJobName && spec.validation) {
      const validation = new ValidationJob(
        `${name}-validate`,
        {
          validation: spec.validation,
          cloudRun: spec.cloudRun,
          project,
          jobName: plan.validationJobName,
          tables: spec.source.criticalTables,
          env: validationEnv(name, spec),
          vpc,
          reader: {
            image: spec.cloudRun.image,
            env: [
              { name: "DIRECT_URL", secret: ids.directUrl, version: "latest" },
              { name: "READER_GRANT_SQL", secret: ids.readerGrant, version: "latest" },
            ],
          },
        },
        { parent: this, dependsOn: dependencies },
      );
      this.validationJob = validation.job.name;
      this.readerJob = readerJob = validation.readerJob.name;
    }

    // writeMove: switch — the service's traffic waits for the switch (or, at a rollback, the thaw).
    const gate = declareSwitch(name, {
      spec,
      plan,
      ...(sql && readerJob ? { readerJob } : {}),
      accessToken: args.accessToken,
      vpc,
      dependsOn: [...dependencies, ...(dmsJob ? [dmsJob] : [])],
      parent: this,
    });
    const usesPrivateNetwork = plan.template.database === "cloudsql" || plan.template.redis;
    const app = new CloudRunApp(
      `${name}-app`,
      {
        config: spec.cloudRun,
        project,
        template: plan.template,
        env: revisionEnv(name, spec, plan.template),
        traffic: plan.traffic,
        ...(usesPrivateNetwork ? { vpc } : {}),
      },
      { parent: this, dependsOn: [...(usesPrivateNetwork ? dependencies : []), ...gate] },
    );
    this.serviceUri = app.service.uri;
    this.registerOutputs({ serviceUri: this.serviceUri, validationJob: this.validationJob });
  }
}
