import {
  decideOnJob,
  promoteMigrationJob,
  validatePromotionInputs,
  type MigrationJobStatus,
  type PromotionInputs,
} from "../../infra/dms/promote";
import { JOB, OP, startFakeGoogle, type FakeGoogle, type FakeOptions } from "../support/fake-google";

const TOKEN = "ya29.test-token-never-printed";

type Fake = FakeGoogle;
let fake: Fake | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

async function run(opts: FakeOptions, overrides: Partial<PromotionInputs> = {}) {
  fake = await startFakeGoogle(opts);
  const inputs: PromotionInputs = {
    migrationJob: JOB,
    attempt: 1,
    accessToken: TOKEN,
    endpoint: fake.url,
    sqladminEndpoint: fake.url,
    timeoutMinutes: 0.05,
    pollIntervalSeconds: 0.01,
    allowPromoteFromCdc: false,
    ...overrides,
  };
  return { fake, result: promoteMigrationJob(inputs) };
}

const READY = { state: "RUNNING", phase: "READY_FOR_PROMOTE" };
const BACKUPS = {
  project: "acme-prod",
  instance: "avvivo-pg",
  startTime: "03:00",
  retainedBackups: 14,
  logRetentionDays: 7,
};

describe("promoteMigrationJob against a local DMS / Cloud SQL Admin server", () => {
  it("promotes a READY_FOR_PROMOTE job and polls the operation until done", async () => {
    const { fake, result } = await run({ job: READY, opDoneAfterPolls: 3 });
    const outcome = await result;
    expect(outcome).toMatchObject({ jobState: "COMPLETED", alreadyPromoted: false, backupsReenabled: false });
    expect(Date.parse(outcome.promotedAt)).not.toBeNaN();
    expect(fake.calls()).toEqual([
      `GET /v1/${JOB}`,
      `POST /v1/${JOB}:promote`,
      `GET /v1/${OP}`,
      `GET /v1/${OP}`,
      `GET /v1/${OP}`,
      `GET /v1/${JOB}`,
    ]);
    expect(fake.requests.every((r) => r.auth === `Bearer ${TOKEN}`)).toBe(true);
  });

  it("is a no-op on a job that is already COMPLETED (no second promote)", async () => {
    const done = { state: "COMPLETED", phase: "PROMOTE_IN_PROGRESS", endTime: "2026-05-01T10:00:00Z" };
    const { fake, result } = await run({ job: done });
    await expect(result).resolves.toEqual({
      promotedAt: "2026-05-01T10:00:00Z",
      jobState: "COMPLETED",
      alreadyPromoted: true,
      backupsReenabled: false,
    });
    expect(fake.calls()).toEqual([`GET /v1/${JOB}`]);
  });

  it("waits for a promotion already in progress instead of starting another", async () => {
    const job = { state: "RUNNING", phase: "PROMOTE_IN_PROGRESS" };
    const { fake, result } = await run({ job, jobFinishesAfterGets: 2 });
    await expect(result).resolves.toMatchObject({ jobState: "COMPLETED", alreadyPromoted: false });
    expect(fake.calls()).toEqual([`GET /v1/${JOB}`, `GET /v1/${JOB}`, `GET /v1/${JOB}`]);
  });

  it("fails when a promotion in progress ends with the job FAILED", async () => {
    const job = { state: "RUNNING", phase: "PROMOTE_IN_PROGRESS", error: { code: 13, message: "disk full" } };
    const { result } = await run({ job, jobFinishesAfterGets: 1, finishAs: "FAILED" });
    await expect(result).rejects.toThrow(
      `DMS promotion of ${JOB} failed: the job went to FAILED while promoting (disk full (code 13)).`,
    );
  });

  it("refuses a job still in CDC with a message naming the job, its state and what to do", async () => {
    const { fake, result } = await run({ job: { state: "RUNNING", phase: "CDC" } });
    await expect(result).rejects.toThrow(
      `DMS migration job ${JOB} is not ready to promote (state RUNNING, phase CDC). Replication is still running: ` +
        "stop writes on the source (phase freeze), wait until the replication delay is 0",
    );
    expect(fake.calls()).toEqual([`GET /v1/${JOB}`]);
  });

  it("promotes from CDC only when allowPromoteFromCdc is set", async () => {
    const { fake, result } = await run(
      { job: { state: "RUNNING", phase: "CDC" } },
      { allowPromoteFromCdc: true },
    );
    await expect(result).resolves.toMatchObject({ jobState: "COMPLETED" });
    expect(fake.calls()).toContain(`POST /v1/${JOB}:promote`);
  });

  it("re-enables backups and PITR after promotion with the documented body", async () => {
    const { fake, result } = await run({ job: READY, sqlOpDoneAfterPolls: 2 }, { reenableBackups: BACKUPS });
    await expect(result).resolves.toMatchObject({ backupsReenabled: true, jobState: "COMPLETED" });
    const patch = fake.requests.find((r) => r.method === "PATCH");
    expect(patch?.path).toBe("/v1/projects/acme-prod/instances/avvivo-pg");
    expect(patch?.body).toEqual({
      settings: {
        backupConfiguration: {
          enabled: true,
          pointInTimeRecoveryEnabled: true,
          startTime: "03:00",
          transactionLogRetentionDays: 7,
          backupRetentionSettings: { retentionUnit: "COUNT", retainedBackups: 14 },
        },
      },
    });
    expect(fake.calls().slice(-3)).toEqual([
      "PATCH /v1/projects/acme-prod/instances/avvivo-pg",
      "GET /v1/projects/acme-prod/operations/sqlop-1",
      "GET /v1/projects/acme-prod/operations/sqlop-1",
    ]);
  });

  it("still re-enables backups when the job was promoted by an earlier run", async () => {
    const { fake, result } = await run(
      { job: { state: "COMPLETED", phase: "CDC" } },
      { reenableBackups: BACKUPS },
    );
    await expect(result).resolves.toMatchObject({ alreadyPromoted: true, backupsReenabled: true });
    expect(fake.calls()).not.toContain(`POST /v1/${JOB}:promote`);
    expect(fake.calls()).toContain("PATCH /v1/projects/acme-prod/instances/avvivo-pg");
  });

  it("reports a Cloud SQL operation that ends with errors", async () => {
    const sqlOpErrors = [{ code: "INVALID_REQUEST", message: "retained backups must exceed log days" }];
    const { result } = await run({ job: READY, sqlOpErrors }, { reenableBackups: BACKUPS });
    await expect(result).rejects.toThrow(
      "Re-enabling backups and PITR on Cloud SQL instance acme-prod/avvivo-pg failed: operation sqlop-1 ended with " +
        "INVALID_REQUEST: retained backups must exceed log days.",
    );
  });

  it("turns Google's 403 error body into a clear error that does not contain the token", async () => {
    const body = JSON.stringify({
      error: {
        code: 403,
        message: "Permission 'datamigration.migrationjobs.promote' denied",
        status: "PERMISSION_DENIED",
      },
    });
    const { fake, result } = await run({ job: READY, fail: { match: ":promote", status: 403, body } });
    const err = await result.then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toBe(
      `DMS promotion of ${JOB} failed: POST ${fake.url}/v1/${JOB}:promote answered HTTP 403 ` +
        "(PERMISSION_DENIED: Permission 'datamigration.migrationjobs.promote' denied). The identity running Pulumi " +
        "lacks a permission: it needs roles/datamigration.admin (and roles/cloudsql.admin to re-enable backups).",
    );
    expect(err?.message).not.toContain(TOKEN);
    expect(err?.stack ?? "").not.toContain(TOKEN);
  });

  it.each([
    [401, "The access token is missing or expired"],
    [404, "Check the name: it does not exist in that project and region."],
    [409, "Another operation is running on this resource"],
    [500, "See Google's message above."],
  ])("answers HTTP %i with the matching hint", async (status, hint) => {
    const body = JSON.stringify({ error: { code: status, message: "nope", status: "SOME_STATUS" } });
    const { result } = await run({ job: READY, fail: { match: `GET /v1/${JOB}`, status, body } });
    await expect(result).rejects.toThrow(`answered HTTP ${status} (SOME_STATUS: nope). ${hint}`);
  });

  it("masks the token when an error answer echoes it", async () => {
    const { result } = await run({
      job: READY,
      fail: { match: "GET", status: 401, body: `bad token ${TOKEN}` },
    });
    await expect(result).rejects.toThrow("answered HTTP 401 (bad token ***).");
  });

  it("rejects an answer that is not JSON", async () => {
    const { fake, result } = await run({
      job: READY,
      fail: { match: "GET", status: 200, body: "<html>proxy</html>" },
    });
    await expect(result).rejects.toThrow(
      `DMS promotion of ${JOB} failed: GET ${fake.url}/v1/${JOB} answered HTTP 200 with a body that is not JSON.`,
    );
  });

  it("rejects an operation that has no name", async () => {
    const { result } = await run({ job: READY, opWithoutName: true });
    await expect(result).rejects.toThrow(
      "the API answered an operation without a name, so it cannot be followed.",
    );
  });

  it("reports a promote operation that ends with an error", async () => {
    const opError = { code: 9, message: "source still has writes" };
    const { result } = await run({ job: READY, opDoneAfterPolls: 2, opError });
    await expect(result).rejects.toThrow(
      `DMS promotion of ${JOB} failed: operation ${OP} ended with source still has writes (code 9).`,
    );
  });

  it("times out within the bound when the server never answers", async () => {
    const { fake, result } = await run({ job: READY, hang: true }, { timeoutMinutes: 0.005 });
    const started = Date.now();
    await expect(result).rejects.toThrow(
      `DMS promotion of ${JOB} timed out after 0.3 s waiting for an answer to GET ${fake.url}/v1/${JOB}. ` +
        "The operation may still be running: run pulumi up again (a re-run waits for a promotion in progress " +
        "instead of starting another, and re-applies the backup settings) or raise timeoutMinutes.",
    );
    expect(Date.now() - started).toBeLessThan(300 + 700);
  });

  it("times out within the bound when the operation never completes", async () => {
    const { fake, result } = await run({ job: READY, opDoneAfterPolls: Infinity }, { timeoutMinutes: 0.01 });
    const started = Date.now();
    // The deadline may fall during a poll's sleep or during a poll request: both name the operation.
    await expect(result).rejects.toThrow(/timed out after 0\.6 s waiting for .*operations\/op-promote-1/);
    expect(Date.now() - started).toBeLessThan(600 + 700);
    expect(fake.calls().filter((c) => c === `GET /v1/${OP}`).length).toBeGreaterThanOrEqual(1);
  });

  // A poll interval longer than the bound makes the deadline fall during the sleep, deterministically.
  it("names the operation it was waiting for when the deadline falls between polls", async () => {
    const opts = { job: READY, opDoneAfterPolls: Infinity };
    const { result } = await run(opts, { timeoutMinutes: 0.01, pollIntervalSeconds: 1 });
    const started = Date.now();
    await expect(result).rejects.toThrow(
      `timed out after 0.6 s waiting for the promote operation ${OP} to finish.`,
    );
    expect(Date.now() - started).toBeLessThan(600 + 700);
  });

  it("times out when the Cloud SQL operation never completes", async () => {
    const opts = { job: { state: "COMPLETED", phase: "CDC" }, sqlOpDoneAfterPolls: Infinity };
    const bounds = { timeoutMinutes: 0.01, pollIntervalSeconds: 1 };
    const { result } = await run(opts, { ...bounds, reenableBackups: BACKUPS });
    await expect(result).rejects.toThrow(
      "Re-enabling backups and PITR on Cloud SQL instance acme-prod/avvivo-pg timed out after 0.6 s waiting for " +
        "Cloud SQL operation sqlop-1 to finish.",
    );
  });

  it("says so when the endpoint cannot be reached", async () => {
    const closed = await startFakeGoogle({ job: READY });
    await closed.close();
    const inputs = { migrationJob: JOB, attempt: 1, accessToken: TOKEN, endpoint: closed.url };
    const result = promoteMigrationJob({
      ...inputs,
      sqladminEndpoint: closed.url,
      timeoutMinutes: 0.05,
      pollIntervalSeconds: 0.01,
      allowPromoteFromCdc: false,
    });
    await expect(result).rejects.toThrow(
      `DMS promotion of ${JOB} failed: could not reach GET ${closed.url}/v1/${JOB} (ECONNREFUSED). Check the endpoint.`,
    );
  });
});

