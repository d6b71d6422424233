/**
 * The PostgreSQL side: catalog lookups and keyset pages in (updated_at, primary key) order. Every value
 * is read as PostgreSQL's text (no JS Date or float parsing), so nothing is rounded on the way.
 */
import { Client, type QueryResultRow } from "pg";
import { BoundedConnectionError } from "../lib/errors";
import { quoteIdent } from "./statements";
import { selectExpression, type PgColumn } from "./types";

/** Returns the text output of every type unchanged. */
export const RAW_TEXT = { getTypeParser: () => (value: string) => value };

/** How long a connection may take and a statement may go unanswered, and which side it is. */
export interface ConnectBounds {
  /** Named in every message: "legacy", "target". */
  readonly side?: string;
  /** @default 10000 */
  readonly connectTimeoutMs?: number;
  /** A statement with no reply for this long ends the command (a server that went silent). @default 300000 */
  readonly queryTimeoutMs?: number;
}

export const DEFAULT_BOUNDS = { connectTimeoutMs: 10_000, queryTimeoutMs: 300_000 } as const;

const where = (connectionString: string) => {
  try {
    const u = new URL(connectionString);
    return `${u.hostname}:${u.port || "5432"}`;
  } catch {
    return "the server";
  }
};

export async function connectSource(connectionString: string, bounds: ConnectBounds = {}): Promise<Client> {
  const side = bounds.side ?? "database";
  const connectMs = bounds.connectTimeoutMs ?? DEFAULT_BOUNDS.connectTimeoutMs;
  const queryMs = bounds.queryTimeoutMs ?? DEFAULT_BOUNDS.queryTimeoutMs;
  let parsed: URL | undefined;
  try {
    parsed = new URL(connectionString);
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || !/^postgres(ql)?:$/.test(parsed.protocol))
    throw new BoundedConnectionError(
      `the ${side} database URL is not a postgres:// URL; hint: postgres://<user>:<password>@<host>:5432/<database>`,
      true,
      false,
    );
  const client = new Client({
    connectionString,
    application_name: "cutover-backfill",
    connectionTimeoutMillis: connectMs,
  });
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    const e = error as Error & { code?: string };
    const at = where(connectionString);
    if (/timeout/i.test(e.message))
      throw new BoundedConnectionError(
        `the ${side} database at ${at} did not answer within ${connectMs / 1000} s (connect timeout; --connect-timeout)`,
        true,
      );
    const user = decodeURIComponent(parsed.username || "(none)");
    const known: Record<string, string> = {
      ENOTFOUND: `the ${side} database host ${parsed.hostname} was not found (DNS); check the ${side} URL`,
      EAI_AGAIN: `the ${side} database host ${parsed.hostname} could not be resolved now (DNS); check the network`,
      ECONNREFUSED: `the ${side} database at ${at} refused the connection; is the server up and is this its port?`,
      "28P01": `the ${side} database at ${at} refused the password of user ${user}; check the ${side} URL or password variable`,
      "28000": `the ${side} database at ${at} does not let user ${user} in (pg_hba or role); check the ${side} URL`,
      "3D000": `the ${side} database at ${at} has no database ${decodeURIComponent(parsed.pathname.slice(1))}; check the ${side} URL`,
    };
    const transient = e.code === "ECONNREFUSED" || e.code === "EAI_AGAIN";
    if (e.code && known[e.code]) throw new BoundedConnectionError(known[e.code], true, transient);
    throw error;
  }
  // A statement that outlives its bound ends the connection (its state is unknown) and rejects naming
  // the side and the bound. Only awaited statements are bounded here: a COPY stream is not (pg's own
  // query_timeout would leave its timer armed for a stream and fail a long copy after the bound).
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  (client as unknown as { query: unknown }).query = (...args: unknown[]) => {
    const pending = query(...args);
    if (!(pending instanceof Promise)) return pending;
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(
          new BoundedConnectionError(
            `the ${side} database at ${where(connectionString)} gave no reply within ${queryMs / 1000} s (query timeout; --query-timeout)`,
            false,
          ),
        );
        (
          client as unknown as { connection?: { stream?: { destroy(): void } } }
        ).connection?.stream?.destroy();
      }, queryMs);
    });
    pending.catch(() => undefined); // once the bound has rejected, the dropped statement's own error is moot
    return Promise.race([pending, bound]).finally(() => clearTimeout(timer));
  };
  // Fixed output formats: the type mapping and the watermark rely on them.
  // IntervalStyle and bytea_output too: a server or role configured otherwise would print another text,
  // and validate (which pins the same ones) would then see a difference that is only a print style.
  await client.query(
    "SET TIME ZONE 'UTC'; SET DateStyle = 'ISO, YMD'; SET extra_float_digits = 1; SET IntervalStyle = 'postgres'; SET bytea_output = 'hex'",
  );
  return client;
}

