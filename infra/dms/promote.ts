/**
 * Over 300 lines: see the end of this comment (it travels whole into the engine's process).
 *
 * Promotion of a DMS migration job through the REST APIs of Database Migration Service and Cloud SQL
 * Admin. No module state and one import on purpose: the dynamic provider that calls this is serialized
 * by Pulumi's closure serializer and run in another process, so everything it needs must travel with it;
 * `contract/facts` is plain values and functions with no imports of its own, which the serializer copies.
 * It stays one file past 300 lines for the same reason: the decision table, the REST calls and the
 * polling travel together into the engine's process, and splitting them buys no reuse.
 */
import { describeLogRetention, LOG_RETENTION_ANY_EDITION } from "../../contract/facts";

/** Automated backups and PITR to turn back on after promotion (DMS suspends them on the replica). */
export interface BackupSettings {
  readonly project: string;
  readonly instance: string;
  /** Start of the daily backup window, `HH:MM` UTC. */
  readonly startTime: string;
  readonly retainedBackups: number;
  readonly logRetentionDays: number;
}

/** What the promotion needs, in the units of the component's args (stored as the resource's inputs). */
export interface PromotionInputs {
  readonly migrationJob: string;
  readonly attempt: number;
  readonly accessToken: string;
  readonly endpoint: string;
  readonly sqladminEndpoint: string;
  readonly timeoutMinutes: number;
  readonly pollIntervalSeconds: number;
  readonly allowPromoteFromCdc: boolean;
  readonly reenableBackups?: BackupSettings;
}

export interface PromotionResult {
  readonly promotedAt: string;
  readonly jobState: string;
  readonly alreadyPromoted: boolean;
  readonly backupsReenabled: boolean;
}

/** The fields of a DMS v1 `MigrationJob` that decide what to do. */
export interface MigrationJobStatus {
  readonly state?: string;
  readonly phase?: string;
  readonly endTime?: string;
  readonly error?: { readonly code?: number; readonly message?: string };
}

export type JobDecision =
  { readonly action: "promote" | "wait" | "done" } | { readonly action: "refuse"; readonly message: string };

export interface InputProblem {
  readonly property: string;
  readonly reason: string;
}

const JOB_NAME = /^projects\/[^/\s]+\/locations\/[^/\s]+\/migrationJobs\/[^/\s]+$/;
const HH_MM = /^([01]\d|2[0-3]):[0-5]\d$/;

/** Every problem with the inputs, in words a user can act on; never quotes the access token. */
export function validatePromotionInputs(inputs: Partial<PromotionInputs>): InputProblem[] {
  const b = inputs.reenableBackups;
  const rules: [boolean, string, string][] = [
    [
      typeof inputs.migrationJob !== "string" || !JOB_NAME.test(inputs.migrationJob),
      "migrationJob",
      `expected a full job name projects/P/locations/R/migrationJobs/ID, got ${JSON.stringify(inputs.migrationJob)}`,
    ],
    [!isInt(inputs.attempt, 1, 99), "attempt", `expected an integer 1–99, got ${inputs.attempt}`],
    [
      typeof inputs.accessToken !== "string" || inputs.accessToken === "",
      "accessToken",
      "expected a non-empty OAuth access token (gcp.organizations.getClientConfigOutput().accessToken)",
    ],
    [
      !isHttpUrl(inputs.endpoint),
      "endpoint",
      `expected an http(s) URL, got ${JSON.stringify(inputs.endpoint)}`,
    ],
    [
      !isHttpUrl(inputs.sqladminEndpoint),
      "sqladminEndpoint",
      `expected an http(s) URL, got ${JSON.stringify(inputs.sqladminEndpoint)}`,
    ],
    [
      !isNum(inputs.timeoutMinutes, 0, 240),
      "timeoutMinutes",
      `expected a number of minutes above 0 and at most 240, got ${inputs.timeoutMinutes}`,
    ],
    [
      !isNum(inputs.pollIntervalSeconds, 0, 600),
      "pollIntervalSeconds",
      `expected a number of seconds above 0 and at most 600, got ${inputs.pollIntervalSeconds}`,
    ],
  ];
  if (b !== undefined) {
    rules.push(
      [!b.project, "reenableBackups.project", "expected the GCP project of the destination instance"],
      [!b.instance, "reenableBackups.instance", "expected the destination Cloud SQL instance name"],
      [
        !HH_MM.test(String(b.startTime)),
        "reenableBackups.startTime",
        `expected HH:MM (UTC), got ${b.startTime}`,
      ],
      [
        !isInt(b.logRetentionDays, LOG_RETENTION_ANY_EDITION.min, LOG_RETENTION_ANY_EDITION.max),
        "reenableBackups.logRetentionDays",
        `expected ${describeLogRetention()} days, got ${b.logRetentionDays}`,
      ],
      [
        !isInt(b.retainedBackups, 1, 365) || !(b.retainedBackups > b.logRetentionDays),
        "reenableBackups.retainedBackups",
        `expected an integer up to 365 and greater than logRetentionDays (${b.logRetentionDays}), got ${b.retainedBackups}; Cloud SQL answers 400 otherwise`,
      ],
    );
  }
  return rules.filter(([bad]) => bad).map(([, property, reason]) => ({ property, reason }));
}

