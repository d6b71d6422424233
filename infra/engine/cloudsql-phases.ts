/**
 * Over 300 lines: one table, a row per phase, read together on purpose (what exists, who serves, what
 * cannot be undone, gates and allowed moves side by side); the helpers above it only build rows.
 */
import type { CloudSqlMigration, CloudSqlPhase } from "../config/cloudsql";
import { migrateJobName, revisionName, type RevisionRole } from "./naming";
import { REPLICATION_PATHS } from "./replication-paths";
import { ALLOWED, refused, type TransitionRow } from "./phase-row";
import { POST_PROMOTION_STEPS } from "./sequences";

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
  /** The replication the config chooses (DMS job, or publication and subscription) is declared. */
  readonly replication: boolean;
  readonly promotion: boolean;
  readonly migrateJob: boolean;
  /**
   * The Cloud Run Job that validates source against Cloud SQL from inside the VPC, sharded: declared in
   * the phases whose next step is gated on validation (with `validation.image` configured).
   */
  readonly validationJob: boolean;
  /**
   * The switch (`writeMove: switch`): one bounded job that freezes the source at the database, checks the
   * marker, validates, promotes, runs the post-promotion steps and smokes the candidate, before traffic
   * moves; it gives writes back to the source when a term fails or overruns.
   */
  readonly switch: boolean;
}

/** A forward phase of kind cloudsql (rollback keeps the resources of the phase it leaves). */
export type CloudSqlBasePhase = Exclude<CloudSqlPhase, "rollback">;

/** What the rows' functions may read. */
export interface CloudSqlPhaseContext {
  readonly spec: CloudSqlMigration;
  readonly migration: string;
  readonly revisions: Readonly<Record<RevisionPlan["role"], RevisionPlan>>;
  /** The write window projected for this spec (`projectWindow`), in one line; computed when asked. */
  readonly window: () => string;
}

/** Everything one forward phase means: the one place a cloudsql phase's meaning lives. */
export interface CloudSqlPhaseRow extends TransitionRow {
  readonly resources: CloudSqlResources;
  /**
   * On a path that demotes the destination (DMS), the replication service owns its backups and PITR in
   * this phase and Pulumi must not fight it; the plan applies it only on such a path.
   */
  readonly backupsManagedByDms: boolean;
  /** The promotion (DMS's, or the logical path's stop) has happened by this phase. */
  readonly promoted: boolean;
  /** The revision the service template declares (whose writes flag smoke checks). */
  readonly templateRole: RevisionPlan["role"];
  /** The service template and the traffic split. */
  readonly serving: (c: CloudSqlPhaseContext) => {
    readonly template: RevisionPlan;
    readonly traffic: readonly TrafficEntry[];
  };
  /** Steps that cannot be undone by changing config back, printed first. */
  readonly irreversible: (c: CloudSqlPhaseContext) => readonly string[];
  readonly warnings: (c: CloudSqlPhaseContext) => readonly string[];
}

/** What each revision is, whatever the migration: its database, whether it writes, whether it has Redis. */
export const REVISION_TRAITS: Readonly<
  Record<RevisionPlan["role"], Pick<RevisionPlan, "database" | "writes" | "redis">>
> = {
  stable: { database: "source", writes: true, redis: false },
  freeze: { database: "source", writes: false, redis: false },
  candidate: { database: "cloudsql", writes: true, redis: false },
  redis: { database: "cloudsql", writes: true, redis: true },
};

/** The revisions a migration can name, by role. */
export function revisionsOf(spec: CloudSqlMigration): Record<RevisionPlan["role"], RevisionPlan> {
  const r = (role: RevisionRole): RevisionPlan => ({
    name: revisionName(spec, role),
    role,
    ...REVISION_TRAITS[role],
  });
  return {
    stable: { name: spec.cloudRun.stableRevision, role: "stable", ...REVISION_TRAITS.stable },
    freeze: r("freeze"),
    candidate: r("candidate"),
    redis: r("redis"),
  };
}

const resources = (on: (keyof CloudSqlResources)[]): CloudSqlResources => ({
  cloudSql: on.includes("cloudSql"),
  secrets: on.includes("secrets"),
  redis: on.includes("redis"),
  redisWired: on.includes("redisWired"),
  replication: on.includes("replication"),
  promotion: on.includes("promotion"),
  migrateJob: on.includes("migrateJob"),
  validationJob: on.includes("validationJob"),
  switch: on.includes("switch"),
});

/** The phases that gate their next step on validation say so to the operator when no job can run it. */
const noValidationJob = (c: CloudSqlPhaseContext): string[] =>
  c.spec.validation
    ? []
    : [
        "No validation job (validation.image is not set): the validate gate must run from a machine that reaches both the source and Cloud SQL's private IP.",
      ];

