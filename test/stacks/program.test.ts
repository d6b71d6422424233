import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { ROLLBACK_ORIGINS } from "../../infra/config/cloudsql";
import { CONFIG_KEY } from "../../infra/config/common";
import { CLOUDSQL_ORDER } from "../../infra/engine/cloudsql";
import { CLOUDSQL_PHASE_TABLE, type CloudSqlBasePhase } from "../../infra/engine/cloudsql-phases";
import { STATEFUL_TYPES } from "../../contract/facts";
import { readStackConfig, withPhase, type PhaseChoice } from "../../tooling/stack-file";
import { synthesize, type Synthesis } from "../../tooling/synth";
import { program } from "../../stacks/program";
import { destructiveChanges, diffSyntheses } from "../../tooling/plan-diff";
import { NOW } from "../support/stack";
import { onRoute } from "../../infra/engine/transitions";
import { READER_JOB_SCRIPT } from "../../infra/engine/reader";

const STACKS = ["staging", "prod"] as const;
// The stack files' route (writeMove: ramp); the switch route has its own tests.
const FORWARD: PhaseChoice[] = CLOUDSQL_ORDER.filter((phase) =>
  onRoute(phase, { kind: "cloudsql", route: "ramp" }),
).flatMap((phase): PhaseChoice[] =>
  phase === "canary" ? [10, 50, 100].map((percent) => ({ phase, percent })) : [{ phase }],
);
const ROLLBACK_FROM = ROLLBACK_ORIGINS.filter((p) => onRoute(p, { kind: "cloudsql", route: "ramp" }));
const label = (c: PhaseChoice) =>
  `${c.phase}${c.percent ? `:${c.percent}` : ""}${c.from ? `:${c.from}` : ""}`;

const cache = new Map<string, Synthesis>();
async function synth(stack: string, choice: PhaseChoice): Promise<Synthesis> {
  const key = `${stack} ${label(choice)}`;
  if (!cache.has(key)) {
    const c = withPhase(readStackConfig(stack), "avvivo", {
      ...choice,
      ...(choice.phase === "canary" && !choice.percent ? { percent: 50 } : {}),
    });
    cache.set(
      key,
      await synthesize(() => program(NOW), { stack, config: c.config, secretKeys: c.secretKeys }),
    );
  }
  return cache.get(key)!;
}

const service = (s: Synthesis) => s.resources.find((r) => r.type === "gcp:cloudrunv2/service:Service")!;
type Traffic = { type: string; revision: string; percent: number; tag?: string };
const trafficOf = (s: Synthesis) => service(s).inputs.traffics as Traffic[];
const templateOf = (s: Synthesis) => (service(s).inputs.template as { revision: string }).revision;

