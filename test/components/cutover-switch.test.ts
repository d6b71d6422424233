import * as pulumi from "@pulumi/pulumi";
/**
 * The switch's provider, called directly as Pulumi's engine calls it at `up`: against a fake Cloud Run
 * Admin API and DMS, with a real HTTP candidate to smoke.
 */
import { cutoverSwitchProvider, type CutoverSwitchState } from "../../infra/components/cutover-switch";
import type { CloudSwitchInputs } from "../../infra/replication/cloud-switch";
import { JOB, startFakeGoogle } from "../support/fake-google";
import { PROJECT, REGION, startCandidate, startFakeRun } from "../support/fake-run";

const TOKEN = "ya29.switch-test-token";
const ADMIN = "admin-token-4711";

function inputs(runEndpoint: string, extra: Partial<CloudSwitchInputs> = {}) {
  return {
    attempt: 1,
    accessToken: TOKEN,
    project: PROJECT,
    region: REGION,
    service: "avvivo-api",
    freezeJob: "avvivo-api-switch-a1",
    thawJob: "avvivo-api-thaw-a1",
    readerJob: "avvivo-api-validate-a1-grant",
    migrateJob: "avvivo-api-migrate-a1",
    deadlineSeconds: 30,
    runEndpoint,
    pollIntervalSeconds: 0.01,
    smoke: {
      statusPath: "/system/status",
      writeProbePath: "/system/write-probe",
      tokenHeader: "authorization",
      timeoutSeconds: 5,
    },
    ...extra,
  };
}

beforeEach(() => {
  process.env.SMOKE_ADMIN_TOKEN = ADMIN;
});
afterEach(() => {
  delete process.env.SMOKE_ADMIN_TOKEN;
});

it("runs the grant, the freeze job, the migrate job and the smoke in order, and stores no token", async () => {
  const candidate = await startCandidate({ token: ADMIN });
  const run = await startFakeRun({ candidateUrl: candidate.url });
  try {
    const created = await cutoverSwitchProvider.create!(inputs(run.url));
    expect(run.jobsRun()).toEqual([
      "avvivo-api-validate-a1-grant",
      "avvivo-api-switch-a1",
      "avvivo-api-migrate-a1",
    ]);
    expect(run.auth.every((a) => a === `Bearer ${TOKEN}`)).toBe(true);
    expect(candidate.seen).toEqual(["GET /system/status", "POST /system/write-probe"]);
    const outs = created.outs as CutoverSwitchState;
    expect(created.id).toBe("avvivo-api:switch@1");
    expect(outs.terms.map((t) => t.name)).toEqual([
      "freeze the source",
      "post-promotion steps and schema command",
      "candidate smoke",
    ]);
    expect(outs.terms[2].detail).toBe("/system/status 200, write probe 200");
    expect(JSON.stringify(outs)).not.toContain(TOKEN);
    expect(JSON.stringify(outs)).not.toContain(ADMIN);
  } finally {
    await Promise.all([run.close(), candidate.close()]);
  }
});

it("promotes through DMS between the freeze and the migrate job on the DMS path", async () => {
  const candidate = await startCandidate({ token: ADMIN });
  const run = await startFakeRun({ candidateUrl: candidate.url });
  const dms = await startFakeGoogle({ job: { state: "RUNNING", phase: "CDC" } });
  try {
    const promotion = {
      migrationJob: JOB,
      attempt: 1,
      endpoint: dms.url,
      sqladminEndpoint: dms.url,
      timeoutMinutes: 1,
      pollIntervalSeconds: 0.01,
      allowPromoteFromCdc: true,
    };
    const created = await cutoverSwitchProvider.create!(inputs(run.url, { promotion }));
    expect((created.outs as CutoverSwitchState).terms.map((t) => t.name)).toEqual([
      "freeze the source",
      "promotion",
      "post-promotion steps and schema command",
      "candidate smoke",
    ]);
    expect(dms.calls()).toContain(`POST /v1/${JOB}:promote`);
    expect(run.jobsRun()).toEqual([
      "avvivo-api-validate-a1-grant",
      "avvivo-api-switch-a1",
      "avvivo-api-migrate-a1",
    ]);
  } finally {
    await Promise.all([run.close(), candidate.close(), dms.close()]);
  }
});

