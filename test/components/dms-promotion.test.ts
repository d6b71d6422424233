import * as pulumi from "@pulumi/pulumi";
import { specialSecretSig, specialSigKey } from "@pulumi/pulumi/runtime/rpc";
import {
  DmsPromotion,
  dmsPromotionProvider,
  type DmsPromotionState,
} from "../../infra/components/dms-promotion";
import type { PromotionInputs } from "../../infra/dms/promote";
import { JOB, OP, startFakeGoogle, type FakeGoogle } from "../support/fake-google";

const TOKEN = "ya29.component-test-token";
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

interface Registered {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
}
const registered: Registered[] = [];

pulumi.runtime.setMocks(
  {
    newResource: (args) => {
      registered.push({ type: args.type, name: args.name, inputs: args.inputs });
      return { id: `${args.name}-id`, state: args.inputs };
    },
    call: (args) => {
      throw new Error(`unexpected invoke ${args.token}`);
    },
  },
  "cutover",
  "test",
  false,
);

beforeEach(() => registered.splice(0));

function unwrap<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply(resolve));
}

async function declare(name: string, args: Partial<ConstructorParameters<typeof DmsPromotion>[1]> = {}) {
  const res = new DmsPromotion(name, { migrationJob: JOB, attempt: 1, accessToken: TOKEN, ...args });
  await unwrap(res.urn);
  const found = registered.find((r) => r.name === name);
  if (!found) throw new Error(`resource ${name} was not registered`);
  return found;
}

const BACKUPS = {
  project: "acme-prod",
  instance: "avvivo-pg",
  startTime: "03:00",
  retainedBackups: 14,
  logRetentionDays: 7,
};

const settings = {
  migrationJob: JOB,
  attempt: 1,
  endpoint: "https://datamigration.googleapis.com",
  sqladminEndpoint: "https://sqladmin.googleapis.com",
  timeoutMinutes: 60,
  pollIntervalSeconds: 10,
  allowPromoteFromCdc: false,
};
const news: PromotionInputs = { ...settings, accessToken: TOKEN };

describe("DmsPromotion under the mock runtime", () => {
  it("registers a dynamic resource with the defaults filled in", async () => {
    const r = await declare("avvivo-promote-a1", { reenableBackups: BACKUPS });
    expect(r.type).toBe("pulumi-nodejs:dynamic:Resource");
    expect(r.inputs).toMatchObject({
      migrationJob: JOB,
      attempt: 1,
      endpoint: "https://datamigration.googleapis.com",
      sqladminEndpoint: "https://sqladmin.googleapis.com",
      timeoutMinutes: 60,
      pollIntervalSeconds: 10,
      allowPromoteFromCdc: false,
      reenableBackups: BACKUPS,
    });
    expect(typeof r.inputs.__provider).toBe("string");
  });

  it("stores the access token as a secret and keeps it out of the serialized provider", async () => {
    const r = await declare("avvivo-promote-a1");
    expect(r.inputs.accessToken).toEqual({ [specialSigKey]: specialSecretSig, value: TOKEN });
    expect(String(r.inputs.__provider)).not.toContain(TOKEN);
  });

  it("lets two promotions coexist in one stack", async () => {
    await declare("avvivo-promote-a1");
    await declare("other-promote-a2", { attempt: 2 });
    expect(registered.map((r) => r.name)).toEqual(["avvivo-promote-a1", "other-promote-a2"]);
  });

  it("accepts inputs that are outputs of other resources without judging them early", async () => {
    const r = await declare("avvivo-promote-a1", {
      migrationJob: pulumi.output(JOB),
      reenableBackups: { ...BACKUPS, instance: pulumi.output("avvivo-pg") },
    });
    expect(r.inputs.migrationJob).toBe(JOB);
  });

  it("refuses arguments known to be wrong, listing each one", () => {
    const make = () =>
      new DmsPromotion("bad", {
        migrationJob: "avvivo-dms-a1",
        attempt: 0,
        accessToken: TOKEN,
        timeoutMinutes: 0,
        reenableBackups: { ...BACKUPS, retainedBackups: 7 },
      });
    expect(make).toThrow(
      'DmsPromotion "bad": invalid arguments:\n' +
        '  - migrationJob: expected a full job name projects/P/locations/R/migrationJobs/ID, got "avvivo-dms-a1"\n' +
        "  - attempt: expected an integer 1–99, got 0\n" +
        "  - timeoutMinutes: expected a number of minutes above 0 and at most 240, got 0\n" +
        "  - reenableBackups.retainedBackups: expected an integer up to 365 and greater than logRetentionDays (7), got 7;",
    );
    expect(make).not.toThrow(TOKEN);
  });
});

