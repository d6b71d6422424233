/** PostgreSQL connections with bounded time, and the reasons a user can act on when they fail. */
import { Client, type ClientConfig } from "pg";
import { maskUrl } from "../lib/mask";
import { describeNetworkError, fail, ok, skip, withTimeout, type CheckResult } from "../lib/verdict";

/** Where to connect: a URL (credentials inside) or explicit fields (config-driven source). */
export type PgEndpoint =
  { readonly url: string; readonly ssl?: ClientConfig["ssl"] } | { readonly config: ClientConfig };

/** `host:port/db`, never credentials. */
export function describeEndpoint(endpoint: PgEndpoint): string {
  if ("url" in endpoint) {
    try {
      const u = new URL(endpoint.url);
      return `${u.hostname}:${u.port || "5432"}${u.pathname || "/postgres"}`;
    } catch {
      return maskUrl(endpoint.url);
    }
  }
  const c = endpoint.config;
  return `${c.host}:${c.port ?? 5432}/${c.database ?? "postgres"}`;
}

/** Every client gets connect, statement and client-side query timeouts: no check can hang. */
export function clientConfig(endpoint: PgEndpoint, timeoutMs: number, database?: string): ClientConfig {
  let base: ClientConfig;
  if ("url" in endpoint) {
    // The driver lets the URL's database win over a `database` field: put it in the URL instead.
    const url = new URL(endpoint.url);
    if (database) url.pathname = `/${encodeURIComponent(database)}`;
    base = { connectionString: url.toString(), ...(endpoint.ssl !== undefined ? { ssl: endpoint.ssl } : {}) };
  } else {
    base = { ...endpoint.config, ...(database ? { database } : {}) };
  }
  return {
    ...base,
    connectionTimeoutMillis: timeoutMs,
    statement_timeout: timeoutMs,
    query_timeout: timeoutMs,
    lock_timeout: timeoutMs,
    application_name: "cutover-preflight",
  };
}

export async function withClient<T>(
  endpoint: PgEndpoint,
  timeoutMs: number,
  work: (client: Client) => Promise<T>,
  database?: string,
): Promise<T> {
  const client = new Client(clientConfig(endpoint, timeoutMs, database));
  client.on("error", () => undefined); // a server dying mid-check surfaces through the pending query
  try {
    // The outer bound also covers DNS and TLS handshakes, which the driver's timers may not.
    await withTimeout(client.connect(), timeoutMs + 500);
    return await withTimeout(work(client), timeoutMs * 4);
  } finally {
    await withTimeout(client.end(), 1000).catch(() => undefined);
  }
}

/** The reason behind a PostgreSQL failure, by SQLSTATE first, then by network error. */
export function describePgError(error: unknown, where: string, timeoutMs: number): string {
  const e = error as { code?: string; message?: string };
  const message = e?.message ?? String(error);
  switch (e?.code) {
    case "28P01":
      return `authentication failed at ${where} (check the user and password)`;
    case "28000":
      return `${where} refused this client: ${message} (check pg_hba / IP allow-list)`;
    case "3D000":
      return `${message} at ${where} (check the database name in the URL)`;
    case "57014":
      return `statement timed out after ${timeoutMs} ms at ${where}`;
    case "53300":
      return `${where} has no free connection slots (too many clients)`;
    case "57P01":
    case "57P02":
    case "57P03":
      return `${where} is shutting down or starting up: ${message}`;
  }
  if (/does not support SSL/i.test(message))
    return `${where} does not support TLS (use sslmode=disable or check the host)`;
  if (/self[- ]signed|unable to verify|certificate/i.test(message)) {
    return `TLS certificate of ${where} not trusted: ${message} (give the server CA, or check the host name)`;
  }
  if (/Connection terminated unexpectedly/i.test(message))
    return `${where} closed the connection unexpectedly`;
  return describeNetworkError(error, where, timeoutMs);
}

/** `DB connectivity: OK` — connects and runs one query. */
export async function checkPostgresConnectivity(
  name: string,
  endpoint: PgEndpoint,
  timeoutMs: number,
): Promise<CheckResult> {
  if ("url" in endpoint && !/^postgres(ql)?:\/\/[^\s]+$/i.test(endpoint.url)) {
    return fail(name, "not a postgres:// URL (expected postgres://user:…@host:5432/database)");
  }
  const where = describeEndpoint(endpoint);
  try {
    await withClient(endpoint, timeoutMs, (c) => c.query("select 1"));
    return ok(name);
  } catch (error) {
    return fail(name, describePgError(error, where, timeoutMs));
  }
}

/** The seed's contract: DATABASE_URL required, DIRECT_URL recommended (SKIP when unset). */
export async function checkDatabaseUrls(env: NodeJS.ProcessEnv, timeoutMs: number): Promise<CheckResult[]> {
  const database = env.DATABASE_URL
    ? checkPostgresConnectivity("DB connectivity", { url: env.DATABASE_URL }, timeoutMs)
    : Promise.resolve(
        fail("DB connectivity", "DATABASE_URL is not set (export it: postgres://user:pass@host:5432/db)"),
      );
  const direct = env.DIRECT_URL
    ? checkPostgresConnectivity("DIRECT_URL connectivity", { url: env.DIRECT_URL }, timeoutMs)
    : Promise.resolve(
        skip("DIRECT_URL connectivity", "DIRECT_URL is not set; recommended for prisma migrate"),
      );
  return Promise.all([database, direct]);
}
