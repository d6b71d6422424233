/**
 * The rehearsal's app: a small HTTP service that keeps the runbook's app contract, started once per
 * revision with the environment the plan computes for that revision (secrets resolved locally). It
 * writes a ChatMessage-like table, so what the cutover does to writes can be counted.
 *
 * Contract (what the real app must do too):
 *   DATABASE_URL   where reads and writes go (DIRECT_URL: the same database without a pooler);
 *   the write-block variable (its name and value from `cloudRun.writeBlock`, handed over as
 *   REHEARSAL_WRITE_BLOCK_NAME / _VALUE): while it holds its value every write is refused with 503 and
 *   reads keep working;
 *   a write the database refuses because the cutover froze the app's role (SQLSTATE 25006,
 *   read_only_sql_transaction) or ended its session (57P01, admin_shutdown) is refused with 503 too: it
 *   was not committed, and the client may retry;
 *   REDIS_URL, REDIS_CA_CERT, REDIS_KEY_PREFIX, CHAT_REALTIME_BUS, CHAT_REALTIME_REDIS_CHANNEL: with them,
 *   each message is also published on the realtime bus;
 *   GET /system/status with `Authorization: Bearer $ADMIN_STATUS_TOKEN`.
 * Routes: POST /messages {clientId, conversationId, body} → 201 {id} (409 on a repeated clientId),
 * GET /messages/:clientId, POST /system/write-probe (an insert rolled back), GET /system/status.
 */
import * as http from "node:http";
import Redis from "ioredis";
import { Pool } from "pg";

const env = process.env;
const revision = env.REHEARSAL_REVISION ?? "unnamed";
const blockName = env.REHEARSAL_WRITE_BLOCK_NAME ?? "WRITE_FREEZE";
const writesBlocked = (env[blockName] ?? "") === (env.REHEARSAL_WRITE_BLOCK_VALUE ?? "true");
const databaseUrl = env.DATABASE_URL;
if (!databaseUrl) {
  process.stderr.write(`${revision}: DATABASE_URL is not set\n`);
  process.exit(2);
}
const pool = new Pool({ connectionString: databaseUrl, max: 8, connectionTimeoutMillis: 5000 });
pool.on("error", () => undefined);
// A session ended by the server (the cutover's freeze ends the role's sessions) while a request holds it
// is that request's error, never the process's: without a listener, node would exit on it.
pool.on("connect", (client) => client.on("error", () => undefined));
/**
 * A query on a pooled connection that survives an SQL error: `pool.query` destroys the connection on any
 * error, so under a freeze every refused write would cost a new connection (and its authentication),
 * and refusals would queue behind each other. Only a connection that failed is destroyed here.
 */
async function query(sql: string, params: unknown[]): Promise<{ rows: Record<string, string>[] }> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    return await client.query(sql, params);
  } catch (error) {
    const code = (error as { code?: string }).code;
    // An SQLSTATE of class 57 (operator intervention) or 08 (connection) means the session is gone.
    if (code === undefined || /^(57|08)/.test(code)) broken = error as Error;
    throw error;
  } finally {
    client.release(broken);
  }
}
const redis =
  env.REDIS_URL && env.CHAT_REALTIME_BUS === "redis"
    ? new Redis(env.REDIS_URL, {
        lazyConnect: false,
        maxRetriesPerRequest: 1,
        ...(env.REDIS_URL.startsWith("rediss://") ? { tls: { ca: env.REDIS_CA_CERT } } : {}),
      })
    : undefined;
redis?.on("error", () => undefined);
const channel = `${env.REDIS_KEY_PREFIX ?? "app"}:${env.CHAT_REALTIME_REDIS_CHANNEL ?? "chat:events"}`;

function send(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json", "x-revision": revision });
  res.end(JSON.stringify(body));
}

