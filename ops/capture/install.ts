/**
 * Change capture on the legacy database: a trigger on every table of the migration appends the key of
 * each inserted, updated or deleted row to cutover_capture.changes, in the same transaction as the
 * change (so a rolled-back change leaves nothing, and a committed one cannot be missed). The applier
 * drains that log in order (applier.ts).
 *
 * Why triggers and not logical decoding or Supabase webhooks: they need no replication slot (which
 * retains WAL and can fill the legacy disk if the applier stops) and no wal_level change, they carry
 * deletes with their key, they work with the rights of the table owner on any PostgreSQL, and their
 * log is a plain table that an applier restart reads from where it stopped.
 */
import type { Client } from "pg";
import { quoteIdent } from "../backfill/statements";
import type { DualWriteMigration } from "../../infra/config/schema";

export const CAPTURE_SCHEMA = "cutover_capture";

/** Created once per legacy database; idempotent. */
export const CAPTURE_DDL = `
CREATE SCHEMA IF NOT EXISTS ${CAPTURE_SCHEMA};
CREATE TABLE IF NOT EXISTS ${CAPTURE_SCHEMA}.changes (
  seq bigserial PRIMARY KEY,
  table_name text NOT NULL,
  -- I insert, U update, D delete (an update that changes the key logs D for the old key), T truncate.
  op "char" NOT NULL,
  -- The row's primary key as PostgreSQL prints each column.
  key text[] NOT NULL,
  -- The writing transaction: the applier takes only changes of transactions no longer running.
  txid xid8 NOT NULL DEFAULT pg_current_xact_id(),
  captured_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  -- Applied once; to be applied again from then on (a late new-store write is overwritten): applier.ts.
  recheck_at timestamptz
);
-- Logs installed before the recheck existed.
ALTER TABLE ${CAPTURE_SCHEMA}.changes ADD COLUMN IF NOT EXISTS recheck_at timestamptz;
CREATE TABLE IF NOT EXISTS ${CAPTURE_SCHEMA}.applied (
  table_name text PRIMARY KEY,
  upserts bigint NOT NULL DEFAULT 0,
  deletes bigint NOT NULL DEFAULT 0,
  last_applied_at timestamptz,
  -- Capture-to-apply time of the newest change applied.
  last_latency_ms bigint
);
CREATE OR REPLACE FUNCTION ${CAPTURE_SCHEMA}.record() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  old_key text[];
  new_key text[];
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    INSERT INTO ${CAPTURE_SCHEMA}.changes (table_name, op, key) VALUES (TG_TABLE_NAME, 'T', '{}');
    RETURN NULL;
  END IF;
  IF TG_OP <> 'INSERT' THEN
    SELECT array_agg(to_jsonb(OLD) ->> c ORDER BY n) INTO old_key FROM unnest(TG_ARGV) WITH ORDINALITY AS k(c, n);
  END IF;
  IF TG_OP <> 'DELETE' THEN
    SELECT array_agg(to_jsonb(NEW) ->> c ORDER BY n) INTO new_key FROM unnest(TG_ARGV) WITH ORDINALITY AS k(c, n);
  END IF;
  IF TG_OP = 'DELETE' OR old_key IS DISTINCT FROM new_key AND TG_OP = 'UPDATE' THEN
    INSERT INTO ${CAPTURE_SCHEMA}.changes (table_name, op, key) VALUES (TG_TABLE_NAME, 'D', old_key);
  END IF;
  IF TG_OP <> 'DELETE' THEN
    INSERT INTO ${CAPTURE_SCHEMA}.changes (table_name, op, key) VALUES (TG_TABLE_NAME, left(TG_OP, 1), new_key);
  END IF;
  RETURN NULL;
END
$fn$;`;

export interface CaptureTable {
  readonly schema: string;
  readonly name: string;
  readonly primaryKey: readonly string[];
}

/** The tables of a migration, as the capture installs its triggers on them. */
export const captureTables = (spec: DualWriteMigration): CaptureTable[] =>
  spec.tables.map((t) => ({ schema: spec.legacy.schema, name: t.name, primaryKey: t.primaryKey }));

const TRIGGER = "cutover_capture";

/** The triggers of one table (row changes and TRUNCATE), replaced if present. */
export function triggerDdl(t: CaptureTable): string {
  const table = `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`;
  const args = t.primaryKey.map((c) => `'${c.replace(/'/g, "''")}'`).join(", ");
  return [
    `CREATE OR REPLACE TRIGGER ${TRIGGER} AFTER INSERT OR UPDATE OR DELETE ON ${table} FOR EACH ROW EXECUTE FUNCTION ${CAPTURE_SCHEMA}.record(${args})`,
    `CREATE OR REPLACE TRIGGER ${TRIGGER}_truncate AFTER TRUNCATE ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION ${CAPTURE_SCHEMA}.record()`,
  ].join(";\n");
}

/** Installs the log and the triggers in one transaction: all tables are captured from the same instant. */
export async function installCapture(legacy: Client, tables: readonly CaptureTable[]): Promise<void> {
  await legacy.query("BEGIN");
  try {
    await legacy.query(CAPTURE_DDL);
    for (const t of tables) await legacy.query(triggerDdl(t));
    await legacy.query("COMMIT");
  } catch (error) {
    await legacy.query("ROLLBACK").catch(() => undefined);
    throw error;
  }
}

/** Drops the triggers (final cut: legacy is no longer written) and, with `dropLog`, the log itself. */
export async function removeCapture(
  legacy: Client,
  tables: readonly CaptureTable[],
  dropLog: boolean,
): Promise<void> {
  await legacy.query("BEGIN");
  try {
    for (const t of tables) {
      const table = `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`;
      await legacy.query(
        `DROP TRIGGER IF EXISTS ${TRIGGER} ON ${table}; DROP TRIGGER IF EXISTS ${TRIGGER}_truncate ON ${table}`,
      );
    }
    if (dropLog) await legacy.query(`DROP SCHEMA IF EXISTS ${CAPTURE_SCHEMA} CASCADE`);
    await legacy.query("COMMIT");
  } catch (error) {
    await legacy.query("ROLLBACK").catch(() => undefined);
    throw error;
  }
}

/** Which of the tables carry the capture trigger. */
export async function capturedTables(legacy: Client, tables: readonly CaptureTable[]): Promise<Set<string>> {
  const { rows } = await legacy.query(
    `SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE t.tgname = $1 AND n.nspname = ANY ($2::text[]) AND c.relname = ANY ($3::text[])`,
    [TRIGGER, [...new Set(tables.map((t) => t.schema))], tables.map((t) => t.name)],
  );
  return new Set(rows.map((r) => String(r.relname)));
}