describe.each(STACKS)("stack %s", (stack) => {
  const stable = (readStackConfig(stack).config[CONFIG_KEY] as any).avvivo.cloudRun.stableRevision as string;

  describe.each(FORWARD.map((c) => [label(c), c] as const))("phase %s", (_l, choice) => {
    it("pins traffic by revision name and sends 100%", async () => {
      const traffic = trafficOf(await synth(stack, choice));
      expect(traffic.reduce((s, t) => s + t.percent, 0)).toBe(100);
      for (const t of traffic) expect(t.type).toBe("TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION");
    });

    it("only targets the stable revision or one declared in this or an earlier phase", async () => {
      const i = FORWARD.indexOf(choice);
      const declared = new Set([stable]);
      for (const earlier of FORWARD.slice(0, i + 1)) declared.add(templateOf(await synth(stack, earlier)));
      for (const t of trafficOf(await synth(stack, choice))) expect(declared).toContain(t.revision);
    });

    it("declares the phase ledger at this phase and makes every avvivo resource wait for it", async () => {
      const s = await synth(stack, choice);
      const ledger = s.resources.find((r) => r.name === "avvivo-ledger")!;
      expect(ledger.inputs).toMatchObject({ kind: "cloudsql", position: { phase: choice.phase } });
      const gated = s.resources.filter((r) => r.custom && r.name.startsWith("avvivo-") && r !== ledger);
      expect(gated.length).toBeGreaterThan(0);
      for (const r of gated) expect([r.name, r.dependencies.includes(ledger.urn)]).toEqual([r.name, true]);
    });

    // What the phase table says this phase serves and declares: the rows below assert all of it.
    const row = CLOUDSQL_PHASE_TABLE[choice.phase as CloudSqlBasePhase];

    it("gives every credential to the serving container only by secretKeyRef", async () => {
      const envs = ((service(await synth(stack, choice)).inputs.template as any).containers[0].envs ??
        []) as { name: string; value?: string; valueSource?: { secretKeyRef?: unknown } }[];
      const expected = ["DATABASE_URL", "DIRECT_URL", ...(row.resources.redisWired ? ["REDIS_URL"] : [])];
      for (const name of expected) {
        const e = envs.find((x) => x.name === name);
        expect({ name, value: e?.value, ref: e?.valueSource?.secretKeyRef !== undefined }).toEqual({
          name,
          value: undefined,
          ref: true,
        });
      }
      if (!row.resources.redisWired) expect(envs.map((e) => e.name)).not.toContain("REDIS_URL");
    });

    it(`${stack === "prod" ? "protects" : "does not protect"} exactly the stateful resources the phase declares, with deletion protection on`, async () => {
      const stateful = (await synth(stack, choice)).resources.filter((r) => STATEFUL_TYPES.has(r.type));
      const sql = stateful.find((r) => r.type === "gcp:sql/databaseInstance:DatabaseInstance");
      const redis = stateful.find((r) => r.type === "gcp:redis/instance:Instance");
      expect({ sql: sql !== undefined, redis: redis !== undefined }).toEqual({
        sql: row.resources.cloudSql,
        redis: row.resources.redis,
      });
      if (!row.resources.cloudSql) expect(stateful).toEqual([]);
      for (const r of stateful) expect([r.name, r.protect]).toEqual([r.name, stack === "prod"]);
      if (row.resources.cloudSql) {
        expect(sql!.inputs.deletionProtection).toBe(true);
        expect((sql!.inputs.settings as any).deletionProtectionEnabled).toBe(true);
      }
    });
  });

  it.each(FORWARD.slice(1).map((c, i) => [label(FORWARD[i]), label(c), FORWARD[i], c] as const))(
    "%s → %s replaces or deletes nothing stateful, nor does changing it back",
    async (a, _b, from, to) => {
      const [x, y] = [await synth(stack, from), await synth(stack, to)];
      expect(destructiveChanges(diffSyntheses(x.resources, y.resources))).toEqual([]);
      const back = destructiveChanges(diffSyntheses(y.resources, x.resources));
      // Going back to baseline un-provisions: the one backward step that deletes, and the diff says so
      // (deletion protection on both layers, and `protect` in prod, stop it at `pulumi up`).
      if (a === "baseline")
        expect(back).toContain("deletes gcp:sql/databaseInstance:DatabaseInstance avvivo-sql-instance");
      else expect(back).toEqual([]);
    },
  );

  it.each(ROLLBACK_FROM)(
    "rollback from %s replaces or deletes nothing and sends 100%% to stable",
    async (from) => {
      const left = await synth(stack, { phase: from });
      const back = await synth(stack, { phase: "rollback", from });
      expect(destructiveChanges(diffSyntheses(left.resources, back.resources))).toEqual([]);
      expect(trafficOf(back)[0]).toMatchObject({ revision: stable, percent: 100, tag: "rollback" });
      expect(templateOf(back)).toBe(templateOf(left));
    },
  );

  it("migrates the app's database by name and creates no database beside it on Cloud SQL", async () => {
    for (const phase of ["provision", "replicate", "promote", "stabilize"]) {
      const s = await synth(stack, { phase });
      expect([phase, s.resources.filter((r) => r.type === "gcp:sql/database:Database")]).toEqual([phase, []]);
    }
    const s = await synth(stack, { phase: "replicate" });
    const job = s.resources.find((r) => r.type === "gcp:databasemigrationservice/migrationJob:MigrationJob")!;
    expect(job.inputs.objectsConfig).toEqual({
      sourceObjectsConfig: {
        objectsSelectionType: "SPECIFIED_OBJECTS",
        objectConfigs: [{ objectIdentifier: { type: "DATABASE", database: "postgres" } }],
      },
    });
  });

  it("promotes the attempt's DMS job by its full name, known at preview", async () => {
    const s = await synth(stack, { phase: "promote" });
    const job = s.resources.find((r) => r.type === "gcp:databasemigrationservice/migrationJob:MigrationJob")!;
    const promotion = s.resources.find((r) => r.name === "avvivo-promotion")!;
    expect(job.inputs).toMatchObject({
      migrationJobId: "avvivo-dms-a1",
      type: "CONTINUOUS",
      desiredState: "RUNNING",
    });
    expect(promotion.inputs.migrationJob).toBe(
      `projects/avvivo-${stack}/locations/us-west2/migrationJobs/avvivo-dms-a1`,
    );
    expect(promotion.secretPaths).toContain("accessToken");
    // The one-off job fixes up access, sequences and views on Cloud SQL before the app's migration.
    const migrate = s.resources.find((r) => r.type === "gcp:cloudrunv2/job:Job")!;
    const container = (migrate.inputs.template as any).template.containers[0];
    const sql = container.envs.find((e: { name: string }) => e.name === "POST_PROMOTION_SQL").value as string;
    expect(sql.indexOf("GRANT cloudsqlexternalsync")).toBeLessThan(sql.indexOf("setval("));
    expect(sql).toContain("REFRESH MATERIALIZED VIEW");
    expect(container.args[0]).toContain('printf "%s" "$POST_PROMOTION_SQL" | npx prisma db execute');
    // The job's component waits for the promotion (its child registers only once the component has).
    const component = s.resources.find((r) => r.type === "cutover:gcp:MigrateJob")!;
    expect(component.dependencies).toContain(promotion.urn);
    expect(migrate.parent).toBe(component.urn);
  });

  it("declares the sharded validation job exactly in the phases whose next step is gated on validation", async () => {
    const jobOf = async (choice: PhaseChoice) =>
      (await synth(stack, choice)).resources.find(
        (r) => r.type === "gcp:cloudrunv2/job:Job" && /-validate-a\d+$/.test(String(r.inputs.name)),
      );
    for (const [i, choice] of FORWARD.entries()) {
      const next = FORWARD[i + 1];
      const gated =
        next !== undefined &&
        next.phase !== choice.phase &&
        (CLOUDSQL_PHASE_TABLE[next.phase as CloudSqlBasePhase].gates ?? []).includes("validate");
      expect([label(choice), Boolean(await jobOf(choice))]).toEqual([label(choice), gated]);
    }
    const job = (await jobOf({ phase: "freeze" }))!;
    const spec = (readStackConfig(stack).config[CONFIG_KEY] as any).avvivo;
    const inputs = job.inputs as any;
    expect(inputs.name).toBe("avvivo-api-validate-a1");
    expect(inputs.template.taskCount).toBe(spec.validation.tasks);
    expect(inputs.template.parallelism).toBe(spec.validation.tasks);
    const t = inputs.template.template;
    expect(t.serviceAccount).toBe(spec.cloudRun.serviceAccount);
    expect(t.vpcAccess.networkInterfaces[0].network).toBe(spec.cloudSql.privateNetwork);
    const c = t.containers[0];
    expect(c.image).toBe(spec.validation.image);
    expect(c.args).toEqual([
      "--tables",
      spec.source.criticalTables.join(","),
      "--shard",
      "auto",
      "--json",
      "--no-progress",
    ]);
    // Both URLs by Secret Manager reference only, never a value.
    expect(c.envs).toEqual([
      {
        name: "SOURCE_DATABASE_URL",
        valueSource: {
          secretKeyRef: { secret: spec.cloudRun.secretEnv.DIRECT_URL.secret, version: "latest" },
        },
      },
      {
        // Cloud SQL as the read-only reader, not the app user: before promotion DMS owns the tables.
        name: "TARGET_DATABASE_URL",
        valueSource: { secretKeyRef: { secret: "avvivo-cloudsql-validate-url", version: "latest" } },
      },
    ]);
    // Never run by `pulumi up` itself: up.yml executes it once the phase is applied.
    expect(inputs.runExecutionToken).toBeUndefined();
  });

  it("gives the validation job a reader that can only read what DMS owns, made by a job up.yml runs first", async () => {
    const s = await synth(stack, { phase: "replicate" });
    const spec = (readStackConfig(stack).config[CONFIG_KEY] as any).avvivo;
    const grant = s.resources.find(
      (r) => r.type === "gcp:cloudrunv2/job:Job" && r.inputs.name === "avvivo-api-validate-a1-grant",
    )!;
    const t = (grant.inputs as any).template.template;
    expect(t.serviceAccount).toBe(spec.cloudRun.serviceAccount);
    expect(t.containers[0].image).toBe(spec.cloudRun.image); // the app image: its Prisma runs the SQL
    expect(t.containers[0].args).toEqual([READER_JOB_SCRIPT]);
    expect(t.containers[0].envs).toEqual([
      {
        name: "DIRECT_URL",
        valueSource: { secretKeyRef: { secret: "avvivo-cloudsql-direct-url", version: "latest" } },
      },
      {
        name: "READER_GRANT_SQL",
        valueSource: { secretKeyRef: { secret: "avvivo-cloudsql-reader-grant", version: "latest" } },
      },
    ]);
    expect((grant.inputs as any).runExecutionToken).toBeUndefined();
    // The reader's URL and the SQL that makes its role are secrets; the SQL holds a verifier, no password.
    const versionOf = (id: string) => {
      const secret = s.resources.find(
        (r) => r.type === "gcp:secretmanager/secret:Secret" && r.inputs.secretId === id,
      )!;
      return s.resources.find(
        (r) => r.type === "gcp:secretmanager/secretVersion:SecretVersion" && r.parent === secret.parent,
      )!;
    };
    for (const id of ["avvivo-cloudsql-validate-url", "avvivo-cloudsql-reader-grant"])
      expect(versionOf(id).secretPaths).toContain("secretData");
    // The program's outputs name the reader job beside the validation job, for up.yml.
    expect((s.outputs.avvivo as any).validationJob).toMatchObject({
      name: "avvivo-api-validate-a1",
      readerJob: "avvivo-api-validate-a1-grant",
    });
    // Declared with the instance: the secrets outlive the phases that run the jobs (deletion-protected).
    const promote = await synth(stack, { phase: "promote" });
    expect(promote.resources.some((r) => r.inputs.secretId === "avvivo-cloudsql-validate-url")).toBe(true);
  });

  it("ignores backup settings on the instance only while DMS owns them", async () => {
    const ignored = async (phase: string) =>
      (await synth(stack, { phase })).resources.find(
        (r) => r.type === "gcp:sql/databaseInstance:DatabaseInstance",
      )!.ignoreChanges;
    expect(await ignored("provision")).toEqual([]);
    expect(await ignored("replicate")).toEqual(["settings.backupConfiguration"]);
    expect(await ignored("promote")).toEqual(["settings.backupConfiguration"]);
    expect(await ignored("stabilize")).toEqual([]);
  });
});

