/**
 * `cutover data schema --stack staging --migration matchauto [--dry-run] [--json]`
 * Creates or brings up to date the new Supabase schema (phase `shadow`) from supabase-schema/migrations.
 * The connection comes from TARGET_DATABASE_URL, or the stack's target with TARGET_DATABASE_PASSWORD.
 */
import { loadMigration } from "../../tooling/stack-file";
import {
  addConnectionBounds,
  boundsOf,
  newCommand,
  type Leaf,
  UsageError,
  type ConnectionFlags,
} from "../shell";
import { DATABASE_SECRETS, databaseUrl } from "../../ops/backfill/plan";
import { migrateSchema } from "../../ops/schema/run";
import { dualWriteOnly } from "../../ops/backfill/target-options";

interface Flags extends ConnectionFlags {
  readonly stack?: string;
  readonly migration?: string;
  readonly target?: string;
  readonly schema?: string;
  readonly dryRun?: boolean;
  readonly json?: boolean;
}

async function main(argv: readonly string[]): Promise<number> {
  const command = newCommand("cutover data schema")
    .description("apply supabase-schema/migrations to the new Supabase schema of a dual-write migration")
    .option("-s, --stack <name>", "read target.schema and the target connection from Pulumi.<name>.yaml")
    .option("-m, --migration <name>", "dual-write migration in the stack (required with --stack)")
    .option("--target <url>", "target PostgreSQL URL (prefer the TARGET_DATABASE_URL variable)")
    .option("--schema <name>", "schema without --stack")
    .option("--dry-run", "print the SQL of the pending migrations and change nothing")
    .option("--json", "print the result as JSON");
  const opts = addConnectionBounds(command).parse(argv, { from: "user" }).opts<Flags>();
  if (opts.stack !== undefined && opts.migration === undefined)
    throw new UsageError(`--stack ${opts.stack} needs --migration <name>: which dual-write migration`);
  const spec = opts.stack
    ? loadMigration(opts.stack, opts.migration!, {
        kind: "dual-write",
        purpose: dualWriteOnly("data schema"),
      })
    : undefined;
  const schema = opts.schema ?? spec?.target.schema;
  if (!schema)
    throw new UsageError("no schema; hint: pass --stack <stack> --migration <name>, or --schema <name>");
  const url = databaseUrl("target", opts.target, spec);
  const log = (line: string) => {
    if (!opts.json) process.stderr.write(`${line}\n`);
  };
  const result = await migrateSchema({
    url,
    schema,
    dryRun: opts.dryRun,
    log,
    bounds: boundsOf(opts, "target"),
  });
  if (opts.json) {
    process.stdout.write(JSON.stringify({ schema, dryRun: Boolean(opts.dryRun), ...result }, null, 2) + "\n");
  } else if (opts.dryRun) {
    process.stdout.write(
      result.applied.length
        ? `-- ${result.applied.length} pending migration(s) for schema ${schema}; nothing was changed\n\n${result.sql}\n`
        : `-- schema ${schema} is up to date (${result.recorded.length} migration(s) applied); nothing to do\n`,
    );
  } else {
    process.stdout.write(
      result.applied.length
        ? `applied ${result.applied.length} migration(s) to schema ${schema}: ${result.applied.join(", ")}\n`
        : `schema ${schema} is up to date (${result.recorded.length} migration(s) applied); nothing to do\n`,
    );
  }
  return 0;
}

export const leaf: Leaf = {
  main,
  secrets: () => DATABASE_SECRETS(),
};
