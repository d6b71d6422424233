/**
 * Opens a D1 database as a {@link D1Executor}: local state through wrangler's in-process platform
 * proxy (about 15 ms per query instead of 1-2 s per `wrangler d1 execute`), remote through the
 * Cloudflare REST API. Both bound each statement by the statement timeout.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { cloudflareClient } from "../lib/cloudflare";
import { describeCloudflareError } from "../lib/cloudflare-errors";
import type { D1Executor } from "./d1";
import type { Endpoint } from "./endpoint";
import { localDatabaseId as commandsLocalId } from "../backfill/wrangler-config";
import { ValidateError } from "./errors";
import type { SqliteValue } from "./normalize";
import type { Timeouts } from "./postgres";

type Row = Record<string, SqliteValue>;
type LocalEndpoint = Extract<Endpoint, { kind: "d1-local" }>;
type RemoteEndpoint = Extract<Endpoint, { kind: "d1-remote" }>;

interface D1Binding {
  prepare(sql: string): { bind(...values: unknown[]): { all(): Promise<{ results: Row[] }> } };
}

function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

const CONFIG_FILES = ["wrangler.json", "wrangler.jsonc", "wrangler.toml"];

/**
 * The database id wrangler keys local state by: from the project's wrangler config when it names it,
 * else the one every `cutover` command uses locally (`cutover data d1-schema`, `data backfill`, `data
 * capture` write under it), so that all of them open the same database.
 */
async function localDatabaseId(endpoint: LocalEndpoint): Promise<string> {
  const configPath = endpoint.configPath ?? CONFIG_FILES.find((f) => fs.existsSync(f));
  if (!configPath) return commandsLocalId(endpoint.database);
  if (!fs.existsSync(configPath))
    throw new ValidateError(
      `${endpoint.label}: wrangler config ${configPath} not found`,
      "pass the path of your wrangler.toml/json",
    );
  const { unstable_readConfig } = await import("wrangler");
  const config = unstable_readConfig({ config: configPath }, { hideWarnings: true }) as {
    d1_databases: { binding: string; database_name?: string; database_id?: string }[];
  };
  const entry = config.d1_databases.find(
    (d) => d.database_name === endpoint.database || d.binding === endpoint.database,
  );
  if (endpoint.configPath && !entry)
    throw new ValidateError(
      `${endpoint.label}: no D1 database "${endpoint.database}" in ${configPath}`,
      `use its database_name or binding; declared: ${config.d1_databases.map((d) => d.database_name).join(", ") || "none"}`,
    );
  return entry?.database_id ?? commandsLocalId(endpoint.database);
}

async function openLocal(endpoint: LocalEndpoint, timeouts: Timeouts): Promise<D1Executor> {
  if (!fs.existsSync(path.join(endpoint.persistDir, "v3", "d1")))
    throw new ValidateError(
      `${endpoint.label}: no local D1 state under ${endpoint.persistDir}`,
      "pass ?persist=<dir> with the directory given to wrangler --persist-to (default .wrangler/state)",
    );
  const databaseId = await localDatabaseId(endpoint);
  // A one-binding config of our own: the project's config may declare bindings that need more setup.
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), "cutover-validate-d1-"));
  const configPath = path.join(dir, "wrangler.json");
  await fs.promises.writeFile(
    configPath,
    JSON.stringify({
      name: "cutover-validate",
      compatibility_date: "2025-01-01",
      d1_databases: [{ binding: "DB", database_name: endpoint.database, database_id: databaseId }],
    }),
  );
  const { getPlatformProxy } = await import("wrangler");
  const proxy = await getPlatformProxy<{ DB: D1Binding }>({
    configPath,
    persist: { path: path.resolve(endpoint.persistDir, "v3") },
  });
  // Local state opens whatever id it is given, empty when nothing wrote it: that is no verdict.
  const tables = await proxy.env.DB.prepare(
    "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\'",
  )
    .bind()
    .all();
  if (Number(tables.results[0]?.n ?? 0) === 0) {
    await proxy.dispose();
    await fs.promises.rm(dir, { recursive: true, force: true });
    throw new ValidateError(
      `${endpoint.label}: local D1 database ${endpoint.database} (id ${databaseId}) under ${endpoint.persistDir} has no tables: nothing wrote it there`,
      "give the --persist-to directory cutover data d1-schema and data backfill used (default .wrangler/state), or &config=<wrangler config> naming the database's id",
    );
  }
  return {
    label: endpoint.label,
    async query(sql, params, doing) {
      try {
        const work = proxy.env.DB.prepare(sql)
          .bind(...params)
          .all();
        return (await withTimeout(work, timeouts.statementMs, doing)).results;
      } catch (error) {
        throw new ValidateError(
          `${endpoint.label} failed while ${doing}: ${(error as Error).message}`,
          "check the table and column names in D1 (PRAGMA table_info)",
        );
      }
    },
    async close() {
      await proxy.dispose();
      await fs.promises.rm(dir, { recursive: true, force: true });
    },
  };
}

function openRemote(endpoint: RemoteEndpoint, timeouts: Timeouts, env: NodeJS.ProcessEnv): D1Executor {
  const apiToken = env.CLOUDFLARE_API_TOKEN;
  if (!apiToken)
    throw new ValidateError(
      `${endpoint.label}: CLOUDFLARE_API_TOKEN is not set`,
      "export a Cloudflare API token with D1 read permission in CLOUDFLARE_API_TOKEN",
    );
  // The SDK loads with the first query, not with the command.
  const made = cloudflareClient(apiToken, Math.max(1, Math.ceil(timeouts.statementMs / 1000)));
  return {
    label: endpoint.label,
    async query(sql, params, doing) {
      try {
        const client = await made;
        const rows: Row[] = [];
        const pages = client.d1.database.query(endpoint.databaseId, {
          account_id: endpoint.accountId,
          sql,
          params: [...params],
        });
        for await (const result of pages) rows.push(...((result.results ?? []) as Row[]));
        return rows;
      } catch (error) {
        const described = describeCloudflareError(error);
        if (described)
          throw new ValidateError(
            `${endpoint.label} failed while ${doing}: ${described.message}`,
            described.hint,
          );
        const status = (error as { status?: number }).status;
        const hint =
          status === 401 || status === 403
            ? "the API token was rejected: it needs D1 read permission on this account (value not shown)"
            : status === 404
              ? "check the account id and database id (wrangler d1 list)"
              : "check network access to api.cloudflare.com";
        const message = (error as Error).message.split(apiToken).join("***");
        throw new ValidateError(`${endpoint.label} failed while ${doing}: ${message}`, hint);
      }
    },
    async close() {},
  };
}

export async function openD1(
  endpoint: Endpoint,
  timeouts: Timeouts,
  env: NodeJS.ProcessEnv,
): Promise<D1Executor> {
  if (endpoint.kind === "d1-local") return openLocal(endpoint, timeouts);
  if (endpoint.kind === "d1-remote") return openRemote(endpoint, timeouts, env);
  throw new Error(`openD1 called with a ${endpoint.kind} endpoint`);
}
