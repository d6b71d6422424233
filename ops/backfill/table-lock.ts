/**
 * One legacy table is written into its new store by one writer at a time: the backfill holds this lock
 * (a session-level advisory lock on the legacy database) while it copies the table, and the change
 * capture applier skips the table's changes until it is free. Without it, a page the backfill read
 * before a change could land after the applier applied that change, and bring back an old row or a
 * deleted one. A killed backfill's session ends, which frees the lock.
 */
import type { Client } from "pg";

/** The advisory lock key of a legacy table (schema-independent: table names are unique per migration). */
export const tableLockKey = (table: string) => `hashtextextended('cutover:capture:' || ${table}, 0)`;

export async function withTableLock<T>(legacy: Client, table: string, work: () => Promise<T>): Promise<T> {
  await legacy.query(`SELECT pg_advisory_lock(${tableLockKey("$1")})`, [table]);
  try {
    return await work();
  } finally {
    await legacy.query(`SELECT pg_advisory_unlock(${tableLockKey("$1")})`, [table]).catch(() => undefined);
  }
}
