import { CLOUDSQL_PHASES, type CloudSqlMigration, type CloudSqlPhase } from "../config/cloudsql";
import { dmsJobId, migrateJobName, revisionName, type RevisionRole } from "./naming";

/** Which database a revision talks to. */
export type DatabaseTarget = "source" | "cloudsql";

/** A Cloud Run revision as the plan sees it. */
export interface RevisionPlan {
  readonly name: string;
  /** `stable` is the revision serving today, created before cutover and adopted as is. */
  readonly role: "stable" | RevisionRole;
  readonly database: DatabaseTarget;
  /** False when the app's write-block flag is set. */
  readonly writes: boolean;
  /** Wired to Memorystore (REDIS_URL and the realtime bus). */
  readonly redis: boolean;
}

export interface TrafficEntry {
  readonly revision: string;
  readonly percent: number;
  /** A tag gives the revision its own URL even at 0% (smoke tests, warm rollback target). */
  readonly tag?: "candidate" | "rollback";
}

/** The stateful and stateless parts a phase declares. */
export interface CloudSqlResources {
  readonly cloudSql: boolean;
  readonly secrets: boolean;
  readonly redis: boolean;
  /** Redis URL secret and the REDIS_* env reach the serving revision. */
  readonly redisWired: boolean;
  readonly dms: boolean;
  readonly promotion: boolean;
  readonly migrateJob: boolean;
}

/** Everything a (spec, phase) implies. Components only turn this into resources. */
export interface CloudSqlPlan {
  readonly kind: "cloudsql";
  readonly migration: string;
  readonly phase: CloudSqlPhase;
  /** For rollback: the phase whose resources are kept. Otherwise equal to `phase`. */
  readonly basePhase: Exclude<CloudSqlPhase, "rollback">;
  readonly attempt: number;
  readonly resources: CloudSqlResources;
  /** DMS has demoted the destination: backups and PITR are DMS's to suspend, Pulumi must not fight it. */
  readonly backupsManagedByDms: boolean;
  /** DMS promotion has been declared (in this phase or an earlier one). */
  readonly promoted: boolean;
  readonly dmsJobId: string;
  readonly migrateJobName: string;
  /** The revision the service template declares in this phase. */
  readonly template: RevisionPlan;
  /** Every revision that traffic names, template included. */
  readonly revisions: readonly RevisionPlan[];
  readonly traffic: readonly TrafficEntry[];
  /** Steps that cannot be undone by changing config back, printed first. */
  readonly irreversible: readonly string[];
  readonly warnings: readonly string[];
}

type BasePhase = Exclude<CloudSqlPhase, "rollback">;

/** Ordinal of each phase in the runbook (rollback has none: it keeps its basePhase's resources). */
export const CLOUDSQL_ORDER: readonly BasePhase[] = CLOUDSQL_PHASES.filter(
  (p): p is BasePhase => p !== "rollback",
);

const at = (phase: BasePhase, from: BasePhase) =>
  CLOUDSQL_ORDER.indexOf(phase) >= CLOUDSQL_ORDER.indexOf(from);
const before = (phase: BasePhase, until: BasePhase) =>
  CLOUDSQL_ORDER.indexOf(phase) < CLOUDSQL_ORDER.indexOf(until);

/** What exists in each phase: one table, read left to right as the runbook goes. */
function resourcesOf(phase: BasePhase): CloudSqlResources {
  return {
    cloudSql: at(phase, "provision"),
    secrets: at(phase, "provision"),
    // Created early (tier and TLS mode are create-only, so it is made right once), wired in stabilize.
    redis: at(phase, "provision"),
    redisWired: at(phase, "stabilize"),
    dms: at(phase, "replicate") && before(phase, "decommission"),
    promotion: at(phase, "promote") && before(phase, "decommission"),
    migrateJob: at(phase, "promote"),
  };
}

function revisionsOf(spec: CloudSqlMigration): Record<RevisionPlan["role"], RevisionPlan> {
  return {
    stable: {
      name: spec.cloudRun.stableRevision,
      role: "stable",
      database: "source",
      writes: true,
      redis: false,
    },
    freeze: {
      name: revisionName(spec, "freeze"),
      role: "freeze",
      database: "source",
      writes: false,
      redis: false,
    },
    candidate: {
      name: revisionName(spec, "candidate"),
      role: "candidate",
      database: "cloudsql",
      writes: true,
      redis: false,
    },
    redis: {
      name: revisionName(spec, "redis"),
      role: "redis",
      database: "cloudsql",
      writes: true,
      redis: true,
    },
  };
}

/** The service template and traffic split of a forward phase. */
function servingOf(
  phase: BasePhase,
  spec: CloudSqlMigration,
): { template: RevisionPlan; traffic: TrafficEntry[] } {
  const r = revisionsOf(spec);
  const rollbackTarget: TrafficEntry = { revision: r.stable.name, percent: 0, tag: "rollback" };
  switch (phase) {
    case "baseline":
    case "provision":
    case "replicate":
      return { template: r.stable, traffic: [{ revision: r.stable.name, percent: 100 }] };
    case "freeze":
      return { template: r.freeze, traffic: [{ revision: r.freeze.name, percent: 100 }, rollbackTarget] };
    case "promote":
      return {
        template: r.candidate,
        traffic: [
          { revision: r.freeze.name, percent: 100 },
          { revision: r.candidate.name, percent: 0, tag: "candidate" },
          rollbackTarget,
        ],
      };
    case "canary": {
      const share = spec.trafficPercent ?? spec.ramp[0];
      return {
        template: r.candidate,
        traffic: [
          { revision: r.candidate.name, percent: share, tag: "candidate" },
          { revision: r.freeze.name, percent: 100 - share },
          rollbackTarget,
        ],
      };
    }
    case "stabilize":
      return { template: r.redis, traffic: [{ revision: r.redis.name, percent: 100 }, rollbackTarget] };
    case "decommission":
      return { template: r.redis, traffic: [{ revision: r.redis.name, percent: 100 }] };
    default: {
      const unreachable: never = phase;
      throw new Error(`unknown phase ${String(unreachable)}`);
    }
  }
}