export async function describeTable(client: Client, schema: string, table: string): Promise<PgColumn[]> {
  // atthasdef: a new-store column with a default may have no legacy counterpart.
  const { rows } = await client.query<PgColumn & QueryResultRow>(
    `SELECT a.attname AS name,
            coalesce(bt.typname, t.typname) AS type,
            coalesce(bt.typcategory, t.typcategory) AS category,
            format_type(a.atttypid, a.atttypmod) AS "sqlType",
            a.attnotnull AS "notNull",
            a.atthasdef AS "hasDefault"
       FROM pg_attribute a
       JOIN pg_class c ON c.oid = a.attrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_type t ON t.oid = a.atttypid
       LEFT JOIN pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype
      WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attnum`,
    [schema, table],
  );
  return rows;
}

/** Position after which the next page starts: updated_at and primary key as PostgreSQL printed them. */
export interface Watermark {
  readonly updatedAt: string;
  readonly key: readonly string[];
}

export interface KeysetQuery {
  readonly schema: string;
  readonly table: string;
  /** Columns to read, in the order of the D1 table. */
  readonly columns: readonly PgColumn[];
  readonly primaryKey: readonly PgColumn[];
  readonly updatedAt: PgColumn;
}

/** `coalesce` only where needed: rows with a NULL updated_at sort first (as -infinity) instead of vanishing. */
export function orderKey(q: KeysetQuery): string[] {
  const u = quoteIdent(q.updatedAt.name);
  return [
    q.updatedAt.notNull ? u : `coalesce(${u}, '-infinity')`,
    ...q.primaryKey.map((c) => quoteIdent(c.name)),
  ];
}

/**
 * The time bounds of one run, read once from the legacy clock: rows changed after `cutoff` (now minus
 * the settle window) are held back from the watermark, because a transaction still open may commit an
 * updated_at older than them; rows dated after `now` are in the future and would otherwise wait for it.
 */
export interface RunWindow {
  readonly cutoff: string;
  readonly now: string;
}

export async function runWindow(client: Client, settleSeconds: number): Promise<RunWindow> {
  const { rows } = await client.query({
    text: "SELECT (now() - make_interval(secs => $1::float8))::text AS cutoff, now()::text AS now",
    values: [settleSeconds],
    types: RAW_TEXT,
  });
  return { cutoff: rows[0].cutoff, now: rows[0].now };
}

/**
 * Which side of the cutoff a read takes: `settled` rows (up to it, the keyset pass that moves the
 * watermark), rows `beyond` it (copied ahead of the watermark, read again by the next run), or `all`.
 */
export type Side = "settled" | "beyond" | "all";

/**
 * WHERE clause and parameters for rows after `after` on one side of the window's cutoff. With
 * `literal` (a client's escapeLiteral) the values are written into the SQL instead, for COPY, which
 * takes no parameters.
 */