async function readBody(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  let text = "";
  for await (const chunk of req) text += chunk;
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

async function status(): Promise<unknown> {
  const errors: string[] = [];
  let database: unknown;
  try {
    const { rows } = await pool.query(
      "SELECT current_database() AS name, inet_server_port() AS port, pg_is_in_recovery() AS replica",
    );
    database = rows[0];
  } catch (error) {
    errors.push(`database: ${(error as Error).message}`);
  }
  let redisOk = false;
  if (redis) {
    try {
      redisOk = (await redis.ping()) === "PONG";
    } catch (error) {
      errors.push(`redis: ${(error as Error).message}`);
    }
  }
  return {
    ok: errors.length === 0,
    revision,
    writes: !writesBlocked,
    database,
    redis: { configured: redis !== undefined, connected: redisOk },
    chatRealtime: { effectiveMode: redis ? "redis" : "memory" },
    errors,
  };
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? "/", "http://app");
  const route = `${req.method} ${url.pathname}`;
  (async () => {
    if (route === "GET /system/status") {
      if (req.headers.authorization !== `Bearer ${env.ADMIN_STATUS_TOKEN}`)
        return send(res, 401, { ok: false });
      return send(res, 200, await status());
    }
    if (route === "POST /messages" || route === "POST /system/write-probe") {
      if (writesBlocked)
        return send(res, 503, { error: "writes are frozen for a database cutover", revision });
      const body = await readBody(req);
      if (route === "POST /system/write-probe") {
        const client = await pool.connect();
        try {
          await client.query("BEGIN");
          await client.query(
            `INSERT INTO "ChatMessage" ("clientId", "conversationId", body) VALUES ('probe-' || gen_random_uuid(), 0, 'probe')`,
          );
          await client.query("ROLLBACK");
        } finally {
          client.release();
        }
        return send(res, 200, { ok: true, revision });
      }
      const { rows } = await query(
        `INSERT INTO "ChatMessage" ("clientId", "conversationId", body) VALUES ($1, $2, $3)
         ON CONFLICT ("clientId") DO NOTHING RETURNING id::text`,
        [String(body.clientId), Number(body.conversationId ?? 0), String(body.body ?? "")],
      );
      if (rows.length === 0) return send(res, 409, { error: "clientId already written", revision });
      await redis
        ?.publish(channel, JSON.stringify({ id: rows[0].id, clientId: body.clientId }))
        .catch(() => 0);
      return send(res, 201, { id: rows[0].id, revision });
    }
    const read = /^\/messages\/([^/]+)$/.exec(url.pathname);
    if (req.method === "GET" && read) {
      const { rows } = await query(
        `SELECT id::text, "clientId", body FROM "ChatMessage" WHERE "clientId" = $1`,
        [decodeURIComponent(read[1])],
      );
      return rows.length
        ? send(res, 200, { ...rows[0], revision })
        : send(res, 404, { error: "no such message" });
    }
    return send(res, 404, { error: `no route ${route}` });
  })().catch((error: unknown) => {
    const e = error as { code?: string; constraint?: string; message: string };
    if (e.code === "25006" || e.code === "57P01")
      return send(res, 503, { error: "writes are frozen at the database for a cutover", revision });
    // A primary-key clash on insert: the sequence handed out an id that exists (not carried, not reset).
    const kind = e.code === "23505" && e.constraint === "ChatMessage_pkey" ? "sequence-collision" : "error";
    res.setHeader("x-error-kind", kind);
    send(res, 500, { error: e.message, kind, revision });
  });
});

server.listen(Number(env.PORT ?? 8080), "127.0.0.1", () => {
  process.stdout.write(`ready ${revision} ${(server.address() as { port: number }).port}\n`);
});

const stop = () => {
  server.close();
  void pool.end();
  redis?.disconnect();
  setTimeout(() => process.exit(0), 200).unref();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
// Started through a wrapper (tsx): if the wrapper is killed outright, this process must not outlive it.
const parent = process.ppid;
setInterval(() => process.ppid !== parent && stop(), 500).unref();
