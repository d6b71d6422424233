/**
 * The rehearsal's stand-ins for `replication: logical`:
 *   - a source laid out like Supabase: the app connects as a role that owns its tables and may
 *     replicate, but is no superuser; pglogical is not preloaded (so DMS could not read it);
 *   - the replication itself is the project's own code (`ops/replication/logical.ts`), the same the
 *     Cloud Run Jobs run: publication, subscription, status, and the stop at promote.
 * The destination's app user is created a superuser here: on Cloud SQL it is a member of
 * cloudsqlsuperuser, which may create subscriptions (a plain PostgreSQL 15 lets only superusers).
 */
import { randomBytes } from "node:crypto";
import {
  startLogical,
  statusLogical,
  stopLogical,
  waitReady,
  type LogicalOptions,
} from "../replication/logical";
import type { PgServer } from "../../tooling/local-postgres";
import { withClient } from "./pg";
import { waitPastNow, type Replication } from "./replication";

/** The Supabase-like role the app connects as (Supabase's is called `postgres`, a superuser here). */
export const SOURCE_ROLE = "supabase_like";

/** Creates the source role and returns the app's URL as that role. */
export async function prepareSupabaseLikeSource(source: PgServer, database: string): Promise<string> {
  const password = randomBytes(12).toString("hex");
  await withClient(source.urlFor(database), async (c) => {
    await c.query(`CREATE ROLE ${SOURCE_ROLE} LOGIN REPLICATION NOSUPERUSER PASSWORD '${password}'`);
    // What Supabase gives its postgres role on the app's database: it creates publications and tables.
    await c.query(`GRANT CREATE ON DATABASE "${database}" TO ${SOURCE_ROLE}`);
    await c.query(`GRANT ALL ON SCHEMA public TO ${SOURCE_ROLE}`);
  });
  const url = new URL(source.urlFor(database));
  url.username = SOURCE_ROLE;
  url.password = password;
  return url.toString();
}

/** Creates the destination's app user as Cloud SQL would let it subscribe. */
export async function prepareLogicalDestination(
  destination: PgServer,
  database: string,
  app: { readonly user: string; readonly password: string },
): Promise<void> {
  await withClient(destination.urlFor(database), async (c) => {
    await c.query(`CREATE ROLE "${app.user}" LOGIN SUPERUSER PASSWORD '${app.password.replace(/'/g, "''")}'`);
  });
}

/** Starts the project's logical replication and waits for the initial copy, as the start job does. */
export async function startLogicalReplication(opts: {
  readonly name: string;
  readonly sourceUrl: string;
  readonly destinationUrl: string;
  readonly binDir: string;
}): Promise<Replication> {
  const o: LogicalOptions = {
    name: opts.name,
    source: opts.sourceUrl,
    destination: opts.destinationUrl,
    // The stand-in's servers speak no TLS; in production the subscription requires it.
    subscriberConnection: `${opts.sourceUrl}${opts.sourceUrl.includes("?") ? "&" : "?"}sslmode=disable`,
    binDir: opts.binDir,
  };
  await startLogical(o);
  await waitReady(o, { timeoutMs: 300_000, pollMs: 100 });
  const lagBytes = async () => (await statusLogical(o)).lagBytes ?? 0;
  return {
    logical: o,
    lagBytes,
    waitCaughtUp: (timeoutMs = 60_000) =>
      waitPastNow(opts.sourceUrl, { where: "slot_name = $2", params: [opts.name] }, timeoutMs, 50),
    async promote() {
      // The stop job: marker after the freeze, sequences, drop.
      await stopLogical(o, { catchUpTimeoutMs: 60_000, pollMs: 20 });
    },
  };
}