describe("the program", () => {
  it("declares nothing when the config is bad, and says why", async () => {
    const c = withPhase(readStackConfig("staging"), "avvivo", { phase: "canary", percent: 30 });
    let declared: unknown;
    await expect(
      synthesize(() => program(NOW), { stack: "staging", config: c.config, secretKeys: c.secretKeys }).catch(
        (e: Error & { declaredResources?: number }) => {
          declared = e.declaredResources;
          throw e;
        },
      ),
    ).rejects.toThrow(
      /cutover:migrations\.avvivo\.trafficPercent[\s\S]*expected one of the ramp steps 10, 50, 100, got 30/,
    );
    expect(declared).toBe(0);
  });

  it("hands a stated ledger repair to the ledger, and refuses one without a reason", async () => {
    const stack = withPhase(readStackConfig("staging"), "avvivo", { phase: "provision" });
    const migrations = structuredClone(stack.config[CONFIG_KEY]) as Record<string, any>;
    migrations.avvivo.ledgerRepair = { phase: "provision", reason: "state lost in a failed import; checked" };
    const s = await synthesize(() => program(NOW), {
      stack: "staging",
      config: { ...stack.config, [CONFIG_KEY]: migrations },
      secretKeys: stack.secretKeys,
    });
    const ledger = s.resources.find((r) => r.name === "avvivo-ledger")!;
    expect(ledger.inputs.repair).toEqual({
      position: { phase: "provision", attempt: 1 },
      reason: "state lost in a failed import; checked",
    });
    migrations.avvivo.ledgerRepair = { phase: "provision", reason: "x" };
    await expect(
      synthesize(() => program(NOW), {
        stack: "staging",
        config: { ...stack.config, [CONFIG_KEY]: migrations },
        secretKeys: stack.secretKeys,
      }),
    ).rejects.toThrow(/cutover:migrations\.avvivo\.ledgerRepair\.reason[\s\S]*at least 10 characters/);
  });

  it("keeps two cloudsql migrations of one stack apart", async () => {
    const stack = readStackConfig("staging");
    const migrations = structuredClone(stack.config[CONFIG_KEY]) as Record<string, any>;
    const billing = structuredClone(migrations.avvivo);
    billing.phase = "provision";
    billing.cloudSql.instanceName = "billing-staging-pg";
    billing.cloudRun.service = "billing-api";
    billing.cloudRun.stableRevision = "billing-api-00007-abc";
    migrations.avvivo.phase = "provision";
    migrations.billing = billing;
    const s = await synthesize(() => program(NOW), {
      stack: "staging",
      config: { ...stack.config, [CONFIG_KEY]: migrations },
      secretKeys: stack.secretKeys,
    });
    const urns = s.resources.map((r) => r.urn);
    expect(new Set(urns).size).toBe(urns.length);
    const instances = s.resources.filter((r) => r.type === "gcp:sql/databaseInstance:DatabaseInstance");
    expect(instances.map((r) => r.inputs.name).sort()).toEqual(["avvivo-staging-pg", "billing-staging-pg"]);
    const secrets = s.resources
      .filter((r) => r.type === "gcp:secretmanager/secret:Secret")
      .map((r) => r.inputs.secretId);
    expect(secrets).toContain("billing-cloudsql-database-url");
    expect(secrets).toContain("avvivo-cloudsql-database-url");
  });
});

