/**
 * `writeMove: switch` on Pulumi's mock runtime: the candidate deployed at replicate (0%, tagged), the
 * switch's jobs and the switch itself in its phase with the service's traffic depending on it, nothing
 * that promotes on its own, and the thaw run by a rollback.
 */
import { CONFIG_KEY } from "../../infra/config/common";
import { readStackConfig, withPhase, type StackConfig } from "../../tooling/stack-file";
import { SECRET, synthesize, type RecordedResource, type Synthesis } from "../../tooling/synth";
import { program } from "../../stacks/program";
import { destructiveChanges, diffSyntheses } from "../../tooling/plan-diff";
import { NOW } from "../support/stack";

function switchStack(phase: string, replication: "dms" | "logical", from?: string): StackConfig {
  const moved = withPhase(readStackConfig("staging"), "avvivo", { phase, ...(from ? { from } : {}) });
  const spec = (moved.config[CONFIG_KEY] as Record<string, Record<string, unknown>>).avvivo;
  Object.assign(spec, {
    writeMove: "switch",
    replication,
    switch: { deadlineSeconds: 420, appRole: "app_rw" },
  });
  return moved;
}

const cache = new Map<string, Synthesis>();
async function synth(
  phase: string,
  replication: "dms" | "logical" = "dms",
  from?: string,
): Promise<Synthesis> {
  const key = `${phase}/${replication}/${from ?? ""}`;
  if (!cache.has(key)) {
    const c = switchStack(phase, replication, from);
    cache.set(
      key,
      await synthesize(() => program(NOW), { stack: "staging", config: c.config, secretKeys: c.secretKeys }),
    );
  }
  return cache.get(key)!;
}

const jobs = (s: Synthesis) => s.resources.filter((r) => r.type === "gcp:cloudrunv2/job:Job");
const job = (s: Synthesis, name: string) => jobs(s).find((r) => r.inputs.name === name);
const container = (r: RecordedResource) => (r.inputs.template as any).template.containers[0];
const service = (s: Synthesis) => s.resources.find((r) => r.type === "gcp:cloudrunv2/service:Service")!;
const theSwitch = (s: Synthesis) => s.resources.find((r) => r.name === "avvivo-switch-run");

it("deploys the candidate at replicate, at 0% under its tag, while stable serves everything", async () => {
  const s = await synth("replicate");
  const svc = service(s);
  expect((svc.inputs.template as any).revision).toBe("avvivo-api-cand-a1");
  expect(svc.inputs.traffics).toEqual([
    expect.objectContaining({ revision: "avvivo-api-00042-kav", percent: 100 }),
    expect.objectContaining({ revision: "avvivo-api-cand-a1", percent: 0, tag: "candidate" }),
  ]);
  expect(theSwitch(s)).toBeUndefined();
  expect(job(s, "avvivo-api-switch-a1")).toBeUndefined();
});

it.each(["dms", "logical"] as const)(
  "%s: the switch's phase runs the switch before traffic moves, and nothing promotes on its own",
  async (replication) => {
    const s = await synth("switch", replication);
    const sw = theSwitch(s)!;
    expect(sw).toBeDefined();
    const inputs = sw.inputs as any;
    expect(inputs).toMatchObject({
      attempt: 1,
      service: "avvivo-api",
      freezeJob: "avvivo-api-switch-a1",
      thawJob: "avvivo-api-thaw-a1",
      migrateJob: "avvivo-api-migrate-a1",
      deadlineSeconds: 420,
    });
    expect(inputs.accessToken).toBe(SECRET);
    if (replication === "dms")
      expect(inputs.promotion).toMatchObject({
        migrationJob: expect.stringMatching(/\/migrationJobs\/avvivo-dms-a1$/),
        allowPromoteFromCdc: true,
        reenableBackups: expect.objectContaining({ instance: expect.any(String) }),
      });
    else expect(inputs.promotion).toBeUndefined();
    // The freeze job: freeze, marker, validation (and the logical stop), never run by `up` itself.
    const freeze = job(s, "avvivo-api-switch-a1")!;
    expect(freeze.inputs.runExecutionToken).toBeUndefined();
    const args = container(freeze).args as string[];
    expect(args.slice(0, 9)).toEqual([
      "switch",
      "--mode",
      replication,
      "--role",
      "app_rw",
      "--tables",
      expect.stringContaining("Shop"),
      "--deadline",
      "420",
    ]);
    expect(args.includes("--name")).toBe(replication === "logical");
    expect(container(freeze).envs.map((e: { name: string }) => e.name)).toEqual([
      "SOURCE_DATABASE_URL",
      "TARGET_DATABASE_URL",
      "VALIDATE_TARGET_URL",
    ]);
    for (const e of container(freeze).envs) expect(e.valueSource?.secretKeyRef?.secret).toBeDefined();
    const thaw = job(s, "avvivo-api-thaw-a1")!;
    expect(thaw.inputs.runExecutionToken).toBeUndefined();
    expect(container(thaw).args).toEqual(["thaw-source", "--role", "app_rw"]);
    // The switch runs the migrate job; DMS's promotion and the logical stop are not declared to run.
    expect(job(s, "avvivo-api-migrate-a1")!.inputs.runExecutionToken).toBeUndefined();
    expect(s.resources.find((r) => r.name === "avvivo-promotion")).toBeUndefined();
    expect(job(s, "avvivo-api-repl-stop-a1")).toBeUndefined();
    // Traffic: the candidate at 100%, and only once the switch has passed.
    const svc = service(s);
    expect(svc.inputs.traffics).toEqual([
      expect.objectContaining({ revision: "avvivo-api-cand-a1", percent: 100, tag: "candidate" }),
      expect.objectContaining({ revision: "avvivo-api-00042-kav", percent: 0, tag: "rollback" }),
    ]);
    const app = s.resources.find((r) => r.type === "cutover:gcp:CloudRunApp")!;
    expect(app.dependencies).toContain(sw.urn);
  },
);

