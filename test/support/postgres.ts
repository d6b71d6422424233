/**
 * Real PostgreSQL servers for integration tests: the project's local launcher, with every server
 * recorded so that the harness can check none is left running.
 */
import {
  startPostgres as startLocal,
  type PgServer,
  type StartPostgresOptions,
} from "../../tooling/local-postgres";
import { Client } from "pg";
import { recordServer } from "./servers";

export {
  EMBEDDED_DIR,
  freePort,
  reachableBy,
  serverAccount,
  type PgServer,
  type StartPostgresOptions,
} from "../../tooling/local-postgres";

export function startPostgres(opts: StartPostgresOptions = {}): Promise<PgServer> {
  return startLocal({ ...opts, onSpawn: (pid) => recordServer("postgres", pid) });
}

/** One statement on its own connection: the rows it returns. */
export async function query(
  url: string,
  sql: string,
  params: unknown[] = [],
): Promise<Record<string, unknown>[]> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql, params)).rows;
  } finally {
    await c.end();
  }
}