it.each([
  [
    "the migrate job fails",
    { failJobs: ["avvivo-api-migrate-a1"] },
    200,
    "post-promotion steps and schema command failed after",
    "job avvivo-api-migrate-a1 failed: Task failed with exit code 1",
  ],
  [
    "the candidate cannot write",
    {},
    503,
    "candidate smoke failed after",
    "POST /system/write-probe on the candidate answered 503: it cannot write",
  ],
  [
    "the freeze job fails",
    { failJobs: ["avvivo-api-switch-a1"] },
    200,
    "freeze the source failed after",
    "job avvivo-api-switch-a1 failed",
  ],
])(
  "when %s: the thaw job runs, traffic does not move (create fails), and the error says which term",
  async (_what, fail, probeStatus, term, detail) => {
    const candidate = await startCandidate({ token: ADMIN, probeStatus });
    const run = await startFakeRun({ candidateUrl: candidate.url, ...fail });
    try {
      const error = await cutoverSwitchProvider.create!(inputs(run.url)).catch((e: Error) => e);
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toContain(`the switch stopped: ${term}`);
      expect((error as Error).message).toContain(detail);
      expect((error as Error).message).toContain("writes went back to the source; traffic did not move");
      expect(run.jobsRun().at(-1)).toBe("avvivo-api-thaw-a1");
      expect((error as Error).message).not.toContain(TOKEN);
    } finally {
      await Promise.all([run.close(), candidate.close()]);
    }
  },
);

it("a job that outlasts the deadline is abandoned and the source thawed", async () => {
  const candidate = await startCandidate({ token: ADMIN });
  const run = await startFakeRun({ candidateUrl: candidate.url, slowJobs: ["avvivo-api-migrate-a1"] });
  try {
    const error = await cutoverSwitchProvider.create!(inputs(run.url, { deadlineSeconds: 1 })).catch(
      (e: Error) => e,
    );
    expect((error as Error).message).toMatch(
      /post-promotion steps and schema command overran the switch's 1 s/,
    );
    expect(run.jobsRun().at(-1)).toBe("avvivo-api-thaw-a1");
  } finally {
    await Promise.all([run.close(), candidate.close()]);
  }
});

it("diff: a new token changes nothing; a new attempt is a new switch; update keeps what ran", async () => {
  const olds = {
    ...inputs("https://run.googleapis.com"),
    accessToken: undefined,
    switchedAt: "2026-12-06T10:00:00.000Z",
    terms: [{ name: "freeze the source", ms: 1, detail: "" }],
    totalMs: 1,
  } as unknown as CutoverSwitchState;
  const same = await cutoverSwitchProvider.diff!("id", olds, {
    ...inputs("https://run.googleapis.com"),
    accessToken: "other",
  });
  expect(same.changes).toBe(false);
  const retry = await cutoverSwitchProvider.diff!("id", olds, {
    ...inputs("https://run.googleapis.com"),
    attempt: 2,
  });
  expect([retry.changes, retry.replaces]).toEqual([true, ["attempt"]]);
  const updated = await cutoverSwitchProvider.update!("id", olds, {
    ...inputs("https://run.googleapis.com"),
    deadlineSeconds: 60,
  });
  expect(updated.outs).toMatchObject({ deadlineSeconds: 60, switchedAt: olds.switchedAt, terms: olds.terms });
  expect(JSON.stringify(updated.outs)).not.toContain(TOKEN);
});

it("the provider serializes for the Pulumi engine, the switch's bound and the REST calls travelling with it", async () => {
  const serialized = await pulumi.runtime.serializeFunction(() => cutoverSwitchProvider, {
    isFactoryFunction: true,
  });
  for (const part of [
    "switchOnCloud",
    "runSwitch",
    "runJobExecution",
    "promoteMigrationJob",
    "SMOKE_ADMIN_TOKEN",
  ])
    expect(serialized.text).toContain(part);
  expect(serialized.text).not.toMatch(/require\("(fs|node:fs|child_process|node:child_process|pg)"\)/);
});
