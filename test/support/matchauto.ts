/**
 * Runbook 2's two databases on one local PostgreSQL, as the Worker tests use them: legacy (the old
 * schema, seeded) and `target` (the new schema, migrated), with the env the commands read them from.
 */
import { Client } from "pg";
import { migrateSchema } from "../../ops/schema/run";
import { insertCategories, insertCities, LEGACY_SCHEMA } from "../ops/backfill/legacy-fixture";
import { insertRelational, RELATIONAL_SCHEMA } from "../ops/backfill/relational-fixture";
import type { PgServer } from "./postgres";

/** Legacy seeded with 40 cities, 12 categories and `users` users' relational rows; `target` migrated. */
export async function seedMatchauto(server: PgServer, users: number): Promise<void> {
  const legacy = new Client({ connectionString: server.url });
  await legacy.connect();
  try {
    await legacy.query(LEGACY_SCHEMA + ";" + RELATIONAL_SCHEMA);
    await insertCities(legacy, 1, 40);
    await insertCategories(legacy, 12);
    await insertRelational(legacy, users);
    await legacy.query("CREATE DATABASE target");
  } finally {
    await legacy.end();
  }
  await migrateSchema({ url: server.urlFor("target"), schema: "matchauto" });
}

/** The databases' URLs as the commands read them, and wrangler kept offline. */
export const matchautoEnv = (server: PgServer): NodeJS.ProcessEnv => ({
  LEGACY_DATABASE_URL: server.url,
  TARGET_DATABASE_URL: server.urlFor("target"),
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  WRANGLER_SEND_METRICS: "false",
});