describe("dmsPromotionProvider", () => {
  const olds: DmsPromotionState = {
    ...settings,
    reenableBackups: BACKUPS,
    promotedAt: "2026-05-01T10:00:00Z",
    jobState: "COMPLETED",
    alreadyPromoted: false,
    backupsReenabled: true,
  };
  const withBackups: PromotionInputs = { ...news, reenableBackups: BACKUPS };
  // Same settings, keys in another order (as state read back from the engine may have them).
  const REORDERED = Object.fromEntries(Object.entries(BACKUPS).reverse()) as typeof BACKUPS;

  it.each([
    ["nothing", {}, false, []],
    ["only the (short-lived) token", { accessToken: "ya29.fresh" }, false, []],
    ["the attempt", { attempt: 2 }, true, ["attempt"]],
    ["the job", { migrationJob: JOB.replace("a1", "a2") }, true, ["migrationJob"]],
    ["a setting", { timeoutMinutes: 90 }, true, []],
    ["the backup settings", { reenableBackups: { ...BACKUPS, retainedBackups: 30 } }, true, []],
    ["nothing but the key order of the backup settings", { reenableBackups: REORDERED }, false, []],
  ])("diff when %s changes", async (_what, patch, changes, replaces) => {
    const diff = await dmsPromotionProvider.diff!("id", olds, { ...withBackups, ...patch });
    expect(diff).toEqual({ changes, replaces, deleteBeforeReplace: false });
  });

  it("update is a no-op that records the new settings without the token", async () => {
    const result = await dmsPromotionProvider.update!("id", olds, { ...withBackups, timeoutMinutes: 90 });
    expect(result.outs).toEqual({ ...olds, timeoutMinutes: 90 });
    const dropped = await dmsPromotionProvider.update!("id", olds, news);
    expect(dropped.outs).not.toHaveProperty("reenableBackups");
    expect(dropped.outs).toMatchObject({ promotedAt: olds.promotedAt, jobState: "COMPLETED" });
  });

  it("read returns the stored state and delete does nothing", async () => {
    await expect(dmsPromotionProvider.read!("id", olds)).resolves.toEqual({ id: "id", props: olds });
    await expect(dmsPromotionProvider.delete!("id", olds)).resolves.toBeUndefined();
  });

  it("check reports bad inputs but leaves values unknown at preview alone", async () => {
    const preview = await dmsPromotionProvider.check!(
      {},
      { ...news, migrationJob: UNKNOWN, accessToken: UNKNOWN },
    );
    expect(preview.failures).toEqual([]);
    const bad = await dmsPromotionProvider.check!({}, { ...news, pollIntervalSeconds: 0 });
    expect(bad.failures).toEqual([
      {
        property: "pollIntervalSeconds",
        reason: "expected a number of seconds above 0 and at most 600, got 0",
      },
    ]);
  });
});

describe("the serialized provider (what Pulumi stores and runs)", () => {
  let fake: FakeGoogle;
  beforeAll(async () => {
    fake = await startFakeGoogle({ job: { state: "RUNNING", phase: "READY_FOR_PROMOTE" } });
  });
  afterAll(() => fake.close());

  it("promotes through the API when loaded from its serialized text, and its outputs hold no token", async () => {
    const r = await declare("avvivo-promote-a1");
    const module = { exports: {} as { handler: () => pulumi.dynamic.ResourceProvider } };
    new Function("exports", "require", "module", String(r.inputs.__provider))(
      module.exports,
      require,
      module,
    );
    const provider = module.exports.handler();
    const created = await provider.create({
      ...news,
      endpoint: fake.url,
      sqladminEndpoint: fake.url,
      pollIntervalSeconds: 0.01,
    });
    expect(created.id).toBe(`${JOB}:promote@1`);
    expect(created.outs).toMatchObject({
      jobState: "COMPLETED",
      alreadyPromoted: false,
      backupsReenabled: false,
    });
    expect(created.outs).not.toHaveProperty("accessToken");
    expect(JSON.stringify(created.outs)).not.toContain(TOKEN);
    expect(fake.calls().slice(0, 2)).toEqual([`GET /v1/${JOB}`, `POST /v1/${JOB}:promote`]);
    expect(fake.calls()).toContain(`GET /v1/${OP}`);
    expect(fake.requests.every((r) => r.auth === `Bearer ${TOKEN}`)).toBe(true);
  });
});

it("the provider serializes for the Pulumi engine, the facts it reads travelling with it", async () => {
  const serialized = await pulumi.runtime.serializeFunction(() => dmsPromotionProvider, {
    isFactoryFunction: true,
  });
  expect(serialized.text).toContain("promoteMigrationJob");
  expect(serialized.text).toContain("ENTERPRISE_PLUS");
  expect(serialized.text).not.toMatch(/require\("(fs|node:fs|child_process|node:child_process)"\)/);
});