/**
 * What to do given the job as DMS reports it. Promotion is only safe once writes on the source have stopped
 * and replication has caught up, which DMS signals with phase READY_FOR_PROMOTE.
 */
export function decideOnJob(
  job: MigrationJobStatus,
  jobName: string,
  allowPromoteFromCdc: boolean,
): JobDecision {
  const state = job.state ?? "STATE_UNSPECIFIED";
  const phase = job.phase ?? "PHASE_UNSPECIFIED";
  if (state === "COMPLETED") return { action: "done" };
  if (phase === "PROMOTE_IN_PROGRESS") return { action: "wait" };
  if (state === "RUNNING" && (phase === "READY_FOR_PROMOTE" || (phase === "CDC" && allowPromoteFromCdc))) {
    return { action: "promote" };
  }
  let hint =
    "The job is not replicating: start or resume it (phase replicate), then stop writes on the source (phase freeze) and wait for READY_FOR_PROMOTE.";
  if (state === "FAILED") {
    const why = job.error?.message ? ` (${job.error.message})` : "";
    hint = `The job failed${why} and cannot be promoted: fix the cause and retry with a new attempt number.`;
  } else if (state === "RUNNING" && phase === "CDC") {
    hint =
      "Replication is still running: stop writes on the source (phase freeze), wait until the replication delay is 0 and DMS reports READY_FOR_PROMOTE, then run pulumi up again (or set allowPromoteFromCdc after checking the delay yourself).";
  } else if (state === "RUNNING") {
    hint =
      "The initial dump is not finished: wait for CDC, stop writes on the source (phase freeze) and wait for READY_FOR_PROMOTE.";
  }
  return {
    action: "refuse",
    message: `DMS migration job ${jobName} is not ready to promote (state ${state}, phase ${phase}). ${hint}`,
  };
}

/**
 * Promotes the job (or notices it is already promoted), waits for the long-running operation, then turns
 * automated backups and PITR back on. Idempotent, so a re-run after a failure or timeout is always safe.
 */
