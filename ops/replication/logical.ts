/**
 * Over 300 lines: the logical path's steps share their SQL, their names and their idempotence checks
 * (each step finishes what a broken run left); each step is its own short function.
 *
 * The `replication: logical` path: PostgreSQL's own publication on the source and a subscription on
 * Cloud SQL, for sources that cannot feed Database Migration Service (no pglogical, no superuser:
 * Supabase). What it does, in order, each step idempotent so that a re-run finishes what a broken run
 * left:
 *
 *   start   the schema of the published schemas is copied (pg_dump --schema-only, applied with psql);
 *           one publication of every table with a replica identity, one insert-only publication of the
 *           tables without (publishing updates of such a table would make the source refuse them);
 *           a subscription on the destination with its own slot, which copies the data then streams
 *           changes.
 *   status  the slot's lag on the source, each table's copy state, the subscription's errors.
 *   stop    (the `promote` step) refuses unless every table finished its copy; takes the source's WAL
 *           position after the freeze as a marker and waits until the slot confirmed it; copies the
 *           sequence positions (logical replication does not carry them); drops the subscription
 *           (with its slot) and the publications. Cloud SQL was a primary throughout: nothing to
 *           promote, backups and PITR never stopped.
 */
import { execFile } from "node:child_process";
import { Client, type ClientConfig } from "pg";
import { UsageError } from "../lib/errors";
import { isConnectionLoss, reconnectWithBackoff } from "../lib/reconnect";

/** Where the two sides are; URLs carry credentials and are never printed. */
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

export interface TableState {
  readonly table: string;
  /** `init`, `copying`, `synced`, `ready` (streaming), or `missing` (not in the subscription yet). */
  readonly state: "init" | "copying" | "synced" | "ready" | "missing";
}

export interface LogicalStatus {
  readonly publication: boolean;
  readonly subscription: boolean;
  readonly enabled: boolean;
  /** WAL bytes the slot has not confirmed; null without a slot. */
  readonly lagBytes: number | null;
  readonly tables: readonly TableState[];
  /** Tables published insert-only (no replica identity): updates and deletes do not reach Cloud SQL. */
  readonly insertOnly: readonly string[];
  /** Apply and copy errors the subscription counted (PostgreSQL 15+), 0 when unknown. */
  readonly errors: number;
  /** Every table copied and streaming. */
  readonly ready: boolean;
}

