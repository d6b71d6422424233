/**
 * The switch on Google Cloud, run by the CutoverSwitch dynamic provider inside `pulumi up` with the
 * deployer's token: Cloud Run Jobs run through the Cloud Run Admin API v2 and waited for, DMS's promote
 * through `promoteMigrationJob`, and the candidate smoked on its tag URL. Imports only modules that are
 * themselves self-contained (`./switch`, `../dms/promote`): Pulumi's closure serializer carries them
 * into the engine's process.
 */
import { promoteMigrationJob, type PromotionInputs } from "../dms/promote";
import { runSwitch, type SwitchResult, type SwitchTerm } from "./switch";

export interface CloudSwitchInputs {
  readonly project: string;
  readonly region: string;
  /** The Cloud Run service whose candidate tag the smoke reaches. */
  readonly service: string;
  /** Runs in the VPC: freezes the source, waits for the marker, validates (and stops logical replication). */
  readonly freezeJob: string;
  /** Runs in the VPC: gives writes back to the source (run when a term fails or overruns). */
  readonly thawJob: string;
  /** Gives the validation's reader SELECT on what DMS owns: run before the freeze (outside the window). */
  readonly readerJob?: string;
  /** The post-promotion steps and the app's schema command. */
  readonly migrateJob: string;
  /** The DMS promotion (path dms); absent on the logical path (the freeze job's stop is the promotion). */
  readonly promotion?: Omit<PromotionInputs, "accessToken">;
  readonly deadlineSeconds: number;
  /** Cloud Run Admin API. @default "https://run.googleapis.com" */
  readonly runEndpoint: string;
  readonly pollIntervalSeconds: number;
  /** The candidate's status route and the write probe the smoke checks. */
  readonly smoke: {
    readonly statusPath: string;
    readonly writeProbePath: string;
    /** Header the admin token goes in (`authorization` sends `Bearer <token>`). */
    readonly tokenHeader: string;
    readonly timeoutSeconds: number;
  };
}

export interface CloudSwitchSecrets {
  readonly accessToken: string;
  /** The app's admin token for its status route (never stored, never printed). */
  readonly smokeToken?: string;
}

/** A call to Google that did not succeed, with what was asked (never the token). */
export class GoogleCallError extends Error {
  override name = "GoogleCallError";
}

async function call(
  method: string,
  url: string,
  token: string,
  body?: unknown,
): Promise<Record<string, unknown>> {
  const res = await fetch(url, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  if (!res.ok)
    throw new GoogleCallError(
      `${method} ${new URL(url).pathname} answered ${res.status}: ${text.slice(0, 300)}`,
    );
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

const sleep = (s: number) => new Promise((r) => setTimeout(r, s * 1000));

/** Runs one execution of a Cloud Run Job and waits for it; throws with the execution's error. */
export async function runJobExecution(
  i: Pick<CloudSwitchInputs, "project" | "region" | "runEndpoint" | "pollIntervalSeconds">,
  job: string,
  token: string,
  signal?: AbortSignal,
): Promise<string> {
  const name = `projects/${i.project}/locations/${i.region}/jobs/${job}`;
  let op = await call("POST", `${i.runEndpoint}/v2/${name}:run`, token, {});
  const opName = op.name;
  if (typeof opName !== "string") throw new GoogleCallError(`running job ${job} returned no operation`);
  while (op.done !== true) {
    if (signal?.aborted) throw new GoogleCallError(`job ${job} did not finish in time`);
    await sleep(i.pollIntervalSeconds);
    op = await call("GET", `${i.runEndpoint}/v2/${opName}`, token);
  }
  const error = op.error as { message?: string } | undefined;
  const execution = (op.response ?? {}) as { name?: string; failedCount?: number; succeededCount?: number };
  if (error || (execution.failedCount ?? 0) > 0)
    throw new GoogleCallError(
      `job ${job} failed${error?.message ? `: ${error.message}` : ""} (gcloud run jobs executions describe ${execution.name?.split("/").pop() ?? "<execution>"} --region ${i.region} shows its log)`,
    );
  return `execution ${execution.name?.split("/").pop() ?? "done"}`;
}

/** The candidate's own URL: the service's traffic status tagged `candidate`. */
export async function candidateUrl(
  i: Pick<CloudSwitchInputs, "project" | "region" | "runEndpoint" | "service">,
  token: string,
): Promise<string> {
  const svc = await call(
    "GET",
    `${i.runEndpoint}/v2/projects/${i.project}/locations/${i.region}/services/${i.service}`,
    token,
  );
  const tagged = ((svc.trafficStatuses ?? []) as { tag?: string; uri?: string }[]).find(
    (t) => t.tag === "candidate" && t.uri,
  );
  if (!tagged?.uri)
    throw new GoogleCallError(
      `service ${i.service} has no candidate tag URL: the candidate is deployed at replicate on the switch route; apply replicate first`,
    );
  return tagged.uri;
}

/**
 * The candidate's smoke: its status route answers (with the token) and a write probe is accepted. The
 * minimum of `cutover check smoke`'s checks, written here because this travels into the engine's process with
 * the provider (ops/smoke/run.ts brings the checklist, the CLI's errors and their imports along).
 */
export async function smokeCandidate(
  url: string,
  s: CloudSwitchInputs["smoke"],
  token?: string,
): Promise<string> {
  const headers: Record<string, string> = {};
  if (token)
    headers[s.tokenHeader] = s.tokenHeader.toLowerCase() === "authorization" ? `Bearer ${token}` : token;
  const get = await fetch(new URL(s.statusPath, url), {
    headers,
    signal: AbortSignal.timeout(s.timeoutSeconds * 1000),
  });
  if (get.status !== 200) throw new Error(`GET ${s.statusPath} on the candidate answered ${get.status}`);
  const probe = await fetch(new URL(s.writeProbePath, url), {
    method: "POST",
    headers,
    signal: AbortSignal.timeout(s.timeoutSeconds * 1000),
  });
  if (probe.status < 200 || probe.status > 299)
    throw new Error(`POST ${s.writeProbePath} on the candidate answered ${probe.status}: it cannot write`);
  return `${s.statusPath} 200, write probe ${probe.status}`;
}

/**
 * The whole switch: the reader's grant (before the freeze), then the freeze job, DMS's promote, the
 * migrate job and the smoke against one deadline; a term that fails or overruns runs the thaw job.
 */
export async function switchOnCloud(
  i: CloudSwitchInputs,
  secrets: CloudSwitchSecrets,
  log: (line: string) => void = () => undefined,
): Promise<SwitchResult> {
  const token = secrets.accessToken;
  if (i.readerJob) await runJobExecution(i, i.readerJob, token);
  const terms: SwitchTerm[] = [];
  const promotion = i.promotion;
  if (promotion)
    terms.push({
      name: "promotion",
      run: async () => {
        const r = await promoteMigrationJob({ ...promotion, accessToken: token });
        return `DMS job ${r.jobState}${r.alreadyPromoted ? " (already promoted)" : ""}`;
      },
    });
  terms.push(
    {
      name: "post-promotion steps and schema command",
      run: (s) => runJobExecution(i, i.migrateJob, token, s),
    },
    {
      name: "candidate smoke",
      run: async () => smokeCandidate(await candidateUrl(i, token), i.smoke, secrets.smokeToken),
    },
  );
  return runSwitch({
    deadlineSeconds: i.deadlineSeconds,
    freeze: (s) => runJobExecution(i, i.freezeJob, token, s),
    terms,
    thaw: async () => {
      await runJobExecution(i, i.thawJob, token);
    },
    log,
  });
}
