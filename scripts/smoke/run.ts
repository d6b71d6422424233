/** The smoke run: `/system/status` against the phase's expectations, then each checklist route. */
import { maskUrl } from "../lib/mask";
import { describeNetworkError, fail, ok, skip, type CheckResult } from "../lib/verdict";
import type { ChecklistRoute } from "./checklist";
import type { StatusExpectation } from "./expectations";
import { boundedRequest, joinUrl, type RequestAuth } from "./http";
import { describeHttpStatus, evaluateStatus, STATUS_PATH } from "./status";

export interface SmokeInput {
  readonly baseUrl: string;
  readonly auth: RequestAuth;
  /** Env var the token came from, named in messages. */
  readonly tokenEnv: string;
  readonly timeoutMs: number;
  readonly expectation: StatusExpectation;
  readonly routes?: readonly ChecklistRoute[];
}

function where(url: string): string {
  try {
    const u = new URL(url);
    return `${u.host}${u.pathname}`;
  } catch {
    return maskUrl(url);
  }
}

async function checkRoute(input: SmokeInput, route: ChecklistRoute): Promise<CheckResult> {
  const name = `${route.method} ${route.path} (${route.name})`;
  const url = joinUrl(input.baseUrl, route.path);
  try {
    const answer = await boundedRequest(
      url,
      route.method,
      input.timeoutMs,
      route.auth ? input.auth : undefined,
    );
    const accepted = route.expect
      ? route.expect.includes(answer.status)
      : answer.status >= 200 && answer.status < 300;
    return accepted
      ? ok(name, `HTTP ${answer.status} in ${answer.elapsedMs} ms`)
      : fail(
          name,
          `${describeHttpStatus(answer.status, input.tokenEnv)}; expected ${route.expect?.join(" or ") ?? "2xx"}`,
        );
  } catch (error) {
    return fail(name, describeNetworkError(error, where(url), input.timeoutMs));
  }
}

export async function runSmoke(input: SmokeInput): Promise<CheckResult[]> {
  const url = joinUrl(input.baseUrl, STATUS_PATH);
  let status: CheckResult[];
  try {
    const answer = await boundedRequest(url, "GET", input.timeoutMs, input.auth);
    status = evaluateStatus(answer, input.expectation, input.tokenEnv);
  } catch (error) {
    status = [fail(`GET ${STATUS_PATH}`, describeNetworkError(error, where(url), input.timeoutMs))];
  }
  if (!input.routes) return [...status, skip("Checklist routes", "no --checklist file given")];
  // Sequential on purpose: a smoke test should not load a candidate revision at 0% traffic.
  const routes: CheckResult[] = [];
  for (const route of input.routes) routes.push(await checkRoute(input, route));
  return [...status, ...routes];
}
