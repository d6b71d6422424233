/**
 * `replication: logical` on Pulumi's mock runtime: the same phases as DMS, with a publication and a
 * subscription started and stopped by two one-off Cloud Run Jobs instead of a DMS job and its promotion.
 */
import { CONFIG_KEY } from "../../infra/config/common";
import { readStackConfig, withPhase, type StackConfig } from "../../tooling/stack-file";
import { synthesize, type RecordedResource, type Synthesis } from "../../tooling/synth";
import { program } from "../../stacks/program";
import { NOW } from "../support/stack";

const SOURCE_KEY = "cutover:avvivoSourcePassword";

function logicalStack(phase: string, over: Record<string, unknown> = {}): StackConfig {
  const base = readStackConfig("staging");
  const moved = withPhase(base, "avvivo", { phase, ...(phase === "canary" ? { percent: 10 } : {}) });
  const spec = (moved.config[CONFIG_KEY] as Record<string, Record<string, unknown>>).avvivo;
  Object.assign(spec, { replication: "logical", ...over });
  // The logical path never reads the source password: the stack does not need the secret.
  const config = { ...moved.config };
  delete config[SOURCE_KEY];
  return { ...moved, config, secretKeys: moved.secretKeys.filter((k) => k !== SOURCE_KEY) };
}

const cache = new Map<string, Synthesis>();
async function synth(phase: string): Promise<Synthesis> {
  if (!cache.has(phase)) {
    const c = logicalStack(phase);
    cache.set(
      phase,
      await synthesize(() => program(NOW), { stack: "staging", config: c.config, secretKeys: c.secretKeys }),
    );
  }
  return cache.get(phase)!;
}

const jobs = (s: Synthesis) => s.resources.filter((r) => r.type === "gcp:cloudrunv2/job:Job");
const job = (s: Synthesis, part: string) => jobs(s).find((r) => String(r.inputs.name).includes(part));
const container = (r: RecordedResource) => (r.inputs.template as any).template.containers[0];
const DMS_TYPES = /databasemigrationservice/;

it.each([
  ["baseline", []],
  ["provision", []],
  ["replicate", ["repl-start"]],
  ["freeze", ["repl-start"]],
  ["promote", ["repl-start", "repl-stop"]],
  ["canary", ["repl-start", "repl-stop"]],
  ["stabilize", ["repl-start", "repl-stop"]],
  ["decommission", []],
])("at %s declares the replication jobs %j, and never a DMS resource", async (phase, expected) => {
  const s = await synth(phase);
  const names = jobs(s)
    .map((r) => String(r.inputs.name))
    .filter((n) => n.includes("-repl-"))
    .map((n) => n.replace(/^avvivo-api-(repl-\w+)-a1$/, "$1"));
  expect(names.sort()).toEqual(expected);
  expect(s.resources.filter((r) => DMS_TYPES.test(r.type))).toEqual([]);
  expect(s.resources.find((r) => r.name === "avvivo-promotion")).toBeUndefined();
});

it("starts replication once per attempt at up, in the VPC, as the app's account, with URLs by secret reference", async () => {
  const s = await synth("replicate");
  const start = job(s, "repl-start")!;
  const spec = (readStackConfig("staging").config[CONFIG_KEY] as any).avvivo;
  const inputs = start.inputs as any;
  expect(inputs.runExecutionToken).toBe("run");
  expect(`${inputs.name}${inputs.runExecutionToken}`.length).toBeLessThan(63);
  expect(inputs.template.template.serviceAccount).toBe(spec.cloudRun.serviceAccount);
  expect(inputs.template.template.vpcAccess.networkInterfaces[0].network).toBe(spec.cloudSql.privateNetwork);
  const c = container(start);
  expect(c.image).toBe(spec.validation.image);
  expect(c.commands).toEqual(["node", "dist/cli/main.js", "replication"]);
  expect(c.args).toEqual(["start", "--name", "cutover_avvivo_a1", "--schemas", "public"]);
  for (const e of c.envs)
    expect([e.name, e.value, Boolean(e.valueSource?.secretKeyRef)]).toEqual([e.name, undefined, true]);
  expect(c.envs.map((e: { name: string }) => e.name)).toEqual(["SOURCE_DATABASE_URL", "TARGET_DATABASE_URL"]);
  // The job reads TARGET_DATABASE_URL from the secret this program writes: it waits for it.
  const secret = s.resources.find(
    (r) => r.type === "gcp:secretmanager/secretVersion:SecretVersion" && r.name.includes("direct-url"),
  );
  const component = s.resources.find((r) => r.type === "cutover:gcp:LogicalReplication")!;
  expect(secret).toBeDefined();
  expect(component.dependencies.some((d) => d.includes("direct-url"))).toBe(true);
});

it("keeps Cloud SQL a primary with backups and PITR throughout: nothing is ignored, the spec says no DMS owns them", async () => {
  for (const phase of ["replicate", "freeze", "promote"]) {
    const s = await synth(phase);
    const instance = s.resources.find((r) => r.type === "gcp:sql/databaseInstance:DatabaseInstance")!;
    expect([phase, instance.ignoreChanges]).toEqual([phase, []]);
    expect((instance.inputs.settings as any).backupConfiguration).toMatchObject({
      enabled: true,
      pointInTimeRecoveryEnabled: true,
    });
    // The policy pack relaxes the backup rule only on the spec's word: here it never does.
    const spec = s.resources.find((r) => r.name === "avvivo-spec")!;
    expect(spec.inputs).toMatchObject({ cutoverSpec: "v1", phase, backupsManagedByDms: false });
  }
});

it("at promote stops replication before the schema migration runs, with the configured catch-up bound", async () => {
  const s = await synth("promote");
  const stop = job(s, "repl-stop")!;
  expect(container(stop).args).toEqual([
    "stop",
    "--name",
    "cutover_avvivo_a1",
    "--schemas",
    "public",
    "--timeout",
    "300",
  ]);
  expect((stop.inputs.template as any).template.timeout).toBe("600s");
  const migrate = s.resources.find((r) => r.type === "cutover:gcp:MigrateJob")!;
  expect(migrate.dependencies).toContain(stop.urn);
});

it("refuses replication: logical without the image its jobs run in, and an unknown mode", async () => {
  const withoutImage = logicalStack("replicate", { validation: undefined });
  const spec = (withoutImage.config[CONFIG_KEY] as any).avvivo;
  delete spec.validation;
  await expect(
    synthesize(() => program(NOW), {
      stack: "staging",
      config: withoutImage.config,
      secretKeys: withoutImage.secretKeys,
    }),
  ).rejects.toThrow(/validation\.image.*replication: logical runs its steps .* as Cloud Run Jobs/s);
  const unknown = logicalStack("replicate", { replication: "pglogical" });
  await expect(
    synthesize(() => program(NOW), {
      stack: "staging",
      config: unknown.config,
      secretKeys: unknown.secretKeys,
    }),
  ).rejects.toThrow(/replication.*expected one of dms, logical/s);
});
