/**
 * The Cloudflare API client of every command, bounded, and its failures in words. The SDK's own
 * messages (`Connection error.`, `Request timed out.`) say neither what was unreachable nor what to do.
 */
import Cloudflare, {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  AuthenticationError,
  NotFoundError,
  PermissionDeniedError,
} from "cloudflare";
import { UsageError } from "./errors";

/** Seconds one API request may take (each of the SDK's attempts). */
export const REQUEST_TIMEOUT_S = 30;
/** Attempts after the first, for connection errors, 408, 409, 429 and 5xx (the SDK's rule). */
export const RETRIES = 2;

let configuredTimeoutS = REQUEST_TIMEOUT_S;

/** A client with a bounded request time (the SDK's default is a minute, three times over). */
export function cloudflareClient(apiToken: string, timeoutS = REQUEST_TIMEOUT_S): Cloudflare {
  configuredTimeoutS = timeoutS;
  return new Cloudflare({ apiToken, timeout: timeoutS * 1000, maxRetries: RETRIES });
}

/** Where requests go: `CLOUDFLARE_BASE_URL` when set (the SDK reads it too), else Cloudflare's API. */
export function apiHost(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.CLOUDFLARE_BASE_URL;
  try {
    return base ? new URL(base).host : "api.cloudflare.com";
  } catch {
    return base ?? "api.cloudflare.com";
  }
}

function rootCause(error: unknown): string {
  let e = error as { cause?: unknown; code?: string; message?: string } | undefined;
  while (e?.cause) e = e.cause as typeof e;
  return e?.code ?? e?.message ?? String(error);
}

/**
 * A Cloudflare SDK error as a usage error (exit 2) that names the API host, what went wrong and what to
 * do; undefined for anything else. The token is never part of an SDK message.
 */
export function describeCloudflareError(error: unknown): UsageError | undefined {
  const host = apiHost();
  const api = `the Cloudflare API (${host})`;
  if (error instanceof APIConnectionTimeoutError)
    return new UsageError(
      `no answer from ${api} within ${configuredTimeoutS} s (${RETRIES + 1} attempts)`,
      `check network access to ${host} (proxy, firewall); --request-timeout sets the bound`,
    );
  if (error instanceof APIConnectionError)
    return new UsageError(
      `cannot reach ${api}: ${rootCause(error)} (${RETRIES + 1} attempts)`,
      `check network access and DNS for ${host}, then run the command again`,
    );
  if (error instanceof AuthenticationError || error instanceof PermissionDeniedError)
    return new UsageError(
      `${api} refused the token (HTTP ${error.status}): ${error.message}`,
      "check that CLOUDFLARE_API_TOKEN is current and has the permissions this command needs (the value is never printed)",
    );
  if (error instanceof NotFoundError)
    return new UsageError(
      `${api} found no such object (HTTP 404): ${error.message}`,
      "check the account id and the resource names of the stack (cloudflare.accountId, d1, kvNamespace)",
    );
  if (error instanceof APIError && error.status !== undefined)
    return new UsageError(
      `${api} answered HTTP ${error.status}: ${error.message}`,
      error.status >= 500 ? "Cloudflare's side failed: try again in a few minutes" : "see the message above",
    );
  return undefined;
}
