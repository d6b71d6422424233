/** What the source's readiness rules are judged against: where it is, what is migrated, the path chosen. */
import type { ReplicationMode } from "../../infra/config/cloudsql";
import type { DatabaseFacts, SourceFacts } from "./source-facts";

export interface SourceContext {
  readonly host: string;
  readonly port: number;
  /** Databases DMS migrates (config `dms.databases`). */
  readonly migratedDatabases: readonly string[];
  /** The destination's `cloudSql.databaseVersion` (e.g. POSTGRES_15), when a migration's config is read. */
  readonly destinationVersion?: string;
  /**
   * The path the migration's config chooses (`replication`). Absent (a bare `--source`): both paths
   * are judged, their own requirements are warnings, and the source fails only when neither can work.
   */
  readonly replication?: ReplicationMode;
}

/** Supabase's transaction-mode pooler (Supavisor) listens here; DMS needs a direct or session connection. */
export const TRANSACTION_POOLER_PORT = 6543;
export const isSessionPooler = (host: string) => /\.pooler\.supabase\.com$/i.test(host);

/** With one migrated database the object name is enough; with several, prefix the database. */
export function collect(facts: SourceFacts, pick: (db: DatabaseFacts) => readonly string[]): string[] {
  const prefix = facts.perDatabase.length > 1;
  return facts.perDatabase.flatMap((db) => pick(db).map((o) => (prefix ? `${db.name}:${o}` : o)));
}