export async function promoteMigrationJob(inputs: PromotionInputs): Promise<PromotionResult> {
  const problems = validatePromotionInputs(inputs);
  if (problems.length > 0) {
    const lines = problems.map((p) => `  - ${p.property}: ${p.reason}`).join("\n");
    throw new Error(`DMS promotion inputs are invalid:\n${lines}`);
  }
  const timeoutMs = inputs.timeoutMinutes * 60_000;
  const ctx: CallContext = {
    what: `DMS promotion of ${inputs.migrationJob}`,
    token: inputs.accessToken,
    deadline: Date.now() + timeoutMs,
    timeoutMs,
    pollMs: inputs.pollIntervalSeconds * 1000,
  };
  const jobUrl = `${trimSlash(inputs.endpoint)}/v1/${inputs.migrationJob}`;
  const job = (await callApi(ctx, "GET", jobUrl)) as MigrationJobStatus;
  const decision = decideOnJob(job, inputs.migrationJob, inputs.allowPromoteFromCdc);
  let final = job;
  switch (decision.action) {
    case "refuse":
      throw new Error(decision.message);
    case "done":
      break;
    case "promote": {
      let op = await callApi(ctx, "POST", `${jobUrl}:promote`, {});
      while (op.done !== true) {
        await pause(ctx, `the promote operation ${String(op.name)} to finish`);
        op = await callApi(ctx, "GET", `${trimSlash(inputs.endpoint)}/v1/${operationName(ctx, op)}`);
      }
      const err = op.error as MigrationJobStatus["error"];
      if (err)
        throw new Error(`${ctx.what} failed: operation ${String(op.name)} ended with ${describe(err)}.`);
      final = await waitForCompleted(ctx, jobUrl);
      break;
    }
    case "wait":
      final = await waitForCompleted(ctx, jobUrl);
      break;
  }
  // Also after an earlier promotion: a run that failed here must be able to finish the job on retry.
  if (inputs.reenableBackups) await reenableBackups(ctx, inputs.sqladminEndpoint, inputs.reenableBackups);
  const alreadyPromoted = decision.action === "done";
  return {
    promotedAt: alreadyPromoted && job.endTime ? job.endTime : new Date().toISOString(),
    jobState: final.state ?? "STATE_UNSPECIFIED",
    alreadyPromoted,
    backupsReenabled: inputs.reenableBackups !== undefined,
  };
}

interface CallContext {
  readonly what: string;
  readonly token: string;
  readonly deadline: number;
  readonly timeoutMs: number;
  readonly pollMs: number;
}

type ApiAnswer = Record<string, unknown>;

async function waitForCompleted(ctx: CallContext, jobUrl: string): Promise<MigrationJobStatus> {
  for (;;) {
    const job = (await callApi(ctx, "GET", jobUrl)) as MigrationJobStatus;
    if (job.state === "COMPLETED") return job;
    if (job.state === "FAILED") {
      const why = job.error ? describe(job.error) : "no error detail";
      throw new Error(`${ctx.what} failed: the job went to FAILED while promoting (${why}).`);
    }
    await pause(ctx, `the job to reach COMPLETED (it is ${job.state}/${job.phase})`);
  }
}

async function reenableBackups(ctx: CallContext, endpoint: string, b: BackupSettings): Promise<void> {
  const base = `${trimSlash(endpoint)}/v1/projects/${encodeURIComponent(b.project)}`;
  const sqlCtx = {
    ...ctx,
    what: `Re-enabling backups and PITR on Cloud SQL instance ${b.project}/${b.instance}`,
  };
  const backupConfiguration = {
    enabled: true,
    pointInTimeRecoveryEnabled: true,
    startTime: b.startTime,
    transactionLogRetentionDays: b.logRetentionDays,
    backupRetentionSettings: { retentionUnit: "COUNT", retainedBackups: b.retainedBackups },
  };
  const instanceUrl = `${base}/instances/${encodeURIComponent(b.instance)}`;
  let op = await callApi(sqlCtx, "PATCH", instanceUrl, { settings: { backupConfiguration } });
  while (op.status !== "DONE") {
    await pause(sqlCtx, `Cloud SQL operation ${String(op.name)} to finish`);
    op = await callApi(sqlCtx, "GET", `${base}/operations/${encodeURIComponent(operationName(sqlCtx, op))}`);
  }
  const errors = (op.error as { errors?: { code?: string; message?: string }[] } | undefined)?.errors ?? [];
  if (errors.length > 0) {
    const text = errors.map((e) => `${e.code ?? "ERROR"}: ${e.message ?? "no message"}`).join("; ");
    throw new Error(`${sqlCtx.what} failed: operation ${String(op.name)} ended with ${text}.`);
  }
}

const HTTP_HINTS: Record<number, string> = {
  401: "The access token is missing or expired: refresh your credentials and run pulumi up again.",
  403: "The identity running Pulumi lacks a permission: it needs roles/datamigration.admin (and roles/cloudsql.admin to re-enable backups).",
  404: "Check the name: it does not exist in that project and region.",
  409: "Another operation is running on this resource: wait for it to finish and run pulumi up again.",
};

