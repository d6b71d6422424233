/**
 * Real PostgreSQL servers for integration tests: the project's local launcher, with every server
 * recorded so that the harness can check none is left running.
 */
import {
  startPostgres as startLocal,
  type PgServer,
  type StartPostgresOptions,
} from "../../tooling/local-postgres";
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
