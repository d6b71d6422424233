/**
 * D1 side. SQLite has no hash function, so rows are read in keyset pages and hashed here with the
 * same md5 the PostgreSQL side computes in the database (the row text is identical after
 * normalization). Local D1 is opened in-process through wrangler's getPlatformProxy (the same state
 * `wrangler d1 execute --local` uses); remote D1 through the official `cloudflare` client.
 */
import {
  rowPageSql,
  rowidPageSql,
  randomKeysSql,
  rowsOfSql,
  splitPointsSql,
  type D1TableSql,
} from "./d1-sql";
import { hash60, md5Hex, encodeToken, normalizeValue, type SqliteValue } from "./normalize";
import { quoteIdent } from "./pg-sql";
import type { Checksum, Column, Family, Key, KeyRange, RowDigest, TableShape, TableSide } from "./types";

type Row = Record<string, SqliteValue>;

/** Runs one statement and returns its rows; `label` names the database (never a token). */
export interface D1Executor {
  readonly label: string;
  query(sql: string, params: readonly string[], doing: string): Promise<Row[]>;
  close(): Promise<void>;
}

const PAGE_ROWS = 1000;
/** D1 allows 100 bound parameters per statement. */
const MAX_PARAMS = 100;

/** Family of a D1-only column, from its declared type (SQLite affinity rules, roughly). */
export function sqliteFamily(declared: string): Family {
  const t = declared.toUpperCase();
  if (t.includes("INT")) return "int";
  if (/REAL|FLOA|DOUB/.test(t)) return "float";
  if (t.includes("BLOB")) return "bytes";
  if (t.includes("BOOL")) return "bool";
  return "text";
}

export async function d1Shape(db: D1Executor, table: string): Promise<TableShape | undefined> {
  const rows = await db.query(
    `PRAGMA table_info(${quoteIdent(table)})`,
    [],
    `reading the columns of ${table}`,
  );
  if (rows.length === 0) return undefined;
  const columns: Column[] = rows.map((r) => ({
    name: String(r.name),
    sqlType: String(r.type ?? ""),
    family: sqliteFamily(String(r.type ?? "")),
  }));
  const primaryKey = rows
    .filter((r) => Number(r.pk) > 0)
    .sort((a, b) => Number(a.pk) - Number(b.pk))
    .map((r) => String(r.name));
  return { columns, primaryKey };
}

export class D1Table implements TableSide {
  readonly hashesInDatabase = false;
  private readonly sql: D1TableSql;

  /** `keys` and `columns` carry the families of the PostgreSQL side, so values normalize alike. */
  constructor(
    private readonly db: D1Executor,
    private readonly name: string,
    keys: readonly Column[],
    columns: readonly Column[],
  ) {
    this.sql = { table: name, keys, columns };
  }

  private keyOf(row: Row): Key {
    return this.sql.keys.map((k, i) => normalizeValue(k.family, row[`k${i}`] as Exclude<SqliteValue, null>));
  }

  private digestOf(row: Row): string {
    const text = this.sql.columns
      .map((c, i) => {
        const v = row[`c${i}`];
        return encodeToken(v === null || v === undefined ? null : normalizeValue(c.family, v));
      })
      .join("");
    return md5Hex(text);
  }

  async count(): Promise<number> {
    const [row] = await this.db.query(
      `SELECT count(*) AS n FROM ${quoteIdent(this.name)}`,
      [],
      `counting rows of ${this.name}`,
    );
    return Number(row.n);
  }

  async checksum(range: KeyRange): Promise<Checksum> {
    let count = 0;
    let sum = 0n;
    for await (const row of this.digests(range)) {
      count++;
      sum += hash60(row.digest);
    }
    return { count, sum };
  }

  /** Whole-table checksum for tables without a primary key, read by rowid. */
  async tableChecksum(): Promise<Checksum> {
    let count = 0;
    let sum = 0n;
    let after: string | undefined;
    for (;;) {
      const q = rowidPageSql(this.sql, after, PAGE_ROWS);
      const rows = await this.db.query(q.sql, q.params, `reading rows of ${this.name}`);
      for (const r of rows) {
        count++;
        sum += hash60(this.digestOf(r));
      }
      if (rows.length < PAGE_ROWS) return { count, sum };
      after = String(rows[rows.length - 1].r);
    }
  }

  async splitPoints(range: KeyRange, parts: number, rows: number): Promise<Key[]> {
    const q = splitPointsSql(this.sql, range, Math.max(1, Math.ceil(rows / parts)), rows);
    const found = await this.db.query(q.sql, q.params, `splitting ${this.name} into key ranges`);
    return found.map((r) => this.keyOf(r));
  }

  async *digests(range: KeyRange): AsyncIterable<RowDigest> {
    let after: Key | undefined;
    for (;;) {
      const q = rowPageSql(this.sql, range, after, PAGE_ROWS);
      const rows = await this.db.query(q.sql, q.params, `reading rows of ${this.name}`);
      for (const r of rows) yield { key: this.keyOf(r), digest: this.digestOf(r) };
      if (rows.length < PAGE_ROWS) return;
      after = this.keyOf(rows[rows.length - 1]);
    }
  }

  async digestsOf(keys: readonly Key[]): Promise<RowDigest[]> {
    const batch = Math.floor(MAX_PARAMS / this.sql.keys.length);
    const out: RowDigest[] = [];
    for (let i = 0; i < keys.length; i += batch) {
      const q = rowsOfSql(this.sql, keys.slice(i, i + batch));
      const rows = await this.db.query(q.sql, q.params, `reading sampled rows of ${this.name}`);
      out.push(...rows.map((r) => ({ key: this.keyOf(r), digest: this.digestOf(r) })));
    }
    return out;
  }

  async randomKeys(n: number): Promise<Key[]> {
    const rows = await this.db.query(randomKeysSql(this.sql, n), [], `sampling ${this.name}`);
    return rows.map((r) => this.keyOf(r));
  }
}
