/**
 * The read switch's evidence: what the flags module reported of every store call (workers/flags/metrics.ts)
 * over a window, read from Workers Analytics Engine's SQL API — per store, the calls, the failed ones and
 * the 99th-percentile latency of reads, each data point weighted by its sample interval (Analytics Engine
 * samples at high rates).
 */
import { apiHost } from "../lib/cloudflare";

export interface StoreCalls {
  /** Calls to the store (reads and writes), as sampled and re-weighted. */
  readonly requests: number;
  readonly errors: number;
  /** Reads only. */
  readonly reads: number;
  readonly readP99Ms?: number;
}

export type StoreHealth =
  | { readonly kind: "data"; readonly byStore: Partial<Record<"legacy" | "new", StoreCalls>> }
  | { readonly kind: "error"; readonly message: string };

const quoted = (s: string) => `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;

/** The query: one row per store over the last `minutes`. `dataset` is checked by the config schema. */
export function storeHealthSql(dataset: string, migration: string, minutes: number): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(dataset)) throw new Error(`not a dataset name: ${dataset}`);
  return [
    "SELECT blob1 AS store,",
    "  SUM(_sample_interval) AS requests,",
    "  sumIf(_sample_interval, blob3 = 'error') AS errors,",
    "  sumIf(_sample_interval, blob2 = 'read') AS reads,",
    "  quantileExactWeighted(0.99)(double1, if(blob2 = 'read', _sample_interval, 0)) AS read_p99",
    `FROM ${dataset}`,
    `WHERE index1 = ${quoted(migration)} AND timestamp > NOW() - INTERVAL '${Math.max(1, Math.ceil(minutes))}' MINUTE`,
    "GROUP BY store",
    "FORMAT JSON",
  ].join("\n");
}

/** Analytics Engine's answer (ClickHouse JSON: 64-bit integers may come quoted). */
interface SqlAnswer {
  readonly data?: readonly Record<string, string | number | null>[];
}

export async function readStoreHealth(o: {
  readonly accountId: string;
  readonly token: string;
  readonly dataset: string;
  readonly migration: string;
  readonly minutes: number;
  readonly timeoutMs?: number;
  readonly env?: NodeJS.ProcessEnv;
}): Promise<StoreHealth> {
  const env = o.env ?? process.env;
  const base = env.CLOUDFLARE_BASE_URL ?? "https://api.cloudflare.com/client/v4";
  const url = `${base.replace(/\/$/, "")}/accounts/${o.accountId}/analytics_engine/sql`;
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: { authorization: `Bearer ${o.token}` },
      body: storeHealthSql(o.dataset, o.migration, o.minutes),
      signal: AbortSignal.timeout(o.timeoutMs ?? 30_000),
    });
    const text = await response.text();
    if (!response.ok)
      return {
        kind: "error",
        message: `Analytics Engine (${apiHost(env)}) answered HTTP ${response.status}: ${text.slice(0, 300)}`,
      };
    const answer = JSON.parse(text) as SqlAnswer;
    const byStore: Partial<Record<"legacy" | "new", StoreCalls>> = {};
    for (const row of answer.data ?? []) {
      const store = row.store;
      if (store !== "legacy" && store !== "new") continue;
      const reads = Number(row.reads ?? 0);
      byStore[store] = {
        requests: Number(row.requests ?? 0),
        errors: Number(row.errors ?? 0),
        reads,
        ...(reads > 0 && row.read_p99 !== null && row.read_p99 !== undefined
          ? { readP99Ms: Number(row.read_p99) }
          : {}),
      };
    }
    return { kind: "data", byStore };
  } catch (error) {
    return {
      kind: "error",
      message: `Analytics Engine (${apiHost(env)}) could not be read: ${(error as Error).message}`,
    };
  }
}
