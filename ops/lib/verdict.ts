/**
 * The result model every operator script shares: one verdict per check, printed one line each for a
 * terminal or as one JSON document for CI, and an exit code that is 0 only when every required check
 * passed. All text goes through the masker, so no secret reaches stdout.
 */
import { maskText } from "./mask";

export type Status = "OK" | "WARN" | "FAIL" | "SKIP";

export interface CheckResult {
  /** What was checked, e.g. `DB connectivity`. */
  readonly name: string;
  readonly status: Status;
  /** Reason or figure, e.g. `connection refused by 127.0.0.1:5432`. */
  readonly detail?: string;
  /** Objects the verdict is about (tables, databases…), named in full in `--json`. */
  readonly objects?: readonly string[];
  /** A FAIL of an optional check is reported but does not fail the run. @default true */
  readonly required?: boolean;
  /** The FAIL is a network error or no answer: the service gave no evidence either way. */
  readonly unreachable?: boolean;
}

/** How many objects a terminal line names before summarizing the rest. */
const OBJECTS_ON_A_LINE = 10;

export function ok(name: string, detail?: string, objects?: readonly string[]): CheckResult {
  return { name, status: "OK", detail, objects };
}
export function warn(name: string, detail: string, objects?: readonly string[]): CheckResult {
  return { name, status: "WARN", detail, objects };
}
export function fail(name: string, detail: string, objects?: readonly string[]): CheckResult {
  return { name, status: "FAIL", detail, objects };
}
/** A FAIL where the thing checked could not be reached at all: no evidence either way. */
export function unreachable(name: string, detail: string): CheckResult {
  return { name, status: "FAIL", detail, unreachable: true };
}
export function skip(name: string, detail: string): CheckResult {
  return { name, status: "SKIP", detail };
}

function namedObjects(objects: readonly string[]): string {
  const shown = objects.slice(0, OBJECTS_ON_A_LINE).join(", ");
  const rest = objects.length - OBJECTS_ON_A_LINE;
  return rest > 0 ? `${shown} … and ${rest} more (see --json)` : shown;
}

/** `DB connectivity: OK`, `DB connectivity: FAIL: <reason>`, `Redis connectivity: SKIP (REDIS_URL is not set)`. */
export function formatLine(result: CheckResult): string {
  let line = `${result.name}: ${result.status}`;
  const objects = result.objects?.length ? namedObjects(result.objects) : "";
  const detail = [result.detail, objects].filter(Boolean).join(": ");
  if (detail) line += result.status === "OK" || result.status === "SKIP" ? ` (${detail})` : `: ${detail}`;
  if (result.required === false && result.status === "FAIL") line += " [optional]";
  return line;
}

export function passed(results: readonly CheckResult[]): boolean {
  return results.every((r) => r.status !== "FAIL" || r.required === false);
}

export function exitCodeOf(results: readonly CheckResult[]): number {
  return passed(results) ? 0 : 1;
}

/** The whole report as text: one line per check, masked. */
export function renderText(results: readonly CheckResult[], secrets: readonly string[] = []): string {
  return results.map((r) => maskText(formatLine(r), secrets)).join("\n") + "\n";
}

/** The whole report as JSON for CI, masked like the text. */
export function renderJson(
  command: string,
  results: readonly CheckResult[],
  secrets: readonly string[] = [],
): string {
  const report = {
    command,
    // `passed` is every check command's verdict key; `ok` is its older name, kept for one release.
    passed: passed(results),
    ok: passed(results),
    checks: results.map((r) => ({ ...r, required: r.required ?? true })),
  };
  return maskText(JSON.stringify(report, null, 2), secrets) + "\n";
}

/**
 * Turns a thrown error into the reason a user can act on, for the failures every network check shares.
 * `what` names the endpoint (already masked), e.g. `127.0.0.1:5432`.
 */
export function describeNetworkError(error: unknown, what: string, timeoutMs: number): string {
  const e = error as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e?.code ?? e?.cause?.code;
  const message = e?.message ?? String(error);
  switch (code) {
    case "ECONNREFUSED":
      return `connection refused by ${what} (is the server running and the port right?)`;
    case "ENOTFOUND":
    case "EAI_AGAIN":
    case "EAI_NONAME":
      return `host of ${what} not found (DNS); check the host name`;
    case "ETIMEDOUT":
    case "TIMEOUT":
    case "UND_ERR_CONNECT_TIMEOUT":
    case "UND_ERR_HEADERS_TIMEOUT":
      return `no answer from ${what} within ${timeoutMs} ms (firewall, allow-list or wrong host?)`;
    case "ECONNRESET":
    case "EPIPE":
      return `${what} closed the connection (TLS expected, or the server went away?)`;
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return `${what} unreachable from here (IPv6-only host without IPv6, or no route)`;
    case "ERR_SSL_WRONG_VERSION_NUMBER":
    case "EPROTO":
      return `TLS handshake with ${what} failed (${code}): does it speak HTTPS? (an https:// URL for an http:// server, or a proxy in the way)`;
    case "DEPTH_ZERO_SELF_SIGNED_CERT":
    case "SELF_SIGNED_CERT_IN_CHAIN":
    case "UNABLE_TO_VERIFY_LEAF_SIGNATURE":
    case "UNABLE_TO_GET_ISSUER_CERT_LOCALLY":
    case "CERT_HAS_EXPIRED":
    case "ERR_TLS_CERT_ALTNAME_INVALID":
      return `TLS certificate of ${what} not accepted (${code}): use the service's own HTTPS URL, or trust its CA with NODE_EXTRA_CA_CERTS`;
    default: {
      if (/timeout|timed out/i.test(message)) return `no answer from ${what} within ${timeoutMs} ms`;
      // fetch's own message ("fetch failed") says nothing: the cause does.
      if (message === "fetch failed" && e?.cause?.message) {
        const cause = e.cause.message;
        return `${what}: ${cause}${code && !cause.includes(code) ? ` (${code})` : ""}`;
      }
      return `${what}: ${message}`;
    }
  }
}

/** Rejects with code TIMEOUT when `work` takes longer than `ms`: every check gets a bounded time. */
export async function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(Object.assign(new Error(`timed out after ${ms} ms`), { code: "TIMEOUT" })),
      ms,
    );
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
