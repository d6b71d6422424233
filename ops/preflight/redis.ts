/** `Redis connectivity`: AUTH + PING over redis:// or rediss:// (Memorystore uses TLS with its own CA). */
import * as fs from "node:fs";
import Redis from "ioredis";
import { describeNetworkError, fail, ok, skip, withTimeout, type CheckResult } from "../lib/verdict";

const NAME = "Redis connectivity";

function endpointOf(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || "6379"}`;
  } catch {
    return "REDIS_URL";
  }
}

export function describeRedisError(error: unknown, where: string, timeoutMs: number): string {
  const message = (error as { message?: string })?.message ?? String(error);
  if (/WRONGPASS|invalid password|invalid username-password/i.test(message)) {
    return `authentication failed at ${where} (check the password in REDIS_URL)`;
  }
  if (/NOAUTH/i.test(message)) return `${where} requires a password but REDIS_URL has none`;
  if (/self[- ]signed|unable to verify|unable to get local issuer|certificate/i.test(message)) {
    return `TLS certificate of ${where} not trusted (pass the server CA with --redis-ca or REDIS_CA_FILE)`;
  }
  return describeNetworkError(error, where, timeoutMs);
}

export async function checkRedis(
  url: string | undefined,
  timeoutMs: number,
  caFile?: string,
): Promise<CheckResult> {
  if (!url) return skip(NAME, "REDIS_URL is not set; recommended for multi-instance chat realtime");
  if (!/^rediss?:\/\//i.test(url)) return fail(NAME, "REDIS_URL must start with redis:// or rediss://");
  let ca: Buffer | undefined;
  if (caFile) {
    try {
      ca = fs.readFileSync(caFile);
    } catch {
      return fail(NAME, `cannot read the Redis CA file ${caFile} (--redis-ca / REDIS_CA_FILE)`);
    }
  }
  const where = endpointOf(url);
  const tls = url.toLowerCase().startsWith("rediss://") ? { tls: { ...(ca ? { ca } : {}) } } : {};
  let lastError: unknown;
  const client = new Redis(url, {
    ...tls,
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    enableReadyCheck: false,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  // ioredis reports socket and TLS errors as events; keep the first for the verdict.
  client.on("error", (error) => (lastError ??= error));
  try {
    await withTimeout(client.connect(), timeoutMs + 500);
    await withTimeout(client.ping(), timeoutMs);
    return ok(NAME);
  } catch (error) {
    const cause =
      /Connection is closed|Stream isn't writeable/i.test(String(error)) && lastError ? lastError : error;
    const reason = describeRedisError(cause, where, timeoutMs);
    // A plain Redis reads a TLS hello as a partial command and waits: the symptom is a timeout.
    const hint =
      "tls" in tls && reason.startsWith("no answer")
        ? "; if the server does not speak TLS, use redis://"
        : "";
    return fail(NAME, reason + hint);
  } finally {
    client.disconnect();
  }
}
