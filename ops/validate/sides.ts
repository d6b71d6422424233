/**
 * The two engines as a {@link Database}: a PostgreSQL connection and a D1 executor, however they were
 * opened (the CLI's URLs and proxies, or the comparison Worker's Hyperdrive and D1 bindings).
 */
import type { EndpointFingerprint } from "../../infra/engine/gates";
import type { Database } from "./database";
import { D1Table, d1Shape, type D1Executor } from "./d1";
import { quoteIdent } from "./pg-sql";
import { PgTable, type PgConnection } from "./postgres";

export function postgresDatabase(conn: PgConnection, label: string, schema: string): Database {
  return {
    label,
    engine: "postgres",
    shape: (table) => conn.shape(schema, table),
    table: (name, keys, columns) => new PgTable(conn, schema, name, keys, columns),
    native: (name) => ({ name, conn, table: `${quoteIdent(schema)}.${quoteIdent(name)}` }),
    identity: () => ({
      ...conn.where(),
      ...(conn.systemIdentifier ? { systemIdentifier: conn.systemIdentifier } : {}),
    }),
    statements: () => conn.statements,
    close: () => conn.close(),
  };
}

export function d1Database(
  db: D1Executor,
  label: string,
  /** @default a Worker's binding, named by `label` */
  identity: Omit<EndpointFingerprint, "role"> = { host: "d1-binding", port: 0, database: label },
): Database {
  return {
    label,
    engine: "d1",
    identity: () => identity,
    shape: (table) => d1Shape(db, table),
    table: (name, keys, columns) => new D1Table(db, name, keys, columns),
    close: () => db.close(),
  };
}
