/**
 * The Cloudflare API client of every command, bounded. The SDK (about a thousand modules) loads when a
 * client is made, not with the commands that may make one: their `--help` stays fast. Its failures in
 * words: cloudflare-errors.ts.
 */
import type Cloudflare from "cloudflare";

/** Seconds one API request may take (each of the SDK's attempts). */
export const REQUEST_TIMEOUT_S = 30;
/** Attempts after the first, for connection errors, 408, 409, 429 and 5xx (the SDK's rule). */
export const RETRIES = 2;

let configuredTimeoutS = REQUEST_TIMEOUT_S;

/** A client with a bounded request time (the SDK's default is a minute, three times over). */
export async function cloudflareClient(apiToken: string, timeoutS = REQUEST_TIMEOUT_S): Promise<Cloudflare> {
  const { Cloudflare: Client } = await import("./cloudflare-sdk");
  configuredTimeoutS = timeoutS;
  return new Client({ apiToken, timeout: timeoutS * 1000, maxRetries: RETRIES });
}

/** The bound of one request of the last client made, for the messages. */
export const requestTimeoutS = (): number => configuredTimeoutS;

/** Where requests go: `CLOUDFLARE_BASE_URL` when set (the SDK reads it too), else Cloudflare's API. */
export function apiHost(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.CLOUDFLARE_BASE_URL;
  try {
    return base ? new URL(base).host : "api.cloudflare.com";
  } catch {
    return base ?? "api.cloudflare.com";
  }
}
