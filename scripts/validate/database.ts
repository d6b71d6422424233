/**
 * One side of the comparison, whatever the engine: its tables' shapes and a {@link TableSide} per
 * table. PostgreSQL and D1 adapters sit behind this so run.ts holds no engine-specific code.
 */
import { D1Table, d1Shape } from "./d1";
import type { Endpoint } from "./endpoint";
import { quoteIdent } from "./pg-sql";
import type { NativeSide } from "./pg-native";
import { PgConnection, PgTable, type Timeouts } from "./postgres";
import type { Checksum, Column, TableShape, TableSide } from "./types";

export type ComparableTable = TableSide & { tableChecksum(): Promise<Checksum> };

export interface Database {
  readonly label: string;
  readonly engine: "postgres" | "d1";
  shape(table: string): Promise<TableShape | undefined>;
  table(name: string, keys: readonly Column[], columns: readonly Column[]): ComparableTable;
  /** PostgreSQL only: the table for the comparison on the database's own checksums. */
  native?(name: string): NativeSide;
  /** Statements sent so far (PostgreSQL). */
  statements?(): number;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** PostgreSQL schema holding the tables. */
  readonly schema: string;
  readonly timeouts: Timeouts;
  readonly env: NodeJS.ProcessEnv;
}

export async function openDatabase(endpoint: Endpoint, opts: OpenOptions): Promise<Database> {
  if (endpoint.kind === "postgres") {
    const conn = await PgConnection.open(endpoint.url, endpoint.label, opts.timeouts);
    return {
      label: endpoint.label,
      engine: "postgres",
      shape: (table) => conn.shape(opts.schema, table),
      table: (name, keys, columns) => new PgTable(conn, opts.schema, name, keys, columns),
      native: (name) => ({ name, conn, table: `${quoteIdent(opts.schema)}.${quoteIdent(name)}` }),
      statements: () => conn.statements,
      close: () => conn.close(),
    };
  }
  // Loaded only for D1: the Cloudflare SDK alone takes most of a PostgreSQL-only run's start-up.
  const { openD1 } = await import("./d1-connect");
  const db = await openD1(endpoint, opts.timeouts, opts.env);
  return {
    label: endpoint.label,
    engine: "d1",
    shape: (table) => d1Shape(db, table),
    table: (name, keys, columns) => new D1Table(db, name, keys, columns),
    close: () => db.close(),
  };
}
