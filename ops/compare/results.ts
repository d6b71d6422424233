/**
 * The comparison Worker's summary: read from KV (local state through wrangler's platform proxy, remote
 * through Cloudflare's API), judged, and printed.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type Cloudflare from "cloudflare";
import { summaryAgeMinutes, summaryKey, type CompareSummary } from "./spec";
import { UsageError } from "../lib/errors";
import { findNamespaceId, readKvValue } from "../lib/cloudflare-kv";
import { LOCAL_KV_ID } from "./config";

interface Kv {
  get(key: string): Promise<string | null>;
}

/** One value of the local KV namespace the cutover Workers write (the state of `--persist-to`), or null. */
export async function readLocalKvValue(key: string, persistTo: string): Promise<string | null> {
  process.env.CLOUDFLARE_CF_FETCH_ENABLED ??= "false";
  process.env.WRANGLER_LOG ??= "warn";
  const dir = path.resolve(".cutover", "compare", "kv");
  fs.mkdirSync(dir, { recursive: true });
  const configPath = path.join(dir, "wrangler.json");
  fs.writeFileSync(
    configPath,
    JSON.stringify({
      name: "cutover-compare-kv",
      compatibility_date: "2025-09-15",
      kv_namespaces: [{ binding: "RESULTS", id: LOCAL_KV_ID }],
    }),
  );
  fs.writeFileSync(path.join(dir, ".dev.vars"), "");
  const { getPlatformProxy } = await import("wrangler");
  const proxy = await getPlatformProxy<{ RESULTS: Kv }>({
    configPath,
    persist: { path: path.join(path.resolve(persistTo), "v3") },
    remoteBindings: false,
  });
  try {
    return await proxy.env.RESULTS.get(key);
  } finally {
    await proxy.dispose();
  }
}

/** The last summary in local KV (the state of `wrangler dev --persist-to`), or null. */
export async function readLocalSummary(migration: string, persistTo: string): Promise<CompareSummary | null> {
  const text = await readLocalKvValue(summaryKey(migration), persistTo);
  return text === null ? null : (JSON.parse(text) as CompareSummary);
}

/** The id of the KV namespace titled `title` in the account. */
export async function namespaceIdByTitle(
  client: Cloudflare,
  accountId: string,
  title: string,
): Promise<string> {
  const id = await findNamespaceId(client, accountId, title);
  if (id !== undefined) return id;
  throw new UsageError(
    `KV namespace "${title}" not found in account ${accountId}; hint: it is created by pulumi up at shadow`,
  );
}

/** The last summary in the account's KV namespace, or null. */
export async function readRemoteSummary(
  client: Cloudflare,
  accountId: string,
  namespaceId: string,
  migration: string,
): Promise<CompareSummary | null> {
  const text = await readKvValue(client, accountId, namespaceId, summaryKey(migration));
  return text === null ? null : (JSON.parse(text) as CompareSummary);
}

/** Why the summary is not passing evidence (undefined when it is). */
export function summaryProblem(
  summary: CompareSummary | null,
  migration: string,
  maxAgeMinutes: number,
  now: Date,
): string | undefined {
  if (summary === null)
    return "the comparison Worker has written no summary yet; hint: deploy it (cutover check compare config, npx wrangler deploy) and wait for its cron";
  if (summary.migration !== migration)
    return `the summary is of migration ${summary.migration}, not ${migration}`;
  const age = summaryAgeMinutes(summary, now);
  if (age > maxAgeMinutes)
    return `the last run was ${Math.floor(age)} min ago (more than compare.maxAgeMinutes ${maxAgeMinutes}): is the cron still running?`;
  const failed = summary.tables.filter((t) => t.error !== undefined);
  if (failed.length > 0) return `not compared: ${failed.map((t) => `${t.table} (${t.error})`).join("; ")}`;
  if (summary.sampled === 0) return "the last run sampled no key (are the legacy tables empty?)";
  if (summary.differing > 0) return `${summary.differing} of ${summary.sampled} sampled keys differ`;
  return undefined;
}

/** The summary as text: one line for the run, one per table with the differing keys. */
export function renderSummary(s: CompareSummary): string {
  const lines = [
    `comparison of ${s.stack}/${s.migration} at ${s.at} (cron "${s.cron}", ${(s.durationMs / 1000).toFixed(1)} s): ${s.sampled} sampled, ${s.equal} equal, ${s.differing} differing${s.identical ? "" : " — NOT identical"}`,
  ];
  for (const t of s.tables) {
    const keys = [
      ...(t.missing.length ? [`missing ${t.missing.join(", ")}`] : []),
      ...(t.changed.length ? [`changed ${t.changed.join(", ")}`] : []),
    ];
    lines.push(
      `  ${t.table.padEnd(16)} ${t.store.padEnd(9)} ${String(t.sampled).padStart(5)} sampled ${String(t.equal).padStart(5)} equal${
        t.error ? `  ERROR ${t.error}` : keys.length ? `  ${keys.join("; ")}` : ""
      }`,
    );
  }
  return lines.join("\n") + "\n";
}
