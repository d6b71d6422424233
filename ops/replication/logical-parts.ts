/**
 * What every step of the `replication: logical` path shares (logical.ts holds the path and its order):
 * the options, the refusal type, the object names one attempt uses, the bounded connections to both
 * sides, the source's publishable tables, and pg_dump/psql run with bounds.
 */
import { execFile } from "node:child_process";
import { Client, type ClientConfig } from "pg";

export interface LogicalEndpoints {
  /** The source as the migration role (table owner with REPLICATION), e.g. Supabase's direct host. */
  readonly source: string;
  /** The destination database as a Cloud SQL user (member of cloudsqlsuperuser). */
  readonly destination: string;
  /**
   * The connection string the destination *server* uses to reach the source (libpq URI or key=value).
   * @default `source` with `sslmode=require` unless it names one
   */
  readonly subscriberConnection?: string;
}

export interface LogicalOptions extends LogicalEndpoints {
  /** Base name of the publications, the subscription and its slot: lowercase, one per attempt. */
  readonly name: string;
  /** Schemas published and copied. @default ["public"] */
  readonly schemas?: readonly string[];
  /** Directory of pg_dump and psql (empty: found on PATH). */
  readonly binDir?: string;
  /** Bound of each statement, in ms (pg_dump and psql get ten times it). @default 30000 */
  readonly timeoutMs?: number;
  /** Bound of each connection, in ms. @default 10000 */
  readonly connectTimeoutMs?: number;
  /**
   * How long status, the wait for the copy and stop keep reconnecting when a server restarts under
   * them, in ms. @default 120000
   */
  readonly giveUpMs?: number;
  /** Where reconnections are announced. @default stderr */
  readonly say?: (line: string) => void;
}

/** A step that cannot proceed: the message says why and what to do. */
export class ReplicationError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
    /** The step could not run at all (a server unreachable): exit 2, not a refusal (exit 1). */
    readonly couldNotRun = false,
    cause?: unknown,
  ) {
    super(message);
    this.name = "ReplicationError";
    // The driver's error, so a lost connection can be told from a refusal (never printed).
    if (cause !== undefined) Object.defineProperty(this, "cause", { value: cause, enumerable: false });
  }
}

const NAME = /^[a-z][a-z0-9_]{0,50}$/;

export function names(opts: LogicalOptions) {
  if (!NAME.test(opts.name))
    throw new ReplicationError(
      `replication name "${opts.name}" is not usable`,
      "expected lowercase letters, digits and _ (at most 51), starting with a letter",
    );
  return {
    publication: opts.name,
    insertOnly: `${opts.name}_insert_only`,
    subscription: opts.name,
  };
}

export const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;
export const literal = (s: string) => `'${s.replace(/'/g, "''")}'`;

async function connect(url: string, timeoutMs: number, connectMs: number, role: string): Promise<Client> {
  const config: ClientConfig = {
    connectionString: url,
    connectionTimeoutMillis: connectMs,
    statement_timeout: timeoutMs,
    query_timeout: timeoutMs + 1000,
    application_name: "cutover-replication",
  };
  const client = new Client(config);
  client.on("error", () => undefined);
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    const timedOut = /timeout expired|connection timeout/i.test((error as Error).message);
    throw new ReplicationError(
      timedOut
        ? `cannot connect to the ${role}: no answer within ${connectMs / 1000} s (--connect-timeout)`
        : `cannot connect to the ${role}: ${(error as Error).message}`,
      timedOut
        ? `check that the ${role} host is reachable from here (firewall, allow-list, IPv6), or raise --connect-timeout`
        : `check the ${role} URL (host, port, password, sslmode)`,
      true,
      error,
    );
  }
  return client;
}

export async function withBoth<T>(
  opts: LogicalOptions,
  work: (source: Client, destination: Client) => Promise<T>,
): Promise<T> {
  const timeout = opts.timeoutMs ?? 30_000;
  const connectMs = opts.connectTimeoutMs ?? 10_000;
  const source = await connect(opts.source, timeout, connectMs, "source");
  // The app's role may be frozen read-only on the source (freezeSource): these steps still write DDL.
  await source.query("SET default_transaction_read_only = off");
  try {
    const destination = await connect(opts.destination, timeout, connectMs, "destination");
    try {
      return await work(source, destination);
    } finally {
      await destination.end().catch(() => undefined);
    }
  } finally {
    await source.end().catch(() => undefined);
  }
}

export interface SourceTable {
  readonly table: string;
  /** A primary key or another replica identity: updates and deletes can be published. */
  readonly identity: boolean;
}

/** The tables of the published schemas that logical replication can carry (unlogged ones cannot). */
export async function sourceTables(source: Client, schemas: readonly string[]): Promise<SourceTable[]> {
  const { rows } = await source.query<{ name: string; identity: boolean }>(
    `select format('%I.%I', n.nspname, c.relname) as name,
            (c.relreplident = 'f' or (c.relreplident in ('d', 'i') and exists (
               select 1 from pg_index i where i.indrelid = c.oid
                 and ((c.relreplident = 'd' and i.indisprimary) or (c.relreplident = 'i' and i.indisreplident))))) as identity
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('r', 'p') and not c.relispartition and c.relpersistence = 'p'
        and n.nspname = any($1)
      order by 1`,
    [schemas],
  );
  return rows.map((r) => ({ table: r.name, identity: r.identity }));
}

export async function exists(client: Client, sql: string, params: unknown[]): Promise<boolean> {
  return (await client.query<{ e: boolean }>(`select exists(${sql}) as e`, params)).rows[0].e;
}

/** pg_dump or psql, bounded: PGCONNECT_TIMEOUT for the connection, ten statement bounds for the whole run. */
export function run(opts: LogicalOptions, bin: string, args: string[], input?: string): Promise<string> {
  const tool = bin.split("/").pop();
  const limitMs = 10 * (opts.timeoutMs ?? 30_000);
  const connectS = Math.max(1, Math.round((opts.connectTimeoutMs ?? 10_000) / 1000));
  return new Promise((resolve, reject) => {
    const child = execFile(
      bin,
      args,
      {
        maxBuffer: 256 * 1024 * 1024,
        timeout: limitMs,
        env: { ...process.env, PGCONNECT_TIMEOUT: String(connectS) },
      },
      (error, stdout, stderr) => {
        if (error?.killed)
          reject(
            new ReplicationError(
              `${tool} did not finish within ${limitMs / 1000} s (ten times --query-timeout)`,
              "check the server (a lock held on a table, a silent server), or raise --query-timeout",
              true,
            ),
          );
        else if (error) reject(new ReplicationError(`${tool} failed: ${stderr.trim() || error.message}`));
        else resolve(stdout);
      },
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}
