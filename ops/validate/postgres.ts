/**
 * PostgreSQL side: one `pg` client per endpoint, connect and statement timeouts, every query bounded
 * (aggregates, or keyset pages with LIMIT). Checksums run inside the database.
 */
import { Client } from "pg";
import { readSystemIdentifier } from "../lib/fingerprint";
import { describeFailure, ValidateError } from "./errors";
import {
  checksumSql,
  digestPageSql,
  digestsOfSql,
  pgFamily,
  quoteIdent,
  randomKeysSql,
  splitPointsSql,
  tableChecksumSql,
  type PgTableSql,
} from "./pg-sql";
import type { Checksum, Column, Key, KeyRange, RowDigest, TableShape, TableSide } from "./types";

export interface Timeouts {
  readonly connectMs: number;
  readonly statementMs: number;
}

const PAGE_ROWS = 2000;

/**
 * Every setting that changes how a value prints, pinned on each connection so that two servers (and
 * two sessions) configured differently print equal values alike: timestamps in UTC, ISO dates with the
 * era, intervals in PostgreSQL's own style, floats at their shortest exact text, bytea in hex. And one
 * planner setting (below).
 */
export const PINNED_SETTINGS: Readonly<Record<string, string>> = {
  TimeZone: "UTC",
  DateStyle: "ISO, MDY",
  IntervalStyle: "postgres",
  extra_float_digits: "1",
  bytea_output: "hex",
  // Not an output setting: the planner cannot know that a GROUP BY over key buckets yields a few
  // thousand groups, estimates one per row, and sorts the whole table (to disk) instead of hashing
  // the groups in memory. Forbidding sorts makes it hash; every ORDER BY here follows the primary
  // key, which its index serves.
  enable_sort: "off",
};
const KEYS_PER_LOOKUP = 500;

const SHAPE_SQL = `
SELECT a.attname AS name, format_type(a.atttypid, NULL) AS sql_type, b.typname, b.typcategory,
       CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END AS typmod,
       coalesce((SELECT k.n FROM unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) WHERE k.attnum = a.attnum), 0)::int
         AS pk_position
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type t ON t.oid = a.atttypid
JOIN pg_type b ON b.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum`;

export class PgConnection {
  /** Statements sent on this connection (the benchmark reports them per side). */
  statements = 0;
  /** `server_version_num`, read once at connect. */
  versionNum = 0;
  /** The cluster's `system_identifier`, when this role may read `pg_control_system()`. */
  systemIdentifier?: string;

  private constructor(
    private readonly client: Client,
    readonly label: string,
  ) {}

  static async open(url: string, label: string, timeouts: Timeouts): Promise<PgConnection> {
    const client = new Client({
      connectionString: url,
      connectionTimeoutMillis: timeouts.connectMs,
      statement_timeout: timeouts.statementMs,
      // The server-side timeout cannot fire when the server is gone: bound the wait on our side too.
      query_timeout: timeouts.statementMs + timeouts.connectMs,
      application_name: "cutover-validate",
    });
    // A server dying between queries emits 'error' on the client; the next query reports it.
    client.on("error", () => undefined);
    try {
      await client.connect();
    } catch (error) {
      await client.end().catch(() => undefined);
      const { reason, hint } = describeFailure(error);
      throw new ValidateError(`cannot connect to ${label}: ${reason}`, hint, error);
    }
    const conn = new PgConnection(client, label);
    const pins = Object.entries(PINNED_SETTINGS)
      .map(([k, v]) => `set_config('${k}', '${v}', false)`)
      .join(", ");
    try {
      const [row] = await conn.query<{ v: string }>(
        `SELECT ${pins}, current_setting('server_version_num') AS v`,
        [],
        "pinning the session's output settings",
      );
      conn.versionNum = Number(row.v);
    } catch (error) {
      await conn.close();
      throw error;
    }
    // What the evidence records to tell this cluster from another (a laptop's, staging's): not every
    // role may read it (a managed server may revoke it), and its absence is recorded as such.
    conn.systemIdentifier = await readSystemIdentifier(client);
    return conn;
  }

  /** Where this connection went, without the user or password. */
  where(): { host: string; port: number; database: string } {
    return { host: this.client.host, port: this.client.port, database: this.client.database ?? "" };
  }

