/** Pure verdicts on a `/system/status` answer, given what the phase expects. */
import { fail, ok, type CheckResult } from "../lib/verdict";
import type { StatusExpectation } from "./expectations";

export const STATUS_PATH = "/system/status";

export interface HttpAnswer {
  readonly status: number;
  readonly body: string;
  readonly elapsedMs: number;
}

function field(body: unknown, dotted: string): unknown {
  return dotted
    .split(".")
    .reduce<unknown>(
      (v, key) => (v && typeof v === "object" ? (v as Record<string, unknown>)[key] : undefined),
      body,
    );
}

/** An HTTP status that is not 2xx, explained. */
export function describeHttpStatus(status: number, tokenEnv: string): string {
  if (status === 401 || status === 403)
    return `HTTP ${status}: the admin token was rejected (check ${tokenEnv})`;
  if (status === 404) return "HTTP 404: route not found (wrong base URL, or the revision lacks it)";
  if (status >= 500) return `HTTP ${status}: the service failed (see its logs)`;
  return `HTTP ${status}`;
}

function redisChecks(body: unknown, expectation: StatusExpectation): CheckResult[] {
  const configured = field(body, "redis.configured");
  const mode = field(body, "chatRealtime.effectiveMode");
  const later = `not required before stabilize, phase is ${expectation.phase}`;
  if (!expectation.redisRequired) {
    return [
      ok("redis.configured", `${JSON.stringify(configured)}; ${later}`),
      ok("chatRealtime.effectiveMode", `${JSON.stringify(mode)}; ${later}`),
    ];
  }
  const why = `phase ${expectation.phase} wires Redis`;
  return [
    configured === true
      ? ok("redis.configured", "true")
      : fail(
          "redis.configured",
          `${configured === undefined ? "missing from the answer" : `is ${JSON.stringify(configured)}`}; expected true (${why}: REDIS_URL on the revision)`,
        ),
    mode === "redis"
      ? ok("chatRealtime.effectiveMode", "redis")
      : fail(
          "chatRealtime.effectiveMode",
          `${mode === undefined ? "missing from the answer" : `is ${JSON.stringify(mode)}`}; expected "redis" (${why}: CHAT_REALTIME_BUS=redis)`,
        ),
  ];
}

export function evaluateStatus(
  answer: HttpAnswer,
  expectation: StatusExpectation,
  tokenEnv: string,
): CheckResult[] {
  const name = `GET ${STATUS_PATH}`;
  if (answer.status < 200 || answer.status > 299)
    return [fail(name, describeHttpStatus(answer.status, tokenEnv))];
  let body: unknown;
  try {
    body = JSON.parse(answer.body);
  } catch {
    return [fail(name, `HTTP ${answer.status} but the body is not JSON (is this the API's base URL?)`)];
  }
  if (!body || typeof body !== "object") return [fail(name, "the body is not a JSON object")];
  // The runbook's last checklist item: "/system/status sin errores".
  const errors = field(body, "errors");
  const reportedErrors = Array.isArray(errors)
    ? errors.map((e) => (typeof e === "string" ? e : JSON.stringify(e)))
    : [];
  const statusLine =
    field(body, "ok") === false || reportedErrors.length > 0
      ? fail(name, "the service reports errors", reportedErrors)
      : ok(name, `HTTP ${answer.status} in ${answer.elapsedMs} ms`);
  return [statusLine, ...redisChecks(body, expectation)];
}
