/**
 * The DMS stand-in: pglogical feeds the destination the way Database Migration Service feeds Cloud SQL,
 * keeping DMS's documented semantics:
 *   - the migrated database keeps its name; the schema is copied first (pg_dump --schema-only), then an
 *     initial copy of the data, then change data capture;
 *   - migrated objects are owned by the `cloudsqlexternalsync` role, not by the app's user (who needs the
 *     post-promotion grant to use them);
 *   - sequences are not carried (their positions stay where the schema copy left them);
 *   - tables without a primary key get inserts only.
 * `promote` stops replication; the project's own post-promotion steps are the caller's to run, as the
 * migrate job runs them on Cloud SQL.
 */
import type { LogicalOptions } from "../replication/logical";
import { execFile } from "node:child_process";
import * as path from "node:path";
import { promisify } from "node:util";
import { isConnectionLoss } from "../lib/reconnect";
import { withClient } from "./pg";
import type { PgServer } from "../../tooling/local-postgres";

const exec = promisify(execFile);
const SYNC_ROLE = "cloudsqlexternalsync";

export interface Replication {
  /** Bytes of WAL the destination has not confirmed (0: caught up). */
  lagBytes(): Promise<number>;
  /**
   * Waits until the destination has confirmed everything written before the call (the source's WAL
   * position then), however much is written meanwhile; returns the ms it took.
   */
  waitCaughtUp(timeoutMs?: number): Promise<number>;
  /** Stops replication for good: the destination is on its own. */
  promote(): Promise<void>;
  /** The logical path's options, as the switch's job takes them (its stop is the promotion). */
  readonly logical?: LogicalOptions;
}

/**
 * Polls `lagBytes` until the destination has confirmed everything written so far (0 bytes left);
 * returns how long it took. Both stand-ins (DMS and logical) wait this way. A server restarting under
 * the watch is ridden out: the loss and the way back are announced, and polling goes on within the
 * same bound.
 */