describe("staging leads prod: the prod program reads staging's ledger the Pulumi way", () => {
  it("declares one StackReference to the leader and hands each ledger the leader's recorded position", async () => {
    const c = readStackConfig("prod");
    const s = await synthesize(() => program(NOW), {
      stack: "prod",
      config: c.config,
      secretKeys: c.secretKeys,
      stackOutputs: {
        staging: { avvivo: { ledger: { deployed: { phase: "canary", attempt: 1, percent: 50 } } } },
      },
    });
    expect(s.reads).toEqual([
      { type: "pulumi:pulumi:StackReference", name: "leader-staging", id: "organization/cutover/staging" },
    ]);
    const ledger = (name: string) =>
      s.resources.find((r) => r.name === `${name}-ledger`)!.inputs.leader as Record<string, unknown>;
    expect(ledger("avvivo")).toEqual({
      stack: "staging",
      position: { phase: "canary", attempt: 1, percent: 50 },
    });
    // No output for matchauto on staging: its leader stands at baseline (no position).
    expect(ledger("matchauto")).toEqual({ stack: "staging" });
  });

  it("staging follows nobody: no StackReference, no leader", async () => {
    const c = readStackConfig("staging");
    const s = await synthesize(() => program(NOW), {
      stack: "staging",
      config: c.config,
      secretKeys: c.secretKeys,
    });
    expect(s.reads).toEqual([]);
    expect(s.resources.find((r) => r.name === "avvivo-ledger")!.inputs).not.toHaveProperty("leader");
  });
});

