/**
 * The servers of runbook 1's stand-in, started from the migration's spec: the source (pglogical as DMS
 * needs it, or Supabase-like for the logical path: no superuser, no pglogical), the destination, and Redis
 * with TLS; the app's schema and seed on the source; the secrets the revisions resolve. Every server is
 * real, on loopback, and handed to `onServer` as it starts, for the rehearsal's teardown to stop.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import type { CloudSqlMigration } from "../../infra/config/cloudsql";
import type { CloudSqlPlan } from "../../infra/engine/cloudsql";
import { managedSecretIds } from "../../infra/engine/env";
import { startPostgres, type PgServer } from "../../tooling/local-postgres";
import { startRedis, type RedisServer } from "../../tooling/local-redis";
import { quoteIdent } from "../validate/pg-sql";
import { prepareLogicalDestination, prepareSupabaseLikeSource } from "./logical";
import { withClient } from "./pg";
import { BUILT_IN_APP, type AppUnderTest } from "./report";

/** Runs a shell command with `env` added; rejects with its stderr on failure. */
export function runCommand(command: string, env: Record<string, string>, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      "/bin/sh",
      ["-c", command],
      { env: { ...process.env, ...env }, maxBuffer: 16 * 1024 * 1024, timeout: 600_000 },
      (error, _out, stderr) =>
        error
          ? reject(new Error(`${what} (${command}) failed: ${stderr.trim() || error.message}`))
          : resolve(),
    );
  });
}

export interface CloudSqlStandIn {
  readonly source: PgServer;
  readonly destination: PgServer;
  readonly redis: RedisServer;
  /** The app's database on the source, as the app's secrets name it. */
  readonly sourceUrl: string;
  /** The destination's database as its superuser reaches it (replication, validation). */
  readonly destinationUrl: string;
  /** The destination as the app's own user reaches it (what the program's secrets hold). */
  readonly destinationAppUrl: string;
  /** The app's user on the destination (Cloud SQL's `cloudSql.user`). */
  readonly appUser: { readonly user: string; readonly password: string };
  /** The status token the smoke checks send. */
  readonly token: string;
  /** Secret Manager's stand-in: secret id → value. */
  readonly secrets: Record<string, string>;
  /** Creates the program's own secrets once a plan declares them. */
  createSecrets(plan: CloudSqlPlan): void;
  /** Rows in the app's write table before the load. */
  readonly seeded: number;
}

/** Starts the servers, applies the app's schema and seed to the source, and fills the user's secrets. */
export async function startCloudSqlStandIn(o: {
  migration: string;
  spec: CloudSqlMigration;
  app: AppUnderTest;
  rows: number;
  onServer: (server: { stop(): Promise<void> }) => void;
}): Promise<CloudSqlStandIn> {
  const logical = o.spec.replication === "logical";
  const database = o.spec.source.database;
  const [source, destination, redis] = await Promise.all([
    startPostgres(logical ? { logical: true, system: true } : { pglogical: true }),
    startPostgres(logical ? { logical: true, system: true } : { pglogical: true }),
    startRedis({ tls: true }),
  ]);
  for (const s of [source, destination, redis]) o.onServer(s);
  const sourceUrl = logical ? await prepareSupabaseLikeSource(source, database) : source.urlFor(database);
  const appUser = { user: o.spec.cloudSql.user, password: randomBytes(12).toString("hex") };
  if (logical) await prepareLogicalDestination(destination, database, appUser);
  const destinationUrl = destination.urlFor(database);
  const destinationAppUrl = destinationUrl.replace(
    `${destination.user}:${destination.password}`,
    `${appUser.user}:${appUser.password}`,
  );
  const token = randomBytes(12).toString("hex");
  // The user's secrets point at the source; the program's own ones exist once a phase creates them.
  const secrets: Record<string, string> = {};
  for (const [name, ref] of Object.entries(o.spec.cloudRun.secretEnv))
    secrets[ref.secret] =
      name === "DATABASE_URL" || name === "DIRECT_URL"
        ? sourceUrl
        : name === "ADMIN_STATUS_TOKEN"
          ? token
          : `rehearsal-${name.toLowerCase()}`;
  const ids = managedSecretIds(o.migration);
  const createSecrets = (plan: CloudSqlPlan) => {
    if (plan.resources.secrets) {
      secrets[ids.databaseUrl] = destinationAppUrl;
      secrets[ids.directUrl] = destinationAppUrl;
    }
    if (plan.resources.redis) {
      secrets[ids.redisUrl] = redis.url;
      secrets[ids.redisCa] = readFileSync(redis.caFile!, "utf8");
    }
  };
  const seeded = await prepareSource(sourceUrl, o.app, o.rows, logical);
  return {
    source,
    destination,
    redis,
    sourceUrl,
    destinationUrl,
    destinationAppUrl,
    appUser,
    token,
    secrets,
    createSecrets,
    seeded,
  };
}

/** The app's schema and seed on the source (and pglogical, as the runbook prepares it for DMS); the rows seeded. */
async function prepareSource(sourceUrl: string, app: AppUnderTest, rows: number, logical: boolean) {
  if (!logical) await withClient(sourceUrl, (c) => c.query("CREATE EXTENSION IF NOT EXISTS pglogical"));
  await runCommand(
    app.schemaCommand,
    { DATABASE_URL: sourceUrl, DIRECT_URL: sourceUrl },
    "the schema command",
  );
  const ackTable = quoteIdent(app.ack.table);
  return withClient(sourceUrl, async (c) => {
    const { rows: found } = await c.query(
      "SELECT 1 FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1 AND column_name = $2",
      [app.ack.table, app.ack.column],
    );
    if (found.length === 0)
      throw new Error(
        `the schema command created no column ${app.ack.table}.${app.ack.column} on the source: that is where the rehearsal looks for acknowledged writes (--ack)`,
      );
    if (app.seedSql !== undefined) await c.query(app.seedSql);
    else if (app === BUILT_IN_APP)
      await c.query(
        `INSERT INTO "ChatMessage" ("clientId", "conversationId", body)
         SELECT 'seed-' || i, i % 1000, repeat('x', 64) FROM generate_series(1, $1::int) i`,
        [rows],
      );
    return (await c.query(`SELECT count(*)::int AS n FROM ${ackTable}`)).rows[0].n as number;
  });
}