  async query<T extends Record<string, unknown>>(
    sql: string,
    params: unknown[],
    doing: string,
  ): Promise<T[]> {
    this.statements++;
    try {
      return (await this.client.query<T>(sql, params)).rows;
    } catch (error) {
      const { reason, hint } = describeFailure(error);
      throw new ValidateError(`${this.label} failed while ${doing}: ${reason}`, hint, error);
    }
  }

  async shape(schema: string, table: string): Promise<TableShape | undefined> {
    const rows = await this.query<{
      name: string;
      sql_type: string;
      typname: string;
      typcategory: string;
      typmod: number;
      pk_position: number;
    }>(SHAPE_SQL, [schema, table], `reading the columns of ${schema}.${table}`);
    if (rows.length === 0) return undefined;
    const columns: Column[] = rows.map((r) => ({
      name: r.name,
      sqlType: r.sql_type,
      family: pgFamily(r.typname, r.typcategory),
      pg: { typname: r.typname, typmod: r.typmod },
    }));
    const primaryKey = rows
      .filter((r) => r.pk_position > 0)
      .sort((a, b) => a.pk_position - b.pk_position)
      .map((r) => r.name);
    return { columns, primaryKey };
  }

  async close(): Promise<void> {
    await this.client.end().catch(() => undefined);
  }
}

const toChecksum = (row: { n: string; s: string }): Checksum => ({
  count: Number(row.n),
  sum: BigInt(row.s),
});
const keyOf = (row: Record<string, unknown>, width: number): Key =>
  Array.from({ length: width }, (_, i) => row[`k${i}`] as string);

export class PgTable implements TableSide {
  readonly hashesInDatabase = true;
  private readonly sql: PgTableSql;

  constructor(
    private readonly conn: PgConnection,
    schema: string,
    private readonly name: string,
    keys: readonly Column[],
    columns: readonly Column[],
  ) {
    this.sql = { table: `${quoteIdent(schema)}.${quoteIdent(name)}`, keys, columns };
  }

  async count(): Promise<number> {
    const [row] = await this.conn.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM ${this.sql.table}`,
      [],
      `counting rows of ${this.name}`,
    );
    return Number(row.n);
  }

  async checksum(range: KeyRange): Promise<Checksum> {
    const q = checksumSql(this.sql, range);
    const [row] = await this.conn.query<{ n: string; s: string }>(
      q.sql,
      q.params,
      `checksumming ${this.name}`,
    );
    return toChecksum(row);
  }

  async tableChecksum(): Promise<Checksum> {
    const [row] = await this.conn.query<{ n: string; s: string }>(
      tableChecksumSql(this.sql.table, this.sql.columns),
      [],
      `checksumming ${this.name}`,
    );
    return toChecksum(row);
  }

  async splitPoints(range: KeyRange, parts: number, rows: number): Promise<Key[]> {
    const q = splitPointsSql(this.sql, range, Math.max(1, Math.ceil(rows / parts)), rows);
    const found = await this.conn.query(q.sql, q.params, `splitting ${this.name} into key ranges`);
    return found.map((r) => keyOf(r, this.sql.keys.length));
  }

  async *digests(range: KeyRange): AsyncIterable<RowDigest> {
    let after: Key | undefined;
    for (;;) {
      const q = digestPageSql(this.sql, range, after, PAGE_ROWS);
      const rows = await this.conn.query(q.sql, q.params, `reading rows of ${this.name}`);
      for (const r of rows) yield { key: keyOf(r, this.sql.keys.length), digest: r.d as string };
      if (rows.length < PAGE_ROWS) return;
      after = keyOf(rows[rows.length - 1], this.sql.keys.length);
    }
  }

  async digestsOf(keys: readonly Key[]): Promise<RowDigest[]> {
    const out: RowDigest[] = [];
    for (let i = 0; i < keys.length; i += KEYS_PER_LOOKUP) {
      const q = digestsOfSql(this.sql, keys.slice(i, i + KEYS_PER_LOOKUP));
      const rows = await this.conn.query(q.sql, q.params, `reading sampled rows of ${this.name}`);
      out.push(...rows.map((r) => ({ key: keyOf(r, this.sql.keys.length), digest: r.d as string })));
    }
    return out;
  }

  async randomKeys(n: number): Promise<Key[]> {
    const rows = await this.conn.query(
      randomKeysSql(this.sql, n, await this.count()),
      [],
      `sampling ${this.name}`,
    );
    return rows.map((r) => keyOf(r, this.sql.keys.length));
  }
}
