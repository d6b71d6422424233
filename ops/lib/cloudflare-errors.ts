/**
 * A Cloudflare SDK failure in words. The SDK's own messages (`Connection error.`, `Request timed out.`)
 * say neither what was unreachable nor what to do.
 */
import {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  AuthenticationError,
  NotFoundError,
  PermissionDeniedError,
} from "cloudflare";
import { apiHost, requestTimeoutS, RETRIES } from "./cloudflare";
import { UsageError } from "./errors";

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
      `no answer from ${api} within ${requestTimeoutS()} s (${RETRIES + 1} attempts)`,
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
