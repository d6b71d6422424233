import type { CloudSqlMigration, CloudSqlPhase } from "../config/cloudsql";
import {
  CLOUDSQL_PHASE_TABLE,
  revisionsOf,
  type CloudSqlBasePhase,
  type CloudSqlPhaseContext,
  type CloudSqlResources,
  type RevisionPlan,
  type TrafficEntry,
} from "./cloudsql-phases";
import {
  dmsJobId,
  migrateJobName,
  replicationJobNames,
  replicationName,
  switchJobNames,
  validationJobName,
} from "./naming";
import { REPLICATION_PATHS } from "./replication-paths";
import { describeProjection, projectAlternatives, projectWindow } from "./window";

export {
  CLOUDSQL_ORDER,
  type CloudSqlResources,
  type DatabaseTarget,
  type RevisionPlan,
  type TrafficEntry,
} from "./cloudsql-phases";

/** Everything a (spec, phase) implies. Components only turn this into resources. */
export interface CloudSqlPlan {
  readonly kind: "cloudsql";
  readonly migration: string;
  readonly phase: CloudSqlPhase;
  /** For rollback: the phase whose resources are kept. Otherwise equal to `phase`. */
  readonly basePhase: CloudSqlBasePhase;
  readonly attempt: number;
  /** How data reaches Cloud SQL (config `replication`). */
  readonly replication: CloudSqlMigration["replication"];
  readonly resources: CloudSqlResources;
  /** DMS has demoted the destination: backups and PITR are DMS's to suspend, Pulumi must not fight it. */
  readonly backupsManagedByDms: boolean;
  /** DMS promotion has been declared (in this phase or an earlier one). */
  readonly promoted: boolean;
  readonly dmsJobId: string;
  /** `replication: logical`: the publication, subscription and slot name, and the jobs that start and stop it. */
  readonly logical?: {
    readonly name: string;
    readonly startJob: string;
    readonly stopJob: string;
  };
  readonly migrateJobName: string;
  /**
   * writeMove: switch — the jobs of the switch: `freeze` (freeze, marker, validation, and the logical
   * stop) and `thaw` (writes back to the source). `thawNow`: this `pulumi up` runs the thaw (a rollback
   * on the switch route gives writes back to the source before traffic returns to it).
   */
  readonly switch?: {
    readonly freezeJob: string;
    readonly thawJob: string;
    /** The rollback's thaw job: created by the rollback's `pulumi up`, which runs it once. */
    readonly thawBackJob: string;
    readonly thawNow: boolean;
  };
  /** Declared when the phase has it and `validation.image` is set. */
  readonly validationJobName?: string;
  /** The revision whose env the schema-migration job runs with: the candidate's, on Cloud SQL, writes on. */
  readonly migrateJobRevision: RevisionPlan;
  /** Memorystore instance name (config `redis.name`, else `<service>-redis`). */
  readonly redisInstanceName: string;
  /**
   * The database the app uses on Cloud SQL: the source's own, which DMS migrates under the same name.
   * Never a second setting (config refuses a `cloudSql.database` that differs).
   */
  readonly appDatabase: string;
  /** The Cloud SQL DATABASE_URL as the plan shows it (password masked, IP known only at up). */
  readonly databaseUrlShown: string;
  /** The revision the service template declares in this phase. */
  readonly template: RevisionPlan;
  /** Every revision that traffic names, template included. */
  readonly revisions: readonly RevisionPlan[];
  readonly traffic: readonly TrafficEntry[];
  /** Steps that cannot be undone by changing config back, printed first. */
  readonly irreversible: readonly string[];
  readonly warnings: readonly string[];
}

