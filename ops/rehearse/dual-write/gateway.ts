/**
 * The stand-in's door into its workerd for this process: a small Worker holding the same D1 and KV bindings
 * as the API Worker (and service bindings to cutover's scheduled Workers), reached with
 * `Miniflare#dispatchFetch`, which is asynchronous all the way.
 *
 * Miniflare's binding proxies (`getD1Database`, `getKVNamespace`, `getWorker`) resolve every property and
 * every synchronous method (`prepare`, `bind`) with a blocking round trip through a helper thread; under a
 * loaded machine one of those round trips came back with no answer and failed an assertion inside
 * Miniflare (`message?.id === id`), stopping a rehearsal in its backfill. Through this Worker a statement
 * is one request: nothing blocks the event loop, and a failure is the statement's own error.
 */
import type { Miniflare, WorkerOptions } from "miniflare";

export const GATEWAY = "cutover-gateway";

/** The gateway's module: D1 `all` and `batch`, KV `get` and `put`, and one scheduled run of a bound Worker. */
const SCRIPT = `
const blob = (v) => (v instanceof ArrayBuffer ? Array.from(new Uint8Array(v)) : v);
const rows = (results) =>
  results.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, blob(v)])));
const handle = async (op, body, env) => {
  switch (op) {
    case "all": {
      const db = env[body.binding];
      return { results: rows((await db.prepare(body.sql).bind(...body.params).all()).results) };
    }
    case "batch": {
      const db = env[body.binding];
      await db.batch(body.statements.map((s) => db.prepare(s.sql).bind(...s.params)));
      return {};
    }
    case "kv-get":
      return { value: await env[body.binding].get(body.key) };
    case "kv-put":
      await env[body.binding].put(body.key, body.value);
      return {};
    case "scheduled": {
      const result = await env[body.binding].scheduled({ cron: body.cron, scheduledTime: new Date() });
      return { outcome: result.outcome };
    }
    default:
      throw new Error("unknown operation " + op);
  }
};
export default {
  async fetch(request, env) {
    const op = new URL(request.url).pathname.slice(1);
    try {
      return Response.json(await handle(op, await request.json(), env));
    } catch (error) {
      return Response.json({ error: String(error && error.stack ? error.message : error) }, { status: 500 });
    }
  },
};
`;

/** The gateway Worker's options: the D1 databases and KV namespaces by binding, the scheduled Workers by binding. */
export function gatewayWorker(bindings: {
  d1Databases: Record<string, string>;
  kvNamespaces: Record<string, string>;
  serviceBindings: Record<string, string>;
  compatibilityDate: string;
}): WorkerOptions {
  return {
    name: GATEWAY,
    modules: true,
    script: SCRIPT,
    compatibilityDate: bindings.compatibilityDate,
    // Lets a service binding run the bound Worker's scheduled handler.
    compatibilityFlags: ["service_binding_extra_handlers"],
    d1Databases: bindings.d1Databases,
    kvNamespaces: bindings.kvNamespaces,
    serviceBindings: bindings.serviceBindings,
  };
}

export interface Gateway {
  all<R>(binding: string, sql: string, params: readonly unknown[]): Promise<R[]>;
  batch(binding: string, statements: readonly { sql: string; params: readonly unknown[] }[]): Promise<void>;
  kvGet(binding: string, key: string): Promise<string | null>;
  kvPut(binding: string, key: string, value: string): Promise<void>;
  /** One run of the scheduled handler of the Worker bound as `binding`; its outcome ("ok", "exception", …). */
  scheduled(binding: string, cron: string): Promise<string>;
}

export function gatewayClient(mf: Miniflare): Gateway {
  const call = async <T>(op: string, body: object): Promise<T> => {
    const res = await mf.dispatchFetch(`http://gateway.local/${op}`, {
      method: "POST",
      // Miniflare's entry Worker routes a request carrying this header to the Worker it names.
      headers: { "content-type": "application/json", "MF-Route-Override": GATEWAY },
      body: JSON.stringify(body),
    });
    const answer = (await res.json()) as T & { error?: string };
    if (res.status !== 200) throw new Error(answer.error ?? `the stand-in's gateway answered ${res.status}`);
    return answer;
  };
  return {
    all: async <R>(binding: string, sql: string, params: readonly unknown[]) =>
      (await call<{ results: R[] }>("all", { binding, sql, params })).results,
    batch: async (binding, statements) => void (await call("batch", { binding, statements })),
    kvGet: async (binding, key) => (await call<{ value: string | null }>("kv-get", { binding, key })).value,
    kvPut: async (binding, key, value) => void (await call("kv-put", { binding, key, value })),
    scheduled: async (binding, cron) =>
      (await call<{ outcome: string }>("scheduled", { binding, cron })).outcome,
  };
}
