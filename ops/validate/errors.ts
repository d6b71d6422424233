/**
 * Errors an operator sees. Every message names the side (with its masked address), what was being done,
 * and a hint; none carries a credential.
 */
import { UsageError } from "../lib/errors";
import { maskText } from "../lib/mask";

/** Validation could not run as asked (exit 2): the message is masked when it is made. */
export class ValidateError extends UsageError {
  constructor(message: string, hint?: string, cause?: unknown) {
    super(maskText(message), hint);
    this.name = "ValidateError";
    // The driver's error, kept so a lost connection can be told from a wrong statement (never printed).
    if (cause !== undefined) Object.defineProperty(this, "cause", { value: cause, enumerable: false });
  }
}

/** Why a connection or query failed, in words, from a driver error. */
export function describeFailure(error: unknown): { reason: string; hint: string } {
  const e = error as { code?: string; message?: string };
  const message = maskText(e?.message ?? String(error));
  const code = e?.code ?? "";
  if (code === "ECONNREFUSED")
    return { reason: "connection refused", hint: "is the server running and the port right?" };
  if (code === "ENOTFOUND" || code === "EAI_AGAIN")
    return { reason: "host not found", hint: "check the host name in the connection string" };
  if (code === "28P01" || /password authentication failed/i.test(message))
    return {
      reason: "password authentication failed",
      hint: "check the user and password (value not shown)",
    };
  if (code === "3D000") return { reason: message, hint: "check the database name in the connection string" };
  if (code === "57014" || /statement timeout/i.test(message))
    return { reason: "statement timed out", hint: "raise --statement-timeout or lower --segment-rows" };
  // pg's own bound on our side: the server took the statement and went silent.
  if (/query read timeout/i.test(message))
    return {
      reason: "no reply to a statement within --statement-timeout (the server went silent)",
      hint: "check the server (frozen, overloaded, failing over), or raise --statement-timeout",
    };
  if (/timeout/i.test(message))
    return { reason: `timed out (${message})`, hint: "check network access, or raise --connect-timeout" };
  if (
    code === "ECONNRESET" ||
    code === "57P01" ||
    /terminated|Connection terminated|ended unexpectedly|not queryable|EPIPE/i.test(message)
  )
    return {
      reason: `connection lost (${message})`,
      hint: "the server went away mid-run (restart, failover or crash): rerun when it is back",
    };
  return { reason: message, hint: "see the message above" };
}
