import fc from "fast-check";
import { CLOUDSQL_PHASES, ROLLBACK_ORIGINS, type CloudSqlMigration } from "../../infra/config/cloudsql";
import { parseMigrations } from "../../infra/config/load";
import { planCloudSql, type CloudSqlPlan } from "../../infra/engine/cloudsql";
import { CLOUDSQL_PHASE_TABLE } from "../../infra/engine/cloudsql-phases";
import { revisionNamesOf } from "../../infra/engine/naming";
import { ledgerDamage } from "../../infra/engine/ledger-health";
import { NOW, rawMigrations } from "../support/stack";

const base = parseMigrations(rawMigrations("staging"), { now: NOW }).avvivo as CloudSqlMigration;
const ROLLBACK_FROM = ROLLBACK_ORIGINS;

function at(phase: CloudSqlMigration["phase"], extra: Partial<CloudSqlMigration> = {}): CloudSqlPlan {
  return planCloudSql("avvivo", { ...base, phase, ...extra });
}

/** Every (phase, extra) the engine can be asked for. */
const everyPhase: [string, CloudSqlPlan][] = [
  ...CLOUDSQL_PHASES.filter((p) => p !== "canary" && p !== "rollback").map(
    (p) => [p, at(p)] as [string, CloudSqlPlan],
  ),
  ...base.ramp.map((n) => [`canary ${n}`, at("canary", { trafficPercent: n })] as [string, CloudSqlPlan]),
  ...ROLLBACK_FROM.map(
    (f) => [`rollback from ${f}`, at("rollback", { rollbackFrom: f })] as [string, CloudSqlPlan],
  ),
];

describe.each(everyPhase)("plan of %s", (_label, plan) => {
  it("sends exactly 100% of traffic", () => {
    expect(plan.traffic.reduce((s, t) => s + t.percent, 0)).toBe(100);
  });
  it("names only revisions it declares or the stable one", () => {
    const known = new Set([...plan.revisions.map((r) => r.name), base.cloudRun.stableRevision]);
    for (const t of plan.traffic) expect(known.has(t.revision)).toBe(true);
  });
  it("never lets both databases take writes at once (no split brain)", () => {
    const writers = plan.traffic
      .filter((t) => t.percent > 0)
      .map((t) => plan.revisions.find((r) => r.name === t.revision)!)
      .filter((r) => r.writes);
    expect(new Set(writers.map((r) => r.database)).size).toBeLessThanOrEqual(1);
  });
});

const promotedForward = everyPhase.filter(([, p]) => p.promoted && p.phase !== "rollback");

describe.each(promotedForward)("promoted plan %s", (_label, plan) => {
  it("gives no traffic to a source revision with writes on", () => {
    for (const t of plan.traffic.filter((x) => x.percent > 0)) {
      const r = plan.revisions.find((x) => x.name === t.revision)!;
      expect(r.database === "source" && r.writes).toBe(false);
    }
  });
});