describe("decideOnJob", () => {
  const cases: { job: MigrationJobStatus; cdc?: boolean; action: string; says?: string }[] = [
    { job: READY, action: "promote" },
    { job: { state: "RUNNING", phase: "CDC" }, cdc: true, action: "promote" },
    { job: { state: "COMPLETED" }, action: "done" },
    { job: { state: "RUNNING", phase: "PROMOTE_IN_PROGRESS" }, action: "wait" },
    {
      job: { state: "RUNNING", phase: "CDC" },
      action: "refuse",
      says: "(state RUNNING, phase CDC). Replication is",
    },
    {
      job: { state: "RUNNING", phase: "FULL_DUMP" },
      action: "refuse",
      says: "(state RUNNING, phase FULL_DUMP). The initial dump is not finished: wait for CDC",
    },
    {
      job: { state: "FAILED", phase: "CDC", error: { message: "connection reset" } },
      action: "refuse",
      says: "The job failed (connection reset) and cannot be promoted: fix the cause and retry with a new attempt number.",
    },
    {
      job: { state: "NOT_STARTED" },
      action: "refuse",
      says: "(state NOT_STARTED, phase PHASE_UNSPECIFIED). The job is not replicating: start or resume it (phase replicate)",
    },
  ];
  it.each(cases)("$job.state/$job.phase (cdc allowed: $cdc) → $action", ({ job, cdc, action, says }) => {
    const decision = decideOnJob(job, JOB, cdc ?? false);
    expect(decision.action).toBe(action);
    if (says) expect(decision).toMatchObject({ message: expect.stringContaining(says) });
  });
});

