/**
 * The capture Worker from the operator's side: one scheduled run on this machine (`wrangler dev
 * --test-scheduled` on local D1 and KV, the PostgreSQL URLs handed to its Hyperdrive bindings), or its
 * last summary read from the account's KV.
 */
import * as path from "node:path";
import type { DualWriteMigration } from "../../infra/config/schema";
import { planDualWrite } from "../../infra/engine/dual-write";
import { cloudflareClient } from "../lib/cloudflare";
import { readKvValue } from "../lib/cloudflare-kv";
import { runScheduledLocally } from "../compare/local-run";
import { namespaceIdByTitle, readLocalKvValue } from "../compare/results";
import { captureWranglerConfig } from "./worker-config";
import { CAPTURE_CRON, captureSummaryKey, type CaptureSummary, type CaptureWorkerSpec } from "./worker-spec";

/** The rule the Worker applies in the migration's phase: the after-cut rule from the final cut on. */
export const afterCutOf = (migration: string, spec: DualWriteMigration): boolean =>
  planDualWrite(migration, spec).capture.state === "drain";

export async function runCaptureWorkerLocally(opts: {
  readonly stack: string;
  readonly migration: string;
  readonly spec: DualWriteMigration;
  readonly persistTo: string;
  readonly legacyUrl: string;
  readonly targetUrl?: string;
  readonly budgetSeconds: number;
}): Promise<{ summary: CaptureSummary | null; elapsedMs: number }> {
  const configDir = path.resolve(".cutover", "capture", "local");
  const config = captureWranglerConfig(
    opts.stack,
    opts.migration,
    opts.spec,
    configDir,
    afterCutOf(opts.migration, opts.spec),
  );
  // The run's length is the operator's here; deployed, it is the spec's (under the cron's minute).
  const vars = config.vars as { CAPTURE_SPEC: string };
  const captureSpec = JSON.parse(vars.CAPTURE_SPEC) as CaptureWorkerSpec;
  vars.CAPTURE_SPEC = JSON.stringify({ ...captureSpec, budgetSeconds: opts.budgetSeconds });
  const { elapsedMs } = await runScheduledLocally({
    config,
    configDir,
    persistTo: opts.persistTo,
    legacyUrl: opts.legacyUrl,
    ...(opts.targetUrl ? { targetUrl: opts.targetUrl } : {}),
    cron: CAPTURE_CRON,
    timeoutMs: opts.budgetSeconds * 1000 + 120_000,
    what: "the capture Worker",
  });
  const text = await readLocalKvValue(captureSummaryKey(opts.migration), opts.persistTo);
  return { summary: text === null ? null : (JSON.parse(text) as CaptureSummary), elapsedMs };
}

/** The last summary the deployed Worker wrote to the flags namespace of the account. */
export async function readRemoteCaptureSummary(
  migration: string,
  spec: DualWriteMigration,
  token: string,
  timeoutS?: number,
): Promise<CaptureSummary | null> {
  const client = await cloudflareClient(token, timeoutS);
  const accountId = spec.cloudflare.accountId;
  const namespaceId = await namespaceIdByTitle(client, accountId, spec.cloudflare.kvNamespace);
  const text = await readKvValue(client, accountId, namespaceId, captureSummaryKey(migration));
  return text === null ? null : (JSON.parse(text) as CaptureSummary);
}