describe("cloudsql phase engine", () => {
  it("covers switch, promote, canary, stabilize and decommission as promoted phases", () => {
    expect(promotedForward.map(([l]) => l)).toEqual([
      "switch",
      "promote",
      "stabilize",
      "decommission",
      "canary 10",
      "canary 50",
      "canary 100",
    ]);
  });

  it("follows the brief's table", () => {
    expect(at("baseline").resources).toEqual({
      cloudSql: false,
      secrets: false,
      redis: false,
      redisWired: false,
      replication: false,
      promotion: false,
      migrateJob: false,
      validationJob: false,
      switch: false,
    });
    expect(at("provision").resources).toMatchObject({
      cloudSql: true,
      secrets: true,
      redis: true,
      redisWired: false,
      replication: false,
    });
    expect(at("replicate").resources).toMatchObject({
      replication: true,
      promotion: false,
      validationJob: true,
    });
    expect(at("freeze").resources).toMatchObject({ validationJob: true });
    expect(at("promote").resources).toMatchObject({ validationJob: false });
    expect(at("replicate").backupsManagedByDms).toBe(true);
    expect(at("canary", { trafficPercent: 10 }).backupsManagedByDms).toBe(false);
    expect(at("promote").resources).toMatchObject({ promotion: true, migrateJob: true });
    expect(at("stabilize").resources.redisWired).toBe(true);
    expect(at("decommission").resources).toMatchObject({
      replication: false,
      promotion: false,
      cloudSql: true,
      redis: true,
    });
  });

  it("freezes writes with a new revision and keeps stable at 0% under the rollback tag", () => {
    const p = at("freeze");
    expect(p.template).toMatchObject({ name: "avvivo-api-freeze-a1", writes: false, database: "source" });
    expect(p.traffic).toEqual([
      { revision: "avvivo-api-freeze-a1", percent: 100 },
      { revision: "avvivo-api-00042-kav", percent: 0, tag: "rollback" },
    ]);
  });

  it("puts the candidate at 0% under the candidate tag in promote, and marks promotion irreversible", () => {
    const p = at("promote");
    expect(p.traffic).toContainEqual({ revision: "avvivo-api-cand-a1", percent: 0, tag: "candidate" });
    expect(p.irreversible.join("\n")).toContain("DMS promotion of job avvivo-dms-a1");
    expect(p.irreversible.join("\n")).toContain("npx prisma migrate deploy");
  });

  it("splits canary traffic between candidate and frozen revisions", () => {
    const p = at("canary", { trafficPercent: 50 });
    expect(p.traffic.slice(0, 2)).toEqual([
      { revision: "avvivo-api-cand-a1", percent: 50, tag: "candidate" },
      { revision: "avvivo-api-freeze-a1", percent: 50 },
    ]);
  });

  it("the switch: the candidate takes 100% in the up that promotes, the freeze named before it happens", () => {
    const p = at("switch", { writeMove: "switch" });
    expect(p.resources).toMatchObject({
      switch: true,
      promotion: true,
      migrateJob: true,
      validationJob: true,
    });
    expect(p.traffic).toEqual([
      { revision: "avvivo-api-cand-a1", percent: 100, tag: "candidate" },
      { revision: "avvivo-api-00042-kav", percent: 0, tag: "rollback" },
    ]);
    const irreversible = p.irreversible.join("\n");
    expect(irreversible).toContain("The switch freezes the source at the database (role postgres read-only");
    expect(irreversible).toContain("at most switch.deadlineSeconds (600 s)");
    expect(irreversible).toContain("DMS promotion of job avvivo-dms-a1");
    expect(irreversible).toContain("npx prisma migrate deploy");
    expect(
      at("switch", { writeMove: "switch", switch: { deadlineSeconds: 300, appRole: "app" } }).irreversible[0],
    ).toContain(
      "(role app read-only, its sessions ended): writes are refused until traffic moves, at most switch.deadlineSeconds (300 s)",
    );
  });

  it("drops the rollback tag in decommission", () => {
    expect(at("decommission").traffic).toEqual([{ revision: "avvivo-api-redis-a1", percent: 100 }]);
  });

  it.each(ROLLBACK_FROM)("rolls back from %s to 100%% stable without a new revision", (from) => {
    const p = at("rollback", { rollbackFrom: from });
    const left = at(from, from === "canary" ? { trafficPercent: 50 } : {});
    expect(p.traffic[0]).toEqual({ revision: "avvivo-api-00042-kav", percent: 100, tag: "rollback" });
    expect(p.template).toEqual(left.template);
    expect(p.resources).toEqual(left.resources);
  });

  it("says plainly after promotion that Cloud SQL writes are not on the source", () => {
    expect(at("rollback", { rollbackFrom: "canary" }).irreversible.join(" ")).toContain(
      "writes made on Cloud SQL since the promotion of attempt 1 are NOT on the source",
    );
    expect(at("rollback", { rollbackFrom: "freeze" }).irreversible).toEqual([]);
  });

  it("names revisions deterministically per attempt, and a retry gets new names", () => {
    expect(revisionNamesOf({ ...base, attempt: 1 })).toEqual([
      "avvivo-api-freeze-a1",
      "avvivo-api-cand-a1",
      "avvivo-api-redis-a1",
    ]);
    expect(at("promote", { attempt: 2 }).dmsJobId).toBe("avvivo-dms-a2");
    expect(at("promote", { attempt: 2 }).template.name).toBe("avvivo-api-cand-a2");
  });

  it("keeps every generated revision name valid for Cloud Run (property)", () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[a-z]([a-z0-9-]{0,47}[a-z0-9])?$/),
        fc.integer({ min: 1, max: 99 }),
        (service, attempt) => {
          for (const n of revisionNamesOf({ cloudRun: { ...base.cloudRun, service }, attempt })) {
            expect(n.length).toBeLessThanOrEqual(63);
            expect(n).toMatch(/^[a-z]([a-z0-9-]*[a-z0-9])?$/);
            expect(n.startsWith(`${service}-`)).toBe(true);
          }
        },
      ),
    );
  });

  it("sums canary traffic to 100 for any valid ramp (property)", () => {
    const ramp = fc
      .uniqueArray(fc.integer({ min: 1, max: 99 }), { maxLength: 5 })
      .map((xs) => [...xs.sort((a, b) => a - b), 100]);
    fc.assert(
      fc.property(ramp, fc.nat(), (steps, i) => {
        const p = at("canary", { ramp: steps, trafficPercent: steps[i % steps.length] });
        expect(p.traffic.reduce((s, t) => s + t.percent, 0)).toBe(100);
        expect(p.traffic.every((t) => t.percent >= 0)).toBe(true);
      }),
    );
  });
});

describe("the app's database on Cloud SQL", () => {
  it("is the source's database, which DMS migrates under its own name, in every phase", () => {
    for (const [label, plan] of everyPhase) {
      expect([label, plan.appDatabase]).toEqual([label, base.source.database]);
      expect(plan.databaseUrlShown).toBe(
        `postgresql://${base.cloudSql.user}:***@<private IP of ${base.cloudSql.instanceName}>:5432/${base.source.database}?sslmode=require`,
      );
    }
  });
});