/** One API call with the bearer token; errors name the call and Google's message, never the headers. */
async function callApi(ctx: CallContext, method: string, url: string, body?: object): Promise<ApiAnswer> {
  const remaining = ctx.deadline - Date.now();
  if (remaining <= 0) throw timeoutError(ctx, `an answer to ${method} ${url}`);
  let status: number;
  let text: string;
  try {
    const res = await fetch(url, {
      method,
      headers: { authorization: `Bearer ${ctx.token}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(remaining),
    });
    status = res.status;
    text = await res.text();
  } catch (err) {
    const name = (err as Error).name;
    if (name === "TimeoutError" || name === "AbortError")
      throw timeoutError(ctx, `an answer to ${method} ${url}`);
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const reason = cause?.code ?? cause?.message ?? (err as Error).message;
    throw scrubbed(
      ctx,
      `${ctx.what} failed: could not reach ${method} ${url} (${reason}). Check the endpoint.`,
    );
  }
  let parsed: unknown;
  try {
    parsed = text === "" ? {} : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (status < 200 || status > 299) {
    const g = (parsed as { error?: { code?: number; message?: string; status?: string } } | undefined)?.error;
    const detail = g?.message
      ? `${g.status ?? g.code ?? "error"}: ${g.message}`
      : text.slice(0, 200) || "empty body";
    const hint = HTTP_HINTS[status] ?? "See Google's message above.";
    throw scrubbed(ctx, `${ctx.what} failed: ${method} ${url} answered HTTP ${status} (${detail}). ${hint}`);
  }
  if (parsed === null || typeof parsed !== "object") {
    throw scrubbed(
      ctx,
      `${ctx.what} failed: ${method} ${url} answered HTTP ${status} with a body that is not JSON.`,
    );
  }
  return parsed as ApiAnswer;
}

function operationName(ctx: CallContext, op: ApiAnswer): string {
  if (typeof op.name === "string" && op.name !== "") return op.name;
  throw new Error(
    `${ctx.what} failed: the API answered an operation without a name, so it cannot be followed.`,
  );
}

/** Waits one poll interval, never past the deadline. */
async function pause(ctx: CallContext, waitingFor: string): Promise<void> {
  const remaining = ctx.deadline - Date.now();
  if (remaining <= 0) throw timeoutError(ctx, waitingFor);
  await new Promise((resolve) => setTimeout(resolve, Math.min(ctx.pollMs, remaining)));
  // A sleep cut short by the deadline has reached it, even when the timer fires a millisecond early:
  // polling once more could only time out on the request instead, naming the wrong thing.
  if (remaining <= ctx.pollMs || Date.now() >= ctx.deadline) throw timeoutError(ctx, waitingFor);
}

function timeoutError(ctx: CallContext, waitingFor: string): Error {
  const seconds = Math.round(ctx.timeoutMs / 100) / 10;
  return new Error(
    `${ctx.what} timed out after ${seconds} s waiting for ${waitingFor}. ` +
      "The operation may still be running: run pulumi up again (a re-run waits for a promotion in progress " +
      "instead of starting another, and re-applies the backup settings) or raise timeoutMinutes.",
  );
}

/** Last line of defence: an API echoing the token must not put it in an error (and so in Pulumi's log). */
function scrubbed(ctx: CallContext, message: string): Error {
  return new Error(message.split(ctx.token).join("***"));
}

function describe(err: { code?: number; message?: string }): string {
  return `${err.message ?? "no message"} (code ${err.code ?? "unknown"})`;
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, "");
}

function isHttpUrl(value: unknown): boolean {
  return typeof value === "string" && /^https?:\/\/[^\s/]+/.test(value);
}

function isNum(value: unknown, above: number, atMost: number): boolean {
  return typeof value === "number" && Number.isFinite(value) && value > above && value <= atMost;
}

function isInt(value: unknown, min: number, max: number): boolean {
  return typeof value === "number" && Number.isInteger(value) && value >= min && value <= max;
}
