/**
 * Where the rows go: a D1 database, either local (wrangler's getPlatformProxy: workerd in-process
 * bindings on the same state as `wrangler d1 … --local`) or remote (Cloudflare's HTTP API through the
 * official `cloudflare` client). Both receive the very same statements.
 */
import * as path from "node:path";
import type Cloudflare from "cloudflare";
import type { Statement } from "./statements";
import { writeWranglerConfig, type D1Binding } from "./wrangler-config";

export interface D1Target {
  /** For messages, e.g. "local D1 matchauto-edge". */
  readonly description: string;
  /** Runs the statements in order as one D1 batch (one round trip; local D1 runs it as a transaction). */
  batch(statements: readonly Statement[]): Promise<void>;
  /** Rows of one query. */
  all(sql: string, params?: readonly string[]): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

interface D1PreparedStatement {
  bind(...values: unknown[]): D1PreparedStatement;
  all(): Promise<{ results: Record<string, unknown>[] }>;
}
interface D1Database {
  prepare(sql: string): D1PreparedStatement;
  batch(statements: D1PreparedStatement[]): Promise<unknown>;
}

export async function openLocalTarget(db: D1Binding, persistTo: string): Promise<D1Target> {
  process.env.CLOUDFLARE_CF_FETCH_ENABLED ??= "false"; // no network lookups for a local run
  process.env.WRANGLER_LOG ??= "warn"; // keep wrangler's chatter out of the command's output
  const configDir = path.resolve(".cutover", "d1", "local");
  const configPath = writeWranglerConfig(configDir, [db]);
  const { getPlatformProxy } = await import("wrangler");
  // `wrangler … --persist-to X` keeps its state in X/v3; the proxy takes that inner folder.
  const proxy = await getPlatformProxy<Record<string, D1Database>>({
    configPath,
    persist: { path: path.join(path.resolve(persistTo), "v3") },
    remoteBindings: false,
  });
  const d1 = proxy.env[db.binding];
  const prepare = (s: Statement) => d1.prepare(s.sql).bind(...s.params);
  return {
    description: `local D1 ${db.name} (${persistTo})`,
    async batch(statements) {
      if (statements.length) await d1.batch(statements.map(prepare));
    },
    async all(sql, params = []) {
      return (await prepare({ sql, params }).all()).results;
    },
    close: () => proxy.dispose(),
  };
}

export function openRemoteTarget(client: Cloudflare, accountId: string, db: D1Binding): D1Target {
  const databaseId = db.databaseId;
  if (!databaseId) throw new Error(`no database id for remote D1 ${db.name}`);
  return {
    description: `remote D1 ${db.name} (${databaseId})`,
    async batch(statements) {
      if (!statements.length) return;
      const batch = statements.map((s) => ({ sql: s.sql, params: [...s.params] }));
      for await (const result of client.d1.database.query(databaseId, { account_id: accountId, batch })) {
        if (result.success === false)
          throw new Error(`remote D1 ${db.name} rejected a statement of the batch`);
      }
    },
    async all(sql, params = []) {
      const rows: Record<string, unknown>[] = [];
      for await (const result of client.d1.database.query(databaseId, {
        account_id: accountId,
        sql,
        params: [...params],
      })) {
        rows.push(...((result.results ?? []) as Record<string, unknown>[]));
      }
      return rows;
    },
    close: async () => undefined,
  };
}