export async function waitUntilCaughtUp(
  lagBytes: () => Promise<number>,
  timeoutMs: number,
  pollMs: number,
  say: (line: string) => void = (line) => process.stderr.write(line + "\n"),
): Promise<number> {
  const started = Date.now();
  let lost: { why: string; at: number } | undefined;
  for (;;) {
    try {
      const lag = await lagBytes();
      if (lost) {
        say(`replication watcher: reconnected after ${((Date.now() - lost.at) / 1000).toFixed(1)} s`);
        lost = undefined;
      }
      if (lag === 0) return Date.now() - started;
    } catch (error) {
      if (!isConnectionLoss(error)) throw error;
      if (!lost) {
        lost = { why: (error as Error).message, at: Date.now() };
        say(`replication watcher: connection lost (${lost.why}); polling again every ${pollMs} ms`);
      }
    }
    if (Date.now() - started > timeoutMs)
      throw new Error(
        `replication: not caught up after ${timeoutMs} ms${lost ? ` (connection lost: ${lost.why})` : ""}`,
      );
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/**
 * Waits until the slots `slots` selects on the source have confirmed its WAL position as it is when
 * called: every write committed before the call has reached the destination. A source still taking
 * writes never shows a lag of 0; this bound holds on it too.
 */
export async function waitPastNow(
  sourceUrl: string,
  slots: { readonly where: string; readonly params: readonly unknown[] },
  timeoutMs: number,
  pollMs: number,
): Promise<number> {
  const marker = await withClient(
    sourceUrl,
    async (c) => (await c.query("SELECT pg_current_wal_lsn()::text AS lsn")).rows[0].lsn as string,
  );
  const behind = () =>
    withClient(sourceUrl, async (c) => {
      const { rows } = await c.query(
        `SELECT COALESCE(max(GREATEST(pg_wal_lsn_diff($1::pg_lsn, confirmed_flush_lsn), 0)), 0)::bigint AS lag
           FROM pg_replication_slots WHERE ${slots.where}`,
        [marker, ...slots.params],
      );
      return Number(rows[0].lag);
    });
  return waitUntilCaughtUp(behind, timeoutMs, pollMs);
}

const dsn = (s: PgServer, database: string) =>
  `host=${s.host} port=${s.port} dbname=${database} user=${s.user} password=${s.password}`;

/**
 * Starts replication of `database` from `source` to `destination` (both servers with pglogical), after
 * creating the destination's app user `appUser` (with CREATEROLE, as Cloud SQL creates its users).
 */
export async function startReplication(
  source: PgServer,
  destination: PgServer,
  database: string,
  app: { readonly user: string; readonly password: string },
): Promise<Replication> {
  const src = source.urlFor(database);
  const dst = destination.urlFor(database);
  // The schema, as DMS's initial dump brings it, owned by the sync role.
  const { stdout: schema } = await exec(
    path.join(source.binDir, "pg_dump"),
    ["--schema-only", "--no-owner", "--no-privileges", "--exclude-schema=pglogical", "-d", src],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  await withClient(dst, async (c) => {
    await c.query(`CREATE ROLE ${SYNC_ROLE} NOLOGIN`);
    await c.query(
      `CREATE ROLE "${app.user}" LOGIN CREATEROLE PASSWORD '${app.password.replace(/'/g, "''")}'`,
    );
    await c.query(`GRANT ALL ON SCHEMA public TO "${app.user}"`);
    // First: a source prepared for DMS has pglogical, and its dump names the extension.
    await c.query("CREATE EXTENSION IF NOT EXISTS pglogical");
  });
  // psql, not a driver: the dump holds psql meta-commands (\restrict in current pg_dump releases).
  await new Promise<void>((resolve, reject) => {
    const psql = execFile(
      path.join(source.binDir, "psql"),
      ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dst],
      { maxBuffer: 16 * 1024 * 1024 },
      (error, _out, stderr) =>
        error ? reject(new Error(`replication: schema copy failed: ${stderr}`)) : resolve(),
    );
    psql.stdin!.end(schema);
  });
  await withClient(dst, async (c) => {
    await c.query(`
      DO $$ DECLARE r record; BEGIN
        -- Owned sequences follow their table.
        FOR r IN SELECT c.oid::regclass AS rel FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'm', 'p') LOOP
          EXECUTE format('ALTER TABLE %s OWNER TO ${SYNC_ROLE}', r.rel);
        END LOOP;
      END $$;`);
    await c.query("CREATE EXTENSION IF NOT EXISTS pglogical");
    await c.query("SELECT pglogical.create_node(node_name := 'destination', dsn := $1)", [
      dsn(destination, database),
    ]);
  });
  await withClient(src, async (c) => {
    await c.query("CREATE EXTENSION IF NOT EXISTS pglogical");
    await c.query("SELECT pglogical.create_node(node_name := 'source', dsn := $1)", [dsn(source, database)]);
    // Tables with a primary key: every change; without one: inserts only (DMS's limitation). No sequences.
    await c.query(`
      DO $$ DECLARE r record; BEGIN
        FOR r IN SELECT c.oid::regclass AS rel, EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) AS pk
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = 'public' AND c.relkind = 'r' LOOP
          PERFORM pglogical.replication_set_add_table(CASE WHEN r.pk THEN 'default' ELSE 'default_insert_only' END, r.rel, true);
        END LOOP;
      END $$;`);
  });
  await withClient(dst, (c) =>
    c.query(
      `SELECT pglogical.create_subscription(subscription_name := 'dms', provider_dsn := $1,
         replication_sets := ARRAY['default', 'default_insert_only'], synchronize_structure := false,
         synchronize_data := true, forward_origins := '{}')`,
      [dsn(source, database)],
    ),
  );
  // The initial copy is done when the subscription replicates and every table is synchronized.
  const deadline = Date.now() + 120_000;
  for (;;) {
    const ready = await withClient(dst, async (c) => {
      const sub = await c.query("SELECT status FROM pglogical.show_subscription_status('dms')");
      const pending = await c.query(
        "SELECT count(*)::int AS n FROM pglogical.local_sync_status WHERE sync_status <> 'r'",
      );
      return sub.rows[0]?.status === "replicating" && pending.rows[0].n === 0;
    });
    if (ready) break;
    if (Date.now() > deadline) throw new Error("replication: the initial copy did not finish within 120 s");
    await new Promise((r) => setTimeout(r, 200));
  }

  const lagBytes = () =>
    withClient(src, async (c) => {
      const { rows } = await c.query(
        `SELECT COALESCE(max(pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)), 0)::bigint AS lag
           FROM pg_replication_slots WHERE plugin = 'pglogical_output'`,
      );
      return Number(rows[0].lag);
    });
  return {
    lagBytes,
    waitCaughtUp: (timeoutMs = 60_000) =>
      waitPastNow(src, { where: "plugin = 'pglogical_output'", params: [] }, timeoutMs, 100),
    async promote() {
      await withClient(dst, (c) => c.query("SELECT pglogical.drop_subscription('dms')"));
    },
  };
}
