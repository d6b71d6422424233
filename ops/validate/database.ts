/**
 * One side of the comparison, whatever the engine: its tables' shapes and a {@link TableSide} per
 * table. PostgreSQL and D1 adapters sit behind this so run.ts holds no engine-specific code.
 */
import type { Endpoint } from "./endpoint";
import type { EndpointFingerprint } from "../../infra/engine/gates";
import type { NativeSide } from "./pg-native";
import { PgConnection, type Timeouts } from "./postgres";
import { d1Database, postgresDatabase } from "./sides";
import type { Checksum, Column, TableShape, TableSide } from "./types";

export type ComparableTable = TableSide & { tableChecksum(): Promise<Checksum> };

export interface Database {
  readonly label: string;
  readonly engine: "postgres" | "d1";
  shape(table: string): Promise<TableShape | undefined>;
  table(name: string, keys: readonly Column[], columns: readonly Column[]): ComparableTable;
  /** PostgreSQL only: the table for the comparison on the database's own checksums. */
  native?(name: string): NativeSide;
  /** What this side is, for the evidence: host, port, database and (PostgreSQL) system identifier. */
  identity(): Omit<EndpointFingerprint, "role">;
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
  if (endpoint.kind === "postgres")
    return postgresDatabase(
      await PgConnection.open(endpoint.url, endpoint.label, opts.timeouts),
      endpoint.label,
      opts.schema,
    );
  // Loaded only for D1: the Cloudflare SDK alone takes most of a PostgreSQL-only run's start-up.
  const { openD1 } = await import("./d1-connect");
  // A remote D1 is named by its id; a local one by its name, never mistaken for a remote one.
  const identity =
    endpoint.kind === "d1-remote"
      ? { host: `cloudflare:${endpoint.accountId}`, port: 443, database: endpoint.databaseId }
      : { host: "d1-local", port: 0, database: endpoint.database };
  return d1Database(await openD1(endpoint, opts.timeouts, opts.env), endpoint.label, identity);
}