describe("the phase table's template role", () => {
  it("is the role of the revision each phase's service template declares", () => {
    for (const [label, plan] of everyPhase)
      expect([label, plan.template.role]).toEqual([label, CLOUDSQL_PHASE_TABLE[plan.basePhase].templateRole]);
  });
});

describe("the validation job", () => {
  it("is named per attempt in the gated phases when validation.image is set, and only then", () => {
    expect(at("replicate").validationJobName).toBe("avvivo-api-validate-a1");
    expect(at("freeze", { attempt: 2 }).validationJobName).toBe("avvivo-api-validate-a2");
    expect(at("promote").validationJobName).toBeUndefined();
    const without = { validation: undefined };
    expect(at("freeze", without).validationJobName).toBeUndefined();
    expect(at("freeze", without).warnings).toContain(
      "No validation job (validation.image is not set): the validate gate must run from a machine that reaches both the source and Cloud SQL's private IP.",
    );
    expect(at("freeze").warnings.some((w) => w.startsWith("No validation job"))).toBe(false);
  });
});

describe("the two replication paths share one phase table", () => {
  const logical = (phase: CloudSqlMigration["phase"], extra: Partial<CloudSqlMigration> = {}) =>
    at(phase, { replication: "logical", ...extra });

  it("defaults to dms, as stacks declared before the logical path existed", () => {
    expect(base.replication).toBe("dms");
    expect(base.logical).toEqual({ schemas: ["public"], catchUpTimeoutSeconds: 300 });
    expect(at("replicate").logical).toBeUndefined();
  });

  it("declares the same resources, traffic and gates in every phase; only the backups owner differs", () => {
    for (const [label, dms] of everyPhase) {
      const spec = {
        ...base,
        ...(dms.phase === "canary"
          ? { trafficPercent: dms.traffic.find((t) => t.tag === "candidate")?.percent }
          : {}),
        ...(dms.phase === "rollback" ? { rollbackFrom: dms.basePhase as never } : {}),
      };
      const other = planCloudSql("avvivo", { ...spec, phase: dms.phase, replication: "logical" });
      expect([label, other.resources, other.traffic, other.promoted]).toEqual([
        label,
        dms.resources,
        dms.traffic,
        dms.promoted,
      ]);
      expect([label, other.backupsManagedByDms]).toEqual([label, false]);
    }
    expect(at("replicate").backupsManagedByDms).toBe(true);
  });

  it("names the publication, subscription and jobs per attempt, and says what each step does", () => {
    expect(logical("replicate", { attempt: 2 }).logical).toEqual({
      name: "cutover_avvivo_a2",
      startJob: "avvivo-api-repl-start-a2",
      stopJob: "avvivo-api-repl-stop-a2",
    });
    expect(logical("replicate").warnings[0]).toMatch(
      /^Cloud SQL subscribes to publication cutover_avvivo_a1 on .* \(schemas public\): it stays a primary with backups and PITR/,
    );
    expect(logical("freeze").warnings[0]).toContain(
      "wait until `cutover replication status --name cutover_avvivo_a1` says every table is streaming",
    );
    expect(logical("promote").irreversible[0]).toMatch(
      /^Replication cutover_avvivo_a1 stops for good once Cloud SQL confirms the source position taken after the freeze \(at most 300 s, else nothing is stopped\)/,
    );
    expect(logical("decommission").irreversible[0]).toContain(
      "The replication jobs of attempt 1 are deleted",
    );
    for (const p of ["replicate", "freeze", "promote", "decommission"] as const)
      expect([p, [...logical(p).warnings, ...logical(p).irreversible].join(" ")]).not.toEqual([
        p,
        expect.stringContaining("DMS"),
      ]);
  });
});

describe("the ledger's health on the switch route", () => {
  it("a recorded promotion at the switch is no damage (the switch promotes)", () => {
    const facts = { promoted: [{ attempt: 1, at: "2026-11-25T12:00:00.000Z" }] };
    expect(
      ledgerDamage({ deployed: { phase: "switch", attempt: 1 }, facts }, "cloudsql", [100]),
    ).toBeUndefined();
    expect(
      ledgerDamage({ deployed: { phase: "replicate", attempt: 1 }, facts }, "cloudsql", [100]),
    ).toContain("yet its position is replicate");
  });
});

it("a rollback after the switch names the thaw before traffic returns; one before it does not", () => {
  const after = at("rollback", { writeMove: "switch", rollbackFrom: "switch" });
  expect(after.switch).toEqual({
    freezeJob: "avvivo-api-switch-a1",
    thawJob: "avvivo-api-thaw-a1",
    thawBackJob: "avvivo-api-thaw-back-a1",
    thawNow: true,
  });
  expect(after.warnings).toContain(
    "The switch froze the source: job avvivo-api-thaw-back-a1 gives writes back to it (role postgres) before traffic returns.",
  );
  const before = at("rollback", { writeMove: "switch", rollbackFrom: "replicate" });
  expect(before.switch?.thawNow).toBe(false);
  expect(before.warnings.join("\n")).not.toContain("thaw");
  expect(at("replicate").switch).toBeUndefined();
});
