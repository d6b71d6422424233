/**
 * A small Match-Auto Workers API, the one the runbook-2 rehearsal serves its load through: every read and
 * write goes through the project's flags module (workers/flags), as the user's Workers do. Listings live
 * in PostgreSQL (legacy `public`, the new Supabase schema), reached through Hyperdrive bindings (or any
 * binding of their shape: `{ connectionString }`); cities move from legacy PostgreSQL to D1. Each answer says which store served it (`x-cutover-store`).
 *
 * Routes: `PUT|DELETE|GET /listings/:id`, `PUT|DELETE|GET /cities/:id` (the caller's key in `x-user`
 * buckets its reads), `GET /__health` (the flags in force, their fallbacks, and errors and latency per
 * store since the isolate started: what a read-switch health gate can judge).
 */
import { Client } from "pg";
import { fallbackCounts, floorOf, migrationFlags, type Store } from "../flags/flags";
import type { MetricsDataset } from "../flags/metrics";

interface D1Statement {
  bind(...values: unknown[]): D1Statement;
  first<T>(): Promise<T | null>;
  run(): Promise<{ meta?: { changes?: number } }>;
}
interface D1 {
  prepare(sql: string): D1Statement;
}
interface Env {
  readonly FLAGS: { get(key: string): Promise<string | null> };
  readonly LEGACY_DB: { readonly connectionString: string };
  readonly TARGET_DB: { readonly connectionString: string };
  readonly EDGE_DB: D1;
  readonly MIGRATION: string;
  readonly LEGACY_SCHEMA: string;
  readonly TARGET_SCHEMA: string;
  readonly FLAGS_TTL_MS: string;
  readonly CUTOVER_FLAGS_FLOOR?: string;
  /** Analytics Engine dataset of the store calls (the read switch's health gate); optional. */
  readonly CUTOVER_METRICS?: MetricsDataset;
}

/** What one row answers, the same whichever store holds it. */
interface Row {
  readonly id: number;
  readonly text: string;
  readonly updatedAt: string;
}
type Op = "get" | "put" | "delete";
type Access = (id: number, text?: string, at?: string) => Promise<Row | null | number>;

/** Requests, errors and latency per store and operation, per isolate. */
const health: Record<Store, { requests: number; errors: number; ms: number[] }> = {
  legacy: { requests: 0, errors: 0, ms: [] },
  new: { requests: 0, errors: 0, ms: [] },
};

async function measured<T>(store: Store, work: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  const h = health[store];
  h.requests++;
  try {
    return await work();
  } catch (error) {
    h.errors++;
    throw error;
  } finally {
    h.ms.push(Date.now() - t0);
    if (h.ms.length > 5000) h.ms.splice(0, h.ms.length - 5000);
  }
}