export interface StopResult {
  /** The source WAL position taken after the freeze, which the slot confirmed before the stop. */
  readonly marker: string;
  readonly waitedMs: number;
  readonly sequences: number;
  /** False when an earlier run had already stopped this replication (nothing left to drop). */
  readonly stopped: boolean;
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

function names(opts: LogicalOptions) {
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

const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;
const literal = (s: string) => `'${s.replace(/'/g, "''")}'`;

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

async function withBoth<T>(
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

interface SourceTable {
  readonly table: string;
  /** A primary key or another replica identity: updates and deletes can be published. */
  readonly identity: boolean;
}

/** The tables of the published schemas that logical replication can carry (unlogged ones cannot). */
async function sourceTables(source: Client, schemas: readonly string[]): Promise<SourceTable[]> {
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

async function exists(client: Client, sql: string, params: unknown[]): Promise<boolean> {
  return (await client.query<{ e: boolean }>(`select exists(${sql}) as e`, params)).rows[0].e;
}

/** pg_dump or psql, bounded: PGCONNECT_TIMEOUT for the connection, ten statement bounds for the whole run. */
function run(opts: LogicalOptions, bin: string, args: string[], input?: string): Promise<string> {
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

/** The schema of the published schemas, copied once: a destination holding every table is left alone. */
async function copySchema(
  opts: LogicalOptions,
  destination: Client,
  tables: readonly SourceTable[],
): Promise<boolean> {
  const present = (
    await destination.query<{ name: string }>(
      `select format('%I.%I', n.nspname, c.relname) as name from pg_class c
         join pg_namespace n on n.oid = c.relnamespace where c.relkind in ('r', 'p') and n.nspname = any($1)`,
      [opts.schemas ?? ["public"]],
    )
  ).rows.map((r) => r.name);
  const missing = tables.filter((t) => !present.includes(t.table));
  if (missing.length === 0) return false;
  if (missing.length < tables.length)
    throw new ReplicationError(
      `the destination holds ${tables.length - missing.length} of the ${tables.length} source tables (missing: ${missing
        .slice(0, 5)
        .map((t) => t.table)
        .join(", ")}${missing.length > 5 ? ", …" : ""}): a schema copy half done, or another schema`,
      "start from an empty destination database: drop those tables there, or retry with the next attempt",
    );
  const bin = (tool: string) => (opts.binDir ? `${opts.binDir}/${tool}` : tool);
  const schemaArgs = (opts.schemas ?? ["public"]).flatMap((s) => ["--schema", s]);
  const dump = await run(opts, bin("pg_dump"), [
    "--schema-only",
    "--no-owner",
    "--no-privileges",
    "--no-publications",
    "--no-subscriptions",
    ...schemaArgs,
    "--dbname",
    opts.source,
  ]);
  // A schema named with --schema is dumped with its CREATE SCHEMA, and `public` exists everywhere.
  const script = dump.replace(/^CREATE SCHEMA (\S+);$/gm, "CREATE SCHEMA IF NOT EXISTS $1;");
  // psql, not the driver: current pg_dump writes psql meta-commands (\restrict).
  await run(opts, bin("psql"), ["-X", "-q", "-v", "ON_ERROR_STOP=1", "--dbname", opts.destination], script);
  return true;
}

function subscriberConnection(opts: LogicalOptions): string {
  if (opts.subscriberConnection) return opts.subscriberConnection;
  const url = new URL(opts.source);
  if (!url.searchParams.has("sslmode")) url.searchParams.set("sslmode", "require");
  return url.toString();
}

export interface StartResult {
  readonly schemaCopied: boolean;
  readonly publicationCreated: boolean;
  readonly subscriptionCreated: boolean;
  readonly tables: number;
  readonly insertOnly: readonly string[];
}

/** Creates what is missing: schema, publications, subscription. A second run changes nothing. */
export async function startLogical(opts: LogicalOptions): Promise<StartResult> {
  const n = names(opts);
  const schemas = opts.schemas ?? ["public"];
  return withBoth(opts, async (source, destination) => {
    const tables = await sourceTables(source, schemas);
    if (tables.length === 0)
      throw new ReplicationError(
        `no table to replicate in schema(s) ${schemas.join(", ")} of the source`,
        "check replication.schemas and the source database",
      );
    const subscribed = await exists(destination, "select 1 from pg_subscription where subname = $1", [
      n.subscription,
    ]);
    const schemaCopied = subscribed ? false : await copySchema(opts, destination, tables);

    let publicationCreated = false;
    const full = tables.filter((t) => t.identity).map((t) => t.table);
    const insertOnly = tables.filter((t) => !t.identity).map((t) => t.table);
    for (const [pub, list, options] of [
      [n.publication, full, "publish = 'insert, update, delete, truncate'"],
      [n.insertOnly, insertOnly, "publish = 'insert'"],
    ] as const) {
      if (list.length === 0) continue;
      if (await exists(source, "select 1 from pg_publication where pubname = $1", [pub])) continue;
      // FOR TABLE needs only ownership of each table; FOR ALL TABLES would need a superuser.
      await source.query(`create publication ${ident(pub)} for table ${list.join(", ")} with (${options})`);
      publicationCreated = true;
    }

    let subscriptionCreated = false;
    if (!subscribed) {
      const pubs = [full.length ? n.publication : "", insertOnly.length ? n.insertOnly : ""].filter(Boolean);
      // Outside a transaction: CREATE SUBSCRIPTION creates the slot on the source.
      await destination.query(
        `create subscription ${ident(n.subscription)} connection ${literal(subscriberConnection(opts))}
           publication ${pubs.map(ident).join(", ")}
           with (copy_data = true, create_slot = true, slot_name = ${literal(n.subscription)})`,
      );
      subscriptionCreated = true;
    }
    return { schemaCopied, publicationCreated, subscriptionCreated, tables: tables.length, insertOnly };
  });
}

const STATES: Record<string, TableState["state"]> = {
  i: "init",
  d: "copying",
  f: "copying",
  s: "synced",
  r: "ready",
};

async function readStatus(source: Client, destination: Client, opts: LogicalOptions): Promise<LogicalStatus> {
  const n = names(opts);
  const schemas = opts.schemas ?? ["public"];
  const publication = await exists(source, "select 1 from pg_publication where pubname = any($1)", [
    [n.publication, n.insertOnly],
  ]);
  const insertOnly = (
    await source.query<{ name: string }>(
      `select format('%I.%I', schemaname, tablename) as name from pg_publication_tables where pubname = $1 order by 1`,
      [n.insertOnly],
    )
  ).rows.map((r) => r.name);
  const sub = (
    await destination.query<{ oid: number; enabled: boolean }>(
      "select oid, subenabled as enabled from pg_subscription where subname = $1",
      [n.subscription],
    )
  ).rows[0];
  const slot = (
    await source.query<{ lag: string | null }>(
      `select pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint as lag
         from pg_replication_slots where slot_name = $1`,
      [n.subscription],
    )
  ).rows[0];
  const published = (await sourceTables(source, schemas)).map((t) => t.table);
  const rel = sub
    ? (
        await destination.query<{ name: string; state: string }>(
          `select format('%I.%I', n.nspname, c.relname) as name, r.srsubstate as state
             from pg_subscription_rel r join pg_class c on c.oid = r.srrelid
             join pg_namespace n on n.oid = c.relnamespace where r.srsubid = $1`,
          [sub.oid],
        )
      ).rows
    : [];
  const byName = new Map(rel.map((r) => [r.name, STATES[r.state] ?? "copying"]));
  const tables = published.map((table) => ({ table, state: byName.get(table) ?? ("missing" as const) }));
  let errors = 0;
  if (sub) {
    const stats = await destination.query<{ n: string }>(
      `select coalesce(sum(apply_error_count + sync_error_count), 0) as n from pg_stat_subscription_stats
        where subid = $1`,
      [sub.oid],
    );
    errors = Number(stats.rows[0]?.n ?? 0);
  }
  return {
    publication,
    subscription: Boolean(sub),
    enabled: sub?.enabled ?? false,
    lagBytes: slot?.lag === null || slot === undefined ? null : Number(slot.lag),
    tables,
    insertOnly,
    errors,
    ready: Boolean(sub?.enabled) && tables.length > 0 && tables.every((t) => t.state === "ready"),
  };
}

export function statusLogical(opts: LogicalOptions): Promise<LogicalStatus> {
  return ridingOut(opts, "status", () =>
    withBoth(opts, (source, destination) => readStatus(source, destination, opts)),
  );
}

/**
 * Runs a step again on new connections when either server restarts under it, with a bounded, announced
 * backoff (`giveUpMs`). Only steps that are safe to repeat go through here: status, the wait for the
 * copy, and stop (which takes a new marker, never older than the last, and finds what is already done).
 */
async function ridingOut<T>(opts: LogicalOptions, step: string, run: () => Promise<T>): Promise<T> {
  const say = opts.say ?? ((line: string) => process.stderr.write(line + "\n"));
  for (;;) {
    try {
      return await run();
    } catch (error) {
      if (!isConnectionLoss(error)) throw error;
      try {
        await reconnectWithBackoff(
          "the source and the destination",
          (error as Error).message,
          () => withBoth(opts, async () => undefined),
          {
            giveUpMs: opts.giveUpMs ?? 120_000,
            say: (line) => say(`replication ${step}: ${line}; the step starts again from what is committed`),
          },
        );
      } catch (failure) {
        if (failure instanceof UsageError)
          throw new ReplicationError(failure.message, failure.hint, true, error);
        throw failure;
      }
    }
  }
}

/** Waits until every table is copied and streaming (the end of the initial copy). */
export async function waitReady(
  opts: LogicalOptions,
  { timeoutMs = 600_000, pollMs = 500 } = {},
): Promise<LogicalStatus> {
  const started = Date.now();
  for (;;) {
    const status = await statusLogical(opts);
    if (status.ready) return status;
    if (Date.now() - started > timeoutMs) {
      const pending = status.tables.filter((t) => t.state !== "ready");
      throw new ReplicationError(
        `the initial copy is not done after ${Math.round(timeoutMs / 1000)} s: ${pending.length} table(s) not streaming (${pending
          .slice(0, 5)
          .map((t) => `${t.table} ${t.state}`)
          .join(", ")})`,
        "look at the destination's log for copy errors; status shows the progress",
      );
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/**
 * The promotion of the logical path. Refuses while a table is still copying (its rows would be lost);
 * waits until the slot confirms the marker, then moves the sequences and drops the replication. With the
 * replication already gone (a re-run after success), it does nothing and says so.
 */
export async function stopLogical(
  opts: LogicalOptions,
  { catchUpTimeoutMs = 120_000, pollMs = 100 } = {},
): Promise<StopResult> {
  const n = names(opts);
  return ridingOut(opts, "stop", () =>
    withBoth(opts, async (source, destination) => {
      const status = await readStatus(source, destination, opts);
      if (!status.subscription) {
        if (status.publication) await dropPublications(source, n);
        return { marker: "", waitedMs: 0, sequences: 0, stopped: false };
      }
      const pending = status.tables.filter((t) => t.state !== "ready");
      if (pending.length > 0)
        throw new ReplicationError(
          `refusing to stop replication: ${pending.length} table(s) have not finished their initial copy (${pending
            .slice(0, 5)
            .map((t) => `${t.table} ${t.state}`)
            .join(", ")})`,
          "wait until status says every table is ready, then promote again",
        );
      const marker = (await source.query<{ lsn: string }>("select pg_current_wal_lsn()::text as lsn")).rows[0]
        .lsn;
      const started = Date.now();
      for (;;) {
        const { rows } = await source.query<{ done: boolean | null }>(
          "select confirmed_flush_lsn >= $2::pg_lsn as done from pg_replication_slots where slot_name = $1",
          [n.subscription, marker],
        );
        if (rows[0]?.done) break;
        if (Date.now() - started > catchUpTimeoutMs)
          throw new ReplicationError(
            `replication has not confirmed the source's position ${marker} after ${Math.round(catchUpTimeoutMs / 1000)} s; nothing was stopped`,
            "check that writes are frozen (a source that keeps writing never lets the marker be reached) and the subscription's errors",
          );
        await new Promise((r) => setTimeout(r, pollMs));
      }
      const waitedMs = Date.now() - started;
      const sequences = await copySequences(source, destination, opts.schemas ?? ["public"]);
      // DROP SUBSCRIPTION drops its slot on the source too.
      await destination.query(`drop subscription ${ident(n.subscription)}`);
      await dropPublications(source, n);
      return { marker, waitedMs, sequences, stopped: true };
    }),
  );
}

async function dropPublications(source: Client, n: ReturnType<typeof names>): Promise<void> {
  await source.query(`drop publication if exists ${ident(n.publication)}, ${ident(n.insertOnly)}`);
}

/** Each sequence of the published schemas takes the source's position (logical replication skips them). */
async function copySequences(
  source: Client,
  destination: Client,
  schemas: readonly string[],
): Promise<number> {
  const { rows } = await source.query<{ name: string; last: string | null; called: boolean }>(
    `select format('%I.%I', schemaname, sequencename) as name, last_value::text as last,
            last_value is not null as called
       from pg_sequences where schemaname = any($1)`,
    [schemas],
  );
  let moved = 0;
  for (const r of rows) {
    if (r.last === null) continue; // never used on the source: the destination's start is right
    await destination.query("select setval($1::regclass, $2::bigint, true)", [r.name, r.last]);
    moved += 1;
  }
  return moved;
}