/** Desired state of a cloudsql migration in a phase: pure, deterministic, no Pulumi. Reads the phase table. */
export function planCloudSql(migration: string, spec: CloudSqlMigration): CloudSqlPlan {
  // The schema guarantees rollbackFrom in phase rollback; provision is only a type-level fallback.
  const basePhase: CloudSqlBasePhase =
    spec.phase === "rollback" ? (spec.rollbackFrom ?? "provision") : spec.phase;
  const row = CLOUDSQL_PHASE_TABLE[basePhase];
  const revisions = revisionsOf(spec);
  const ctx: CloudSqlPhaseContext = {
    spec,
    migration,
    revisions,
    window: () =>
      `${describeProjection(projectWindow(migration, spec))} (${projectAlternatives(migration, spec)
        .map((a) => `with ${a.name}: ${describeProjection(a.projection)}`)
        .join("; ")})`,
  };
  const serving = row.serving(ctx);
  const base = {
    kind: "cloudsql" as const,
    migration,
    phase: spec.phase,
    basePhase,
    attempt: spec.attempt,
    replication: spec.replication,
    resources: row.resources,
    backupsManagedByDms: row.backupsManagedByDms && REPLICATION_PATHS[spec.replication].demotesDestination,
    promoted: row.promoted,
    dmsJobId: dmsJobId(migration, spec),
    ...(spec.replication === "logical"
      ? {
          logical: {
            name: replicationName(migration, spec),
            startJob: replicationJobNames(spec).start,
            stopJob: replicationJobNames(spec).stop,
          },
        }
      : {}),
    migrateJobName: migrateJobName(spec),
    ...(spec.writeMove === "switch"
      ? {
          switch: {
            freezeJob: switchJobNames(spec).freeze,
            thawJob: switchJobNames(spec).thaw,
            thawBackJob: switchJobNames(spec).thawBack,
            thawNow: spec.phase === "rollback" && row.promoted,
          },
        }
      : {}),
    ...(row.resources.validationJob && spec.validation ? { validationJobName: validationJobName(spec) } : {}),
    migrateJobRevision: revisions.candidate,
    redisInstanceName: spec.redis.name ?? `${spec.cloudRun.service}-redis`,
    appDatabase: spec.source.database,
    databaseUrlShown: `postgresql://${spec.cloudSql.user}:***@<private IP of ${spec.cloudSql.instanceName}>:5432/${spec.source.database}?sslmode=require`,
    template: serving.template,
  };
  if (spec.phase !== "rollback") {
    return {
      ...base,
      revisions: revisionsIn(serving.template, serving.traffic, revisions),
      traffic: serving.traffic,
      irreversible: row.irreversible(ctx),
      warnings: row.warnings(ctx),
    };
  }
  // Rollback keeps every resource of the phase it leaves (nothing stateful is deleted) and the same
  // template (no new revision), and moves all traffic back to the stable revision.
  const stable = revisions.stable;
  const traffic: TrafficEntry[] = [
    { revision: stable.name, percent: 100, tag: "rollback" },
    ...serving.traffic.filter((t) => t.revision !== stable.name).map((t) => ({ ...t, percent: 0 })),
  ];
  return {
    ...base,
    revisions: revisionsIn(serving.template, traffic, revisions),
    traffic,
    irreversible: row.promoted
      ? [
          `Rolling back after promotion: writes made on Cloud SQL since the promotion of attempt ${spec.attempt} are NOT on the source and are not copied back. Export them from Cloud SQL before a retry.`,
        ]
      : [],
    warnings: [
      `All traffic returns to ${stable.name} (source database, writes on). Retry with attempt ${spec.attempt + 1}: new job and revision names.`,
      ...(spec.writeMove === "switch" && row.promoted
        ? [
            `The switch froze the source: job ${switchJobNames(spec).thawBack} gives writes back to it (role ${spec.switch.appRole ?? spec.source.user}) before traffic returns.`,
          ]
        : []),
    ],
  };
}

function revisionsIn(
  template: RevisionPlan,
  traffic: readonly TrafficEntry[],
  revisions: Readonly<Record<RevisionPlan["role"], RevisionPlan>>,
): RevisionPlan[] {
  const names = new Set([template.name, ...traffic.map((t) => t.revision)]);
  return Object.values(revisions).filter((r) => names.has(r.name));
}
