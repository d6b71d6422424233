/**
 * The freeze made exact at the source: moving traffic to a revision that refuses writes is not
 * instantaneous (in-flight requests may reach either revision), so before the promotion the source
 * itself stops taking the app's writes, and that is proven before a marker is taken.
 *
 *   freeze  the app's role gets `default_transaction_read_only = on` (every new session of it is
 *           read-only), its other sessions are ended (an open transaction cannot commit after that),
 *           a fresh session of the role is checked to be read-only, and only then the source's WAL
 *           position is taken: every write the app made is before it.
 *   thaw    undoes it, and ends the role's sessions opened during the freeze (they keep the read-only
 *           setting they started with); a rollback returns writes to the source.
 * Both are idempotent. Other login roles with sessions open on the database are named: they are not
 * frozen, and the operator decides.
 */
import { Client } from "pg";
import { ReplicationError } from "./logical";

export interface SourceFreeze {
  readonly role: string;
  /** Sessions of the role that were ended. */
  readonly ended: number;
  /** The WAL position after the proof: the marker the replication must confirm. */
  readonly marker: string;
  /** Other roles with client sessions on the database (not frozen). */
  readonly otherWriters: readonly string[];
}

const ROLE = /^[A-Za-z_][A-Za-z0-9_$-]{0,62}$/;
const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;

async function open(url: string, timeoutMs: number, connectMs: number): Promise<Client> {
  const c = new Client({
    connectionString: url,
    connectionTimeoutMillis: connectMs,
    statement_timeout: timeoutMs,
    // Our side of the bound: a server that went silent cannot enforce statement_timeout.
    query_timeout: timeoutMs + 1000,
    application_name: "cutover-freeze",
  });
  c.on("error", () => undefined);
  try {
    await c.connect();
  } catch (error) {
    await c.end().catch(() => undefined);
    const timedOut = /timeout expired|connection timeout/i.test((error as Error).message);
    throw new ReplicationError(
      timedOut
        ? `cannot connect to the source: no answer within ${connectMs / 1000} s (--connect-timeout)`
        : `cannot connect to the source: ${(error as Error).message}`,
      timedOut
        ? "check that the source host is reachable from here (firewall, allow-list, IPv6), or raise --connect-timeout"
        : "check the source URL (host, port, password, sslmode)",
      true,
      error,
    );
  }
  // This session must keep writing (the publication is dropped by the stop) whatever the role's default.
  await c.query("SET default_transaction_read_only = off");
  return c;
}

/** Ends every other client session of `role` on this database; returns how many were ended. */
async function endSessions(c: Client, role: string): Promise<number> {
  const { rows } = await c.query<{ ok: boolean }>(
    `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
      WHERE usename = $1 AND pid <> pg_backend_pid() AND backend_type = 'client backend'
        AND datname = current_database()`,
    [role],
  );
  return rows.filter((r) => r.ok).length;
}

function checkRole(role: string): void {
  if (!ROLE.test(role))
    throw new ReplicationError(
      `--role "${role}" is not a PostgreSQL role name`,
      "the role the app connects as",
    );
}

/** Freezes the app's role on the source and proves it; returns the marker taken after the proof. */
export async function freezeSource(
  url: string,
  role: string,
  { timeoutMs = 30_000, connectTimeoutMs = 10_000 } = {},
): Promise<SourceFreeze> {
  checkRole(role);
  const c = await open(url, timeoutMs, connectTimeoutMs);
  try {
    const exists = await c.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [role]);
    if (exists.rowCount === 0)
      throw new ReplicationError(
        `role ${role} does not exist on the source`,
        "name the role the app connects as",
      );
    await c.query(`ALTER ROLE ${ident(role)} SET default_transaction_read_only = on`);
    // Every other client session of the role ends: one in a write transaction cannot commit it now.
    const ended = await endSessions(c, role);
    // The proof: a new session of the role is read-only, and none of its sessions holds a write.
    const u = new URL(url);
    const sameRole = decodeURIComponent(u.username) === role;
    if (sameRole) {
      const probe = new Client({ connectionString: url, connectionTimeoutMillis: connectTimeoutMs });
      probe.on("error", () => undefined);
      await probe.connect();
      try {
        const { rows } = await probe.query("SHOW default_transaction_read_only");
        if (rows[0].default_transaction_read_only !== "on")
          throw new ReplicationError(
            `a new session of ${role} is not read-only after the freeze`,
            "a setting of the database or the connection overrides it; find it (ALTER DATABASE … SET, the pooler) and remove it",
          );
      } finally {
        await probe.end().catch(() => undefined);
      }
    } else {
      const { rows } = await c.query(
        "SELECT coalesce((SELECT setconfig FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole WHERE r.rolname = $1 AND s.setdatabase = 0), '{}') AS config",
        [role],
      );
      if (!(rows[0].config as string[]).includes("default_transaction_read_only=on"))
        throw new ReplicationError(
          `the freeze of ${role} did not take`,
          "check that the connecting role may ALTER ROLE it",
        );
    }
    const writing = await c.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE usename = $1 AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL`,
      [role],
    );
    if (writing.rows[0].n > 0)
      throw new ReplicationError(
        `${writing.rows[0].n} session(s) of ${role} still hold a write transaction after being ended`,
        "run the freeze again; if it persists, end them with pg_terminate_backend and thaw-source to give writes back",
      );
    const marker = (await c.query<{ lsn: string }>("SELECT pg_current_wal_lsn()::text AS lsn")).rows[0].lsn;
    const others = await c.query<{ usename: string }>(
      `SELECT DISTINCT usename FROM pg_stat_activity
        WHERE usename <> $1 AND pid <> pg_backend_pid() AND backend_type = 'client backend'
          AND datname = current_database() AND usename IS NOT NULL ORDER BY 1`,
      [role],
    );
    return {
      role,
      ended,
      marker,
      otherWriters: others.rows.map((r) => r.usename),
    };
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** Gives writes back to the app's role (the rollback of a freeze). */
export async function thawSource(
  url: string,
  role: string,
  { timeoutMs = 30_000, connectTimeoutMs = 10_000 } = {},
): Promise<void> {
  checkRole(role);
  const c = await open(url, timeoutMs, connectTimeoutMs);
  try {
    await c.query(`ALTER ROLE ${ident(role)} RESET default_transaction_read_only`);
    // A session keeps the setting it started with: the role's sessions opened during the freeze are
    // read-only until they end, so they are ended and the app's pool reconnects writable.
    await endSessions(c, role);
  } finally {
    await c.end().catch(() => undefined);
  }
}