describe("validatePromotionInputs", () => {
  const valid: PromotionInputs = {
    migrationJob: JOB,
    attempt: 1,
    accessToken: TOKEN,
    endpoint: "https://datamigration.googleapis.com",
    sqladminEndpoint: "https://sqladmin.googleapis.com",
    timeoutMinutes: 60,
    pollIntervalSeconds: 10,
    allowPromoteFromCdc: false,
    reenableBackups: BACKUPS,
  };

  it("accepts valid inputs", () => {
    expect(validatePromotionInputs(valid)).toEqual([]);
  });

  it.each([
    [
      { migrationJob: "avvivo-dms-a1" },
      "migrationJob",
      'projects/P/locations/R/migrationJobs/ID, got "avvivo-dms-a1"',
    ],
    [{ attempt: 0 }, "attempt", "expected an integer 1–99, got 0"],
    [{ accessToken: "" }, "accessToken", "expected a non-empty OAuth access token"],
    [{ endpoint: "ftp://x" }, "endpoint", 'expected an http(s) URL, got "ftp://x"'],
    [{ sqladminEndpoint: "" }, "sqladminEndpoint", 'expected an http(s) URL, got ""'],
    [{ timeoutMinutes: 0 }, "timeoutMinutes", "expected a number of minutes above 0 and at most 240, got 0"],
    [{ pollIntervalSeconds: -1 }, "pollIntervalSeconds", "above 0 and at most 600, got -1"],
    [{ reenableBackups: { ...BACKUPS, project: "" } }, "reenableBackups.project", "expected the GCP project"],
    [
      { reenableBackups: { ...BACKUPS, instance: "" } },
      "reenableBackups.instance",
      "expected the destination Cloud",
    ],
    [
      { reenableBackups: { ...BACKUPS, startTime: "3am" } },
      "reenableBackups.startTime",
      "expected HH:MM (UTC), got 3am",
    ],
    [
      { reenableBackups: { ...BACKUPS, logRetentionDays: 40, retainedBackups: 50 } },
      "reenableBackups.logRetentionDays",
      "expected 1–7 on ENTERPRISE, 1–35 on ENTERPRISE_PLUS days, got 40",
    ],
    [
      { reenableBackups: { ...BACKUPS, retainedBackups: 7 } },
      "reenableBackups.retainedBackups",
      "greater than logRetentionDays (7), got 7; Cloud SQL answers 400 otherwise",
    ],
  ])("reports %o at %s", (patch, property, reason) => {
    const problems = validatePromotionInputs({ ...valid, ...patch } as PromotionInputs);
    expect(problems).toEqual([{ property, reason: expect.stringContaining(reason) }]);
  });

  it("lists every problem at once, without the token, and promoteMigrationJob refuses them before any call", async () => {
    const bad = { ...valid, attempt: 0, timeoutMinutes: 999 };
    expect(validatePromotionInputs(bad).map((p) => p.property)).toEqual(["attempt", "timeoutMinutes"]);
    await expect(promoteMigrationJob(bad)).rejects.toThrow(
      "DMS promotion inputs are invalid:\n  - attempt: expected an integer 1–99, got 0\n  - timeoutMinutes:",
    );
    await expect(promoteMigrationJob(bad)).rejects.not.toThrow(TOKEN);
  });
});