async function withPg<T>(url: string, work: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({
    connectionString: url,
    connectionTimeoutMillis: 5000,
    statement_timeout: 5000,
  });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

const q = (schema: string) => `"${schema.replace(/"/g, '""')}"`;

/** One row of `table` as the API answers it: `column` is its text. */
const pgRow = (url: string, table: string, column: string, id: number) =>
  withPg(url, async (c) => {
    const { rows } = await c.query(
      `SELECT id::int AS id, ${column} AS text, to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "updatedAt" FROM ${table} WHERE id = $1`,
      [id],
    );
    return (rows[0] as Row | undefined) ?? null;
  });

const pgDelete = (url: string, table: string, id: number) =>
  withPg(url, async (c) => (await c.query(`DELETE FROM ${table} WHERE id = $1`, [id])).rowCount ?? 0);

/** A listing in one PostgreSQL schema (legacy and the new one have the same columns for these). */
function listingsIn(url: string, schema: string, statusType: string): Record<Op, Access> {
  const t = `${q(schema)}.listings`;
  return {
    get: (id) => pgRow(url, t, "title", id),
    put: (id, text, at) =>
      withPg(url, async (c) => {
        const r = await c.query(
          `INSERT INTO ${t} (id, vehicle_id, seller_id, title, price, currency, status, city_id, created_at, updated_at)
           VALUES ($1, 1, 1, $2, 100.00, 'BRL', $3::${statusType}, NULL, $4, $4)
           ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title, updated_at = EXCLUDED.updated_at`,
          [id, text, "active", at],
        );
        return r.rowCount ?? 0;
      }),
    delete: (id) => pgDelete(url, t, id),
  };
}

/** D1 keeps time as fixed-width text with microseconds (d1/migrations/0001_edge_tables.sql). */
const d1Time = (iso: string) => iso.replace(/Z$/, "000Z");

function citiesInD1(db: D1): Record<Op, Access> {
  return {
    get: async (id) => {
      const row = await db
        .prepare("SELECT id, name AS text, updated_at AS updatedAt FROM cities WHERE id = ?")
        .bind(id)
        .first<Row>();
      return row && { ...row, updatedAt: row.updatedAt.replace(/(\.\d{3})\d{3}Z$/, "$1Z") };
    },
    put: async (id, text, at) =>
      (
        await db
          .prepare(
            `INSERT INTO cities (id, slug, name, country_code, is_active, created_at, updated_at)
             VALUES (?, ?, ?, 'BR', 1, ?, ?)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, updated_at = excluded.updated_at`,
          )
          .bind(id, `city-${id}`, text, d1Time(at!), d1Time(at!))
          .run()
      ).meta?.changes ?? 0,
    delete: async (id) =>
      (await db.prepare("DELETE FROM cities WHERE id = ?").bind(id).run()).meta?.changes ?? 0,
  };
}

function citiesInPg(url: string, schema: string): Record<Op, Access> {
  const t = `${q(schema)}.cities`;
  return {
    get: (id) => pgRow(url, t, "name", id),
    put: (id, text, at) =>
      withPg(url, async (c) => {
        const r = await c.query(
          `INSERT INTO ${t} (id, slug, name, country_code, is_active, created_at, updated_at)
           VALUES ($1, $2, $3, 'BR', true, $4, $4)
           ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, updated_at = EXCLUDED.updated_at`,
          [id, `city-${id}`, text, at],
        );
        return r.rowCount ?? 0;
      }),
    delete: (id) => pgDelete(url, t, id),
  };
}

function json(value: unknown, status: number, store?: string): Response {
  return new Response(JSON.stringify(value), {
    status,
    headers: { "content-type": "application/json", ...(store ? { "x-cutover-store": store } : {}) },
  });
}

const pct = (values: readonly number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : 0;
};

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    const { floor } = floorOf(env.CUTOVER_FLAGS_FLOOR, env.MIGRATION);
    const flags = migrationFlags(env.FLAGS, env.MIGRATION, {
      ttlMs: Number(env.FLAGS_TTL_MS),
      floor,
      metrics: env.CUTOVER_METRICS,
    });
    if (url.pathname === "/__health") {
      const snapshot = await flags.snapshot();
      const stores = Object.fromEntries(
        (["legacy", "new"] as const).map((s) => {
          const h = health[s];
          return [s, { requests: h.requests, errors: h.errors, p50Ms: pct(h.ms, 50), p99Ms: pct(h.ms, 99) }];
        }),
      );
      return json({ flags: snapshot, fallbacks: fallbackCounts(), stores }, 200);
    }
    const route = /^\/(listings|cities)\/(\d+)$/.exec(url.pathname);
    if (!route) return json({ error: "not found" }, 404);
    const id = Number(route[2]);
    const by: Record<Store, Record<Op, Access>> = route[1] === "listings"
      ? {
          legacy: listingsIn(env.LEGACY_DB.connectionString, env.LEGACY_SCHEMA, "text"),
          new: listingsIn(
            env.TARGET_DB.connectionString,
            env.TARGET_SCHEMA,
            `${q(env.TARGET_SCHEMA)}.listing_status`,
          ),
        }
      : {
          legacy: citiesInPg(env.LEGACY_DB.connectionString, env.LEGACY_SCHEMA),
          new: citiesInD1(env.EDGE_DB),
        };
    const on = (store: Store, op: Op, text?: string, at?: string) => () =>
      measured(store, () => by[store][op](id, text, at));
    try {
      switch (request.method) {
        case "GET": {
          const user = request.headers.get("x-user") ?? "anonymous";
          let served: Store = "legacy";
          const row = await flags.read(user, {
            legacy: () => ((served = "legacy"), on("legacy", "get")()),
            new: () => ((served = "new"), on("new", "get")()),
          });
          return row === null ? json({ error: "not found" }, 404, served) : json(row, 200, served);
        }
        case "PUT": {
          const { text } = (await request.json()) as { text: string };
          const at = new Date().toISOString();
          const written = (await flags.snapshot()).flags.writeMode;
          await flags.write({ legacy: on("legacy", "put", text, at), new: on("new", "put", text, at) });
          return json({ id, text, updatedAt: at }, 200, written);
        }
        case "DELETE": {
          const written = (await flags.snapshot()).flags.writeMode;
          await flags.write({ legacy: on("legacy", "delete"), new: on("new", "delete") });
          return json({ id, deleted: true }, 200, written);
        }
        default:
          return json({ error: "method not allowed" }, 405);
      }
    } catch (error) {
      return json({ error: error instanceof Error ? error.message : String(error) }, 503);
    }
  },
};