describe("the revision up.yml smokes after each phase is the one the phase table names", () => {
  // up.yml: at promote and canary the candidate's tag URL (candidate---<service host>), else the service URL.
  const upYml = readFileSync(resolve(__dirname, "../../.github/workflows/up.yml"), "utf8");
  const smokesCandidate = (phase: string) => phase === "promote" || phase === "canary";

  it("up.yml's rule is the one this test applies", () => {
    expect(upYml).toContain('promote | canary) url="https://candidate---${url#https://}" ;;');
  });

  it.each([
    [{ phase: "freeze" }, { database: "source", writes: false }],
    [{ phase: "promote" }, { database: "cloudsql", writes: true }],
    [
      { phase: "canary", percent: 10 },
      { database: "cloudsql", writes: true },
    ],
    [
      { phase: "canary", percent: 50 },
      { database: "cloudsql", writes: true },
    ],
    [{ phase: "stabilize" }, { database: "cloudsql", writes: true }],
  ] as [PhaseChoice, { database: string; writes: boolean }][])(
    "%o: the smoked revision reads %o (the write probe is refused exactly where writes are blocked)",
    async (choice, expected) => {
      const c = withPhase(readStackConfig("prod"), "avvivo", choice);
      const s = await synthesize(() => program(NOW), {
        stack: "prod",
        config: c.config,
        secretKeys: c.secretKeys,
      });
      const traffic = trafficOf(s);
      const smoked = smokesCandidate(choice.phase)
        ? traffic.find((t) => t.tag === "candidate")
        : traffic.reduce((a, b) => (b.percent > a.percent ? b : a));
      expect(smoked).toBeDefined();
      const revisions = s.resources.find((r) => r.name === "avvivo-spec")!.inputs.revisions as {
        name: string;
        database: string;
        writes: boolean;
      }[];
      expect(revisions.find((r) => r.name === smoked!.revision)).toMatchObject(expected);
    },
  );
});