it("a rollback from the switch runs the thaw before traffic returns to stable, and never a switch", async () => {
  const s = await synth("rollback", "dms", "switch");
  expect(theSwitch(s)).toBeUndefined();
  const thaw = job(s, "avvivo-api-thaw-back-a1")!;
  expect(thaw.inputs.runExecutionToken).toBe("thaw");
  expect(container(thaw).args).toEqual(["thaw-source", "--role", "app_rw"]);
  // The switch's own jobs are gone: nothing can freeze the source again from here.
  expect(job(s, "avvivo-api-switch-a1")).toBeUndefined();
  const app = s.resources.find((r) => r.type === "cutover:gcp:CloudRunApp")!;
  expect(app.dependencies).toContain(thaw.urn);
  expect((service(s).inputs.traffics as any[])[0]).toMatchObject({
    revision: "avvivo-api-00042-kav",
    percent: 100,
  });
});

it("after the switch the migrate job is never run by up again, and the switch's jobs are gone", async () => {
  const s = await synth("stabilize");
  expect(job(s, "avvivo-api-migrate-a1")!.inputs.runExecutionToken).toBeUndefined();
  expect(job(s, "avvivo-api-switch-a1")).toBeUndefined();
  expect(theSwitch(s)).toBeUndefined();
});

it("the logical path's jobs reach Cloud SQL as the app user, not as the validation's reader", async () => {
  const s = await synth("replicate", "logical");
  const start = job(s, "avvivo-api-repl-start-a1")!;
  const target = container(start).envs.find((e: { name: string }) => e.name === "TARGET_DATABASE_URL");
  expect(target.valueSource.secretKeyRef.secret).toBe("avvivo-cloudsql-direct-url");
});

it("refuses the switch without the image its jobs run in, before anything moves", async () => {
  const c = switchStack("switch", "dms");
  delete (c.config[CONFIG_KEY] as Record<string, Record<string, unknown>>).avvivo.validation;
  await expect(
    synthesize(() => program(NOW), { stack: "staging", config: c.config, secretKeys: c.secretKeys }),
  ).rejects.toThrow(/validation\.image[\s\S]*writeMove: switch runs its freeze, its validation and its thaw/);
});

it("the switch's up deploys no revision: the template is the one replicate deployed and smoked", async () => {
  for (const replication of ["dms", "logical"] as const) {
    const at = async (phase: string) => service(await synth(phase, replication)).inputs.template as any;
    expect(await at("switch")).toEqual(await at("replicate"));
  }
});

it("each step of the switch route, and each rollback from it, replaces or deletes nothing stateful", async () => {
  const route = ["baseline", "provision", "replicate", "switch", "stabilize"];
  for (const replication of ["dms", "logical"] as const) {
    for (const [i, to] of route.slice(1).entries()) {
      const [x, y] = [await synth(route[i], replication), await synth(to, replication)];
      expect([route[i], to, destructiveChanges(diffSyntheses(x.resources, y.resources))]).toEqual([
        route[i],
        to,
        [],
      ]);
    }
    for (const from of ["provision", "replicate", "switch", "stabilize"]) {
      const [x, y] = [await synth(from, replication), await synth("rollback", replication, from)];
      expect([from, destructiveChanges(diffSyntheses(x.resources, y.resources))]).toEqual([from, []]);
    }
  }
});
