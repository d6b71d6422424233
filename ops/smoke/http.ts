/** One GET with a hard per-request timeout (the whole answer, body included). */
import { withTimeout } from "../lib/verdict";
import type { HttpAnswer } from "./status";

export interface RequestAuth {
  /** Header carrying the token; `authorization` sends `Bearer <token>`. */
  readonly header: string;
  readonly token: string;
}

export function joinUrl(base: string, path: string): string {
  return base.replace(/\/+$/, "") + (path.startsWith("/") ? path : `/${path}`);
}

export async function request(
  url: string,
  method: string,
  timeoutMs: number,
  auth?: RequestAuth,
): Promise<HttpAnswer> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (auth)
    headers[auth.header] =
      auth.header.toLowerCase() === "authorization" ? `Bearer ${auth.token}` : auth.token;
  const started = Date.now();
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const response = await fetch(url, { method, headers, signal, redirect: "manual" });
    const body = await response.text();
    return { status: response.status, body, elapsedMs: Date.now() - started };
  } catch (error) {
    // fetch reports its own timeout as an AbortSignal "TimeoutError"; give it the shared code.
    if ((error as Error)?.name === "TimeoutError")
      throw Object.assign(new Error("timed out"), { code: "TIMEOUT" });
    throw error;
  }
}

/** Same as {@link request}, with an outer bound in case the runtime ignores the signal. */
export function boundedRequest(
  url: string,
  method: string,
  timeoutMs: number,
  auth?: RequestAuth,
): Promise<HttpAnswer> {
  return withTimeout(request(url, method, timeoutMs, auth), timeoutMs + 500);
}
