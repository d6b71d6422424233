/** The whole preflight: the seed's connectivity checks, then DMS source readiness when asked. */
import { secretsOfUrl } from "../lib/mask";
import type { CheckResult } from "../lib/verdict";
import { checkDatabaseUrls } from "./postgres";
import { checkRedis } from "./redis";
import { checkSource, type SourceTarget } from "./source";

export interface PreflightInput {
  readonly env: NodeJS.ProcessEnv;
  readonly timeoutMs: number;
  readonly redisCaFile?: string;
  readonly source?: SourceTarget;
}

/** Every secret the run could echo, so the printer can mask them wherever they appear. */
export function secretsOf(input: PreflightInput): string[] {
  const { env } = input;
  return [
    ...secretsOfUrl(env.DATABASE_URL),
    ...secretsOfUrl(env.DIRECT_URL),
    ...secretsOfUrl(env.REDIS_URL),
    ...(input.source?.secrets ?? []),
  ];
}

export async function runPreflight(input: PreflightInput): Promise<CheckResult[]> {
  const caFile = input.redisCaFile ?? input.env.REDIS_CA_FILE;
  const [databases, redis] = await Promise.all([
    checkDatabaseUrls(input.env, input.timeoutMs),
    checkRedis(input.env.REDIS_URL, input.timeoutMs, caFile),
  ]);
  const source = input.source ? await checkSource(input.source, input.timeoutMs) : [];
  return [...databases, redis, ...source];
}
