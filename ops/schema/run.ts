/**
 * The new Supabase schema as code: the SQL files in supabase-schema/migrations, applied in name order by
 * node-pg-migrate into the stack's target.schema. Applied migrations are recorded in
 * <schema>._cutover_schema_migrations; a re-run applies nothing. A dry run happens inside a transaction
 * that is rolled back, so it prints the pending SQL and leaves the database exactly as it was.
 */
import { fromRoot } from "../../tooling/root";
import { connectSource, type ConnectBounds } from "../backfill/source";
import { runner } from "node-pg-migrate";

export const SCHEMA_MIGRATIONS_DIR = fromRoot("supabase-schema/migrations");
export const MIGRATIONS_TABLE = "_cutover_schema_migrations";

export interface SchemaMigrateOptions {
  readonly url: string;
  /** The schema the tables live in (target.schema); created when missing. */
  readonly schema: string;
  readonly dir?: string;
  readonly dryRun?: boolean;
  /** Receives progress lines (never SQL). */
  readonly log?: (line: string) => void;
  /** Connect and statement bounds (defaults: 10 s, 300 s). */
  readonly bounds?: ConnectBounds;
}

export interface SchemaMigrateResult {
  /** Migrations applied by this run (or, in a dry run, that would be). */
  readonly applied: string[];
  /** Every migration recorded as applied after this run (before it, in a dry run). */
  readonly recorded: string[];
  /** The SQL of the pending migrations (dry run only). */
  readonly sql: string;
}

export async function migrateSchema(opts: SchemaMigrateOptions): Promise<SchemaMigrateResult> {
  // Bounded like every other connection of the dual-write commands: connect and per-statement timeouts.
  const client = await connectSource(opts.url, { side: "target", ...opts.bounds });
  const sql: string[] = [];
  const log = opts.log ?? (() => undefined);
  try {
    if (opts.dryRun) await client.query("BEGIN");
    const applied = await runner({
      dbClient: client,
      dir: opts.dir ?? SCHEMA_MIGRATIONS_DIR,
      schema: opts.schema,
      createSchema: true,
      migrationsSchema: opts.schema,
      migrationsTable: MIGRATIONS_TABLE,
      direction: "up",
      checkOrder: true,
      // A dry run is wrapped in the rolled-back transaction above; a real run is one transaction.
      singleTransaction: !opts.dryRun,
      dryRun: opts.dryRun,
      verbose: true,
      logger: {
        debug: (text: string) => {
          if (opts.dryRun) sql.push(text.trim());
        },
        info: (text: string) => log(text),
        warn: (text: string) => log(text),
        error: (text: string) => log(text),
      },
    });
    const { rows } = await client.query<{ name: string }>(
      `SELECT name FROM ${quote(opts.schema)}.${MIGRATIONS_TABLE} ORDER BY run_on, id`,
    );
    return {
      applied: applied.map((m) => m.name),
      recorded: rows.map((r) => r.name),
      // Each step arrives wrapped in BEGIN;/COMMIT; lines that a dry run never sends.
      sql: sql
        .map((step) => step.replace(/^(BEGIN|COMMIT);\n?/gm, "").trim())
        .filter(Boolean)
        .join("\n\n"),
    };
  } finally {
    if (opts.dryRun) await client.query("ROLLBACK").catch(() => undefined);
    await client.end();
  }
}

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;
