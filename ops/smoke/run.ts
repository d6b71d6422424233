/** The smoke run: `/system/status` against the phase's expectations, then each checklist route. */
import { maskUrl } from "../lib/mask";
import { describeNetworkError, fail, ok, skip, unreachable, type CheckResult } from "../lib/verdict";
import type { ChecklistRoute } from "./checklist";
import type { StatusExpectation } from "./expectations";
import { boundedRequest, joinUrl, type RequestAuth } from "./http";
import { describeHttpStatus, evaluateStatus, STATUS_PATH } from "./status";

/** The app's write probe (config `cloudRun.writeBlock.probe`): what smoke calls to see the flag work. */
export interface WriteProbe {
  readonly method: string;
  readonly path: string;
  readonly refusedStatus: number;
}

export interface SmokeInput {
  /** Checked when given: refused on the frozen revision, accepted on every other. */
  readonly writeProbe?: WriteProbe;
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
    return unreachable(name, describeNetworkError(error, where(url), input.timeoutMs));
  }
}

/** The write-block flag works: the frozen revision refuses the probe, every other accepts it. */
export async function checkWriteProbe(input: SmokeInput): Promise<CheckResult> {
  const name = "Write probe";
  const probe = input.writeProbe;
  if (!probe)
    // Where writes must be refused, only the probe can show they are: its absence is a failure there.
    return input.expectation.writes
      ? skip(
          name,
          "no cloudRun.writeBlock.probe in the config; declare the app's write probe to check the freeze",
        )
      : fail(
          name,
          `no cloudRun.writeBlock.probe in the config: at ${input.expectation.phase} writes must be refused and only the probe can show it; declare the app's write probe (POST path answering ${503} while the flag is set)`,
        );
  const url = joinUrl(input.baseUrl, probe.path);
  const label = `${probe.method} ${probe.path}`;
  try {
    const answer = await boundedRequest(url, probe.method, input.timeoutMs, input.auth);
    if (!input.expectation.writes)
      return answer.status === probe.refusedStatus
        ? ok(name, `${label} refused with HTTP ${answer.status}: writes are blocked`)
        : fail(
            name,
            `${label} answered HTTP ${answer.status}, expected ${probe.refusedStatus}: the frozen revision is taking writes (check the write-block flag in the app)`,
          );
    return answer.status >= 200 && answer.status < 300
      ? ok(name, `${label} accepted with HTTP ${answer.status}: writes go through`)
      : fail(
          name,
          `${label} answered HTTP ${answer.status}, expected 2xx: this revision does not take writes (phase ${input.expectation.phase})`,
        );
  } catch (error) {
    return unreachable(name, describeNetworkError(error, where(url), input.timeoutMs));
  }
}

export async function runSmoke(input: SmokeInput): Promise<CheckResult[]> {
  const url = joinUrl(input.baseUrl, STATUS_PATH);
  let status: CheckResult[];
  try {
    const answer = await boundedRequest(url, "GET", input.timeoutMs, input.auth);
    status = evaluateStatus(answer, input.expectation, input.tokenEnv);
  } catch (error) {
    status = [unreachable(`GET ${STATUS_PATH}`, describeNetworkError(error, where(url), input.timeoutMs))];
  }
  status.push(await checkWriteProbe(input));
  if (!input.routes) return [...status, skip("Checklist routes", "no --checklist file given")];
  // Sequential on purpose: a smoke test should not load a candidate revision at 0% traffic.
  const routes: CheckResult[] = [];
  for (const route of input.routes) routes.push(await checkRoute(input, route));
  return [...status, ...routes];
}