function irreversibleOf(phase: BasePhase, spec: CloudSqlMigration, migration: string): string[] {
  const steps: string[] = [];
  if (phase === "promote")
    steps.push(
      `DMS promotion of job ${dmsJobId(migration, spec)}: Cloud SQL becomes a standalone primary and replication from the source stops for good (a retry needs attempt ${spec.attempt + 1}).`,
      `Job ${migrateJobName(spec)} runs \`${spec.cloudRun.migrateCommand.join(" ")}\` once against Cloud SQL: schema changes are not rolled back.`,
    );
  if (phase === "canary" || phase === "stabilize")
    steps.push(
      "Writes served by Cloud SQL revisions land only in Cloud SQL: the source does not receive them, so a rollback leaves them behind.",
    );
  if (phase === "decommission")
    steps.push(
      `DMS job ${dmsJobId(migration, spec)} and its connection profiles are deleted and the rollback tag is dropped: returning to the source is no longer a config change.`,
    );
  return steps;
}

function warningsOf(phase: BasePhase, spec: CloudSqlMigration): string[] {
  const w: string[] = [];
  if (phase === "replicate")
    w.push(
      `DMS demotes ${spec.cloudSql.instanceName} to a replica while it runs: backups and PITR are suspended by DMS and left alone by this program until promotion.`,
    );
  if (phase === "freeze")
    w.push(
      `Writes are blocked (${spec.cloudRun.writeBlock.name}=${spec.cloudRun.writeBlock.value}): wait for DMS replication delay ≈ 0 and READY_FOR_PROMOTE before moving to promote.`,
    );
  if (phase === "canary" && (spec.trafficPercent ?? 0) < 100)
    w.push(
      "The frozen share still reads the source as of the freeze: writes made through the candidate are not visible to it until it reaches 100%.",
    );
  return w;
}

/** Desired state of a cloudsql migration in a phase: pure, deterministic, no Pulumi. */
export function planCloudSql(migration: string, spec: CloudSqlMigration): CloudSqlPlan {
  const basePhase: BasePhase = spec.phase === "rollback" ? rollbackBaseOf(spec) : spec.phase;
  const serving = servingOf(basePhase, spec);
  const promoted = at(basePhase, "promote");
  const base = {
    kind: "cloudsql" as const,
    migration,
    phase: spec.phase,
    basePhase,
    attempt: spec.attempt,
    resources: resourcesOf(basePhase),
    backupsManagedByDms: at(basePhase, "replicate") && before(basePhase, "canary"),
    promoted,
    dmsJobId: dmsJobId(migration, spec),
    migrateJobName: migrateJobName(spec),
    template: serving.template,
  };
  const stable = revisionsOf(spec).stable;
  if (spec.phase !== "rollback") {
    return {
      ...base,
      revisions: revisionsIn(serving.template, serving.traffic, spec),
      traffic: serving.traffic,
      irreversible: irreversibleOf(basePhase, spec, migration),
      warnings: warningsOf(basePhase, spec),
    };
  }
  // Rollback keeps every resource of the phase it leaves (nothing stateful is deleted) and the same
  // template (no new revision), and moves all traffic back to the stable revision.
  const traffic: TrafficEntry[] = [
    { revision: stable.name, percent: 100, tag: "rollback" },
    ...serving.traffic.filter((t) => t.revision !== stable.name).map((t) => ({ ...t, percent: 0 })),
  ];
  return {
    ...base,
    revisions: revisionsIn(serving.template, traffic, spec),
    traffic,
    irreversible: [
      ...(promoted
        ? [
            `Rolling back after promotion: writes made on Cloud SQL since the promotion of attempt ${spec.attempt} are NOT on the source and are not copied back. Export them from Cloud SQL before a retry.`,
          ]
        : []),
      ...(basePhase === "decommission"
        ? [
            `The DMS job is gone: the source has received nothing since the promotion (at least ${spec.observeHours} h of writes live only on Cloud SQL).`,
          ]
        : []),
    ],
    warnings: [
      `All traffic returns to ${stable.name} (source database, writes on). Retry with attempt ${spec.attempt + 1}: new job and revision names.`,
    ],
  };
}

/** The phase a rollback leaves; the schema guarantees it is set for phase rollback. */
function rollbackBaseOf(spec: CloudSqlMigration): BasePhase {
  return spec.rollbackFrom ?? "provision";
}

function revisionsIn(
  template: RevisionPlan,
  traffic: readonly TrafficEntry[],
  spec: CloudSqlMigration,
): RevisionPlan[] {
  const all = Object.values(revisionsOf(spec));
  const names = new Set([template.name, ...traffic.map((t) => t.revision)]);
  return all.filter((r) => names.has(r.name));
}