const rollbackTag = (c: CloudSqlPhaseContext): TrafficEntry => ({
  revision: c.revisions.stable.name,
  percent: 0,
  tag: "rollback",
});
const allTo = (rev: RevisionPlan): TrafficEntry[] => [{ revision: rev.name, percent: 100 }];
const none = () => [];
/** Before the freeze the stable revision serves everything, as it does today. */
const servesStable = (c: CloudSqlPhaseContext) => ({
  template: c.revisions.stable,
  traffic: allTo(c.revisions.stable),
});

const PROMOTED_BACK = refused(
  "promotion has happened: Cloud SQL is a standalone primary and the source misses every write made since, so an earlier phase cannot be put back by value (the frozen share would read a stale source); use rollback, which sends all traffic to the stable revision and says what stays behind",
);
const WRITES_ON_CLOUDSQL =
  "Writes served by Cloud SQL revisions land only in Cloud SQL: the source does not receive them, so a rollback leaves them behind.";

/** The cloudsql runbook, one row per forward phase, in order. */
export const CLOUDSQL_PHASE_TABLE: Readonly<Record<CloudSqlBasePhase, CloudSqlPhaseRow>> = {
  baseline: {
    resources: resources([]),
    backupsManagedByDms: false,
    promoted: false,
    templateRole: "stable",
    serving: servesStable,
    irreversible: none,
    warnings: none,
    rollback: refused("nothing has changed yet: baseline is where a rollback returns to"),
    back: refused("baseline is the first phase"),
  },
  provision: {
    // Redis is created early (tier and TLS mode are create-only, so it is made right once), wired in stabilize.
    resources: resources(["cloudSql", "secrets", "redis"]),
    backupsManagedByDms: false,
    promoted: false,
    templateRole: "stable",
    serving: servesStable,
    irreversible: none,
    warnings: none,
    rollback: ALLOWED,
    back: refused(
      "going back to baseline deletes the Cloud SQL instance, its secrets and Redis (deletion protection stops it half way); to stop here, use rollback, which keeps them",
    ),
  },
  replicate: {
    resources: resources(["cloudSql", "secrets", "redis", "replication", "validationJob"]),
    backupsManagedByDms: true,
    promoted: false,
    // On the switch route the candidate is deployed here, at 0% under its tag, so the switch can smoke it
    // and needs no deploy of its own; stable still serves everything (and writes like the candidate will).
    templateRole: "stable",
    serving: (c) =>
      c.spec.writeMove === "switch"
        ? {
            template: c.revisions.candidate,
            traffic: [
              ...allTo(c.revisions.stable),
              { revision: c.revisions.candidate.name, percent: 0, tag: "candidate" },
            ],
          }
        : servesStable(c),
    irreversible: none,
    warnings: (c) => [
      REPLICATION_PATHS[c.spec.replication].replicating(c),
      ...(c.spec.writeMove === "switch"
        ? [
            "The candidate is deployed at 0% under its tag: a write through its URL before the switch would land only in Cloud SQL, and the switch's exact validation would then refuse to promote.",
          ]
        : []),
      ...noValidationJob(c),
    ],
    rollback: ALLOWED,
    back: ALLOWED,
  },
  switch: {
    route: "switch",
    resources: resources([
      "cloudSql",
      "secrets",
      "redis",
      "replication",
      "promotion",
      "migrateJob",
      "validationJob",
      "switch",
    ]),
    backupsManagedByDms: true,
    promoted: true,
    templateRole: "candidate",
    serving: (c) => ({
      template: c.revisions.candidate,
      traffic: [{ revision: c.revisions.candidate.name, percent: 100, tag: "candidate" }, rollbackTag(c)],
    }),
    irreversible: (c) => [
      `The switch freezes the source at the database (role ${c.spec.switch.appRole ?? c.spec.source.user} read-only, its sessions ended): writes are refused until traffic moves, at most switch.deadlineSeconds (${c.spec.switch.deadlineSeconds} s); a term that fails or overruns gives them back to the source.`,
      REPLICATION_PATHS[c.spec.replication].promotion(c),
      `Job ${migrateJobName(c.spec)} runs once against Cloud SQL inside the switch, before any traffic: ${POST_PROMOTION_STEPS.map((s) => s.name).join("; ")}; then \`${c.spec.cloudRun.migrateCommand.join(" ")}\`. Schema changes are not rolled back.`,
      WRITES_ON_CLOUDSQL,
    ],
    warnings: (c) => [`Write window projected for these settings: ${c.window()}.`],
    rollback: ALLOWED,
    back: PROMOTED_BACK,
    records: { facts: ["promoted", "cutoverCompleted"] },
  },
  freeze: {
    route: "ramp",
    resources: resources(["cloudSql", "secrets", "redis", "replication", "validationJob"]),
    backupsManagedByDms: true,
    promoted: false,
    templateRole: "freeze",
    serving: (c) => ({
      template: c.revisions.freeze,
      traffic: [...allTo(c.revisions.freeze), rollbackTag(c)],
    }),
    irreversible: none,
    warnings: (c) => [
      `Writes are blocked (${c.spec.cloudRun.writeBlock.name}=${c.spec.cloudRun.writeBlock.value}): ${REPLICATION_PATHS[c.spec.replication].caughtUp(c)} before moving to promote.`,
      `Write window projected for these settings: ${c.window()}. The frozen revision refuses writes on its share until the candidate serves 100% (cutover rehearse measures the gates' work; docs/platform-facts.md gives the modelled delays).`,
      ...noValidationJob(c),
    ],
    rollback: ALLOWED,
    back: ALLOWED,
    gates: ["validate"],
  },
  promote: {
    route: "ramp",
    resources: resources(["cloudSql", "secrets", "redis", "replication", "promotion", "migrateJob"]),
    backupsManagedByDms: true,
    promoted: true,
    templateRole: "candidate",
    serving: (c) => ({
      template: c.revisions.candidate,
      traffic: [
        { revision: c.revisions.freeze.name, percent: 100 },
        { revision: c.revisions.candidate.name, percent: 0, tag: "candidate" },
        rollbackTag(c),
      ],
    }),
    irreversible: (c) => [
      REPLICATION_PATHS[c.spec.replication].promotion(c),
      `Job ${migrateJobName(c.spec)} runs once against Cloud SQL, before any traffic: ${POST_PROMOTION_STEPS.map((s) => s.name).join("; ")}; then \`${c.spec.cloudRun.migrateCommand.join(" ")}\`. Schema changes are not rolled back.`,
    ],
    warnings: none,
    rollback: ALLOWED,
    back: PROMOTED_BACK,
    records: { facts: ["promoted"] },
    gates: ["validate"],
  },
  canary: {
    route: "ramp",
    resources: resources(["cloudSql", "secrets", "redis", "replication", "promotion", "migrateJob"]),
    backupsManagedByDms: false,
    promoted: true,
    templateRole: "candidate",
    serving: (c) => {
      // The schema requires trafficPercent in canary; the first ramp step is only a type-level fallback.
      const share = c.spec.trafficPercent ?? c.spec.ramp[0];
      return {
        template: c.revisions.candidate,
        traffic: [
          { revision: c.revisions.candidate.name, percent: share, tag: "candidate" },
          { revision: c.revisions.freeze.name, percent: 100 - share },
          rollbackTag(c),
        ],
      };
    },
    irreversible: () => [WRITES_ON_CLOUDSQL],
    warnings: (c) =>
      (c.spec.trafficPercent ?? 0) < 100
        ? [
            "The frozen share still reads the source as of the freeze: writes made through the candidate are not visible to it until it reaches 100%.",
          ]
        : [],
    rollback: ALLOWED,
    back: PROMOTED_BACK,
    records: { facts: ["cutoverCompleted"], atLastStep: true },
    gates: ["smoke"],
  },
  stabilize: {
    resources: resources([
      "cloudSql",
      "secrets",
      "redis",
      "redisWired",
      "replication",
      "promotion",
      "migrateJob",
    ]),
    backupsManagedByDms: false,
    promoted: true,
    templateRole: "redis",
    serving: (c) => ({ template: c.revisions.redis, traffic: [...allTo(c.revisions.redis), rollbackTag(c)] }),
    irreversible: () => [WRITES_ON_CLOUDSQL],
    warnings: none,
    rollback: ALLOWED,
    // Back by value to canary:100 undoes only the Redis step: the candidate still serves everything on
    // Cloud SQL, so no write is left behind (unlike a rollback).
    back: ALLOWED,
  },
  decommission: {
    resources: resources(["cloudSql", "secrets", "redis", "redisWired", "migrateJob"]),
    backupsManagedByDms: false,
    promoted: true,
    templateRole: "redis",
    serving: (c) => ({ template: c.revisions.redis, traffic: allTo(c.revisions.redis) }),
    irreversible: (c) => [REPLICATION_PATHS[c.spec.replication].teardown(c)],
    warnings: none,
    rollback: refused(
      "replication is gone and the source has received no write since the promotion (at least the whole observation window): sending traffic back to it would serve stale data and lose those writes; fix forward, or restore Cloud SQL to a point in time (PITR)",
    ),
    back: refused(
      "decommission deleted the replication and dropped the rollback tag; the earlier phases cannot be rebuilt by value",
    ),
    records: { facts: ["decommissioned"] },
  },
};

/** Forward phases in runbook order (the table's key order). */
export const CLOUDSQL_ORDER = Object.keys(CLOUDSQL_PHASE_TABLE) as readonly CloudSqlBasePhase[];

/** The phases in which DMS owns the destination's backups: derived from the table, never listed by hand. */
export const DMS_OWNS_BACKUPS_IN: readonly CloudSqlBasePhase[] = CLOUDSQL_ORDER.filter(
  (p) => CLOUDSQL_PHASE_TABLE[p].backupsManagedByDms,
);

/** Phases a rollback can leave, from the table. */
export const CLOUDSQL_ROLLBACK_ORIGINS: readonly CloudSqlBasePhase[] = CLOUDSQL_ORDER.filter(
  (p) => CLOUDSQL_PHASE_TABLE[p].rollback.ok,
);