export function keysetFilter(
  q: KeysetQuery,
  after: Watermark | undefined,
  window: RunWindow | undefined,
  side: Side,
  literal?: (value: string) => string,
) {
  const key = orderKey(q);
  const params: unknown[] = [];
  const bind = (value: string | number) => {
    if (literal) return literal(String(value));
    params.push(value);
    return `$${params.length}`;
  };
  const clauses: string[] = [];
  if (window && side !== "all")
    clauses.push(`${key[0]} ${side === "settled" ? "<=" : ">"} ${bind(window.cutoff)}::timestamptz`);
  if (after) {
    const types = [q.updatedAt, ...q.primaryKey].map((c) => c.sqlType);
    const placeholders = [after.updatedAt, ...after.key].map((v, i) => `${bind(v)}::${types[i]}`);
    clauses.push(`(${key.join(", ")}) > (${placeholders.join(", ")})`);
  }
  return { where: clauses.join(" AND ") || "true", params, orderBy: key.join(", ") };
}

export const from = (q: KeysetQuery) => `${quoteIdent(q.schema)}.${quoteIdent(q.table)}`;

export async function countAfter(
  client: Client,
  q: KeysetQuery,
  after: Watermark | undefined,
  window?: RunWindow,
  side: Side = "all",
): Promise<number> {
  const f = keysetFilter(q, after, window, side);
  const { rows } = await client.query({
    text: `SELECT count(*) AS n FROM ${from(q)} WHERE ${f.where}`,
    values: f.params,
    types: RAW_TEXT,
  });
  return Number(rows[0].n);
}

/** Rows after the watermark that the keyset pass held back, and why. */
export interface HeldBack {
  /** Changed within the settle window: the next run takes them once they settle. */
  readonly settling: number;
  /** Dated after the legacy clock's now: they would wait for that date. */
  readonly future: number;
}

export async function heldBack(
  client: Client,
  q: KeysetQuery,
  after: Watermark | undefined,
  window: RunWindow,
): Promise<HeldBack> {
  const f = keysetFilter(q, after, window, "beyond");
  const u = orderKey(q)[0];
  const { rows } = await client.query({
    text:
      `SELECT count(*) FILTER (WHERE ${u} <= $${f.params.length + 1}::timestamptz) AS settling, ` +
      `count(*) FILTER (WHERE ${u} > $${f.params.length + 1}::timestamptz) AS future FROM ${from(q)} WHERE ${f.where}`,
    values: [...f.params, window.now],
    types: RAW_TEXT,
  });
  return { settling: Number(rows[0].settling), future: Number(rows[0].future) };
}

/** One page: the selected columns (raw text) plus the row's keyset position. */
export interface SourcePage {
  readonly rows: (string | null)[][];
  readonly last?: Watermark;
}

export async function readPage(
  client: Client,
  q: KeysetQuery,
  after: Watermark | undefined,
  window: RunWindow,
  side: Side,
  limit: number,
): Promise<SourcePage> {
  const f = keysetFilter(q, after, window, side);
  const select = q.columns.map((c) => selectExpression(c, quoteIdent(c.name)));
  // The keyset columns travel again as raw text at the end: the watermark must be PostgreSQL's own value.
  const keys = orderKey(q).map((k, i) => `${k}::text AS "__k${i}"`);
  const result = await client.query({
    text: `SELECT ${[...select, ...keys].join(", ")} FROM ${from(q)} WHERE ${f.where} ORDER BY ${f.orderBy} LIMIT ${Math.floor(limit)}`,
    values: f.params,
    types: RAW_TEXT,
    rowMode: "array",
  });
  const rows = result.rows as (string | null)[][];
  const width = q.columns.length;
  const lastRow = rows[rows.length - 1];
  const last = lastRow && {
    updatedAt: lastRow[width] as string,
    key: lastRow.slice(width + 1) as string[],
  };
  return { rows: rows.map((r) => r.slice(0, width)), last };
}
