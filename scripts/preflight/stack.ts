/**
 * Reads one `cloudsql` migration from a stack file for the operator scripts (preflight, smoke). Only
 * the YAML and the zod schema: no Pulumi runtime, and `secure:` values are never read.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { CONFIG_KEY, type CloudSqlMigration } from "../../infra/config/schema";
import { ConfigError, parseMigrations } from "../../infra/config/load";

/** A problem with the command line or the stack file: printed as is, exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** `staging` → `Pulumi.staging.yaml` in `dir`; a path ending in .yaml is taken as is. */
export function stackFilePath(stack: string, dir = process.cwd()): string {
  return /\.ya?ml$/.test(stack) ? path.resolve(dir, stack) : path.join(dir, `Pulumi.${stack}.yaml`);
}

export function readCloudSqlMigration(stack: string, name: string, dir = process.cwd()): CloudSqlMigration {
  const file = stackFilePath(stack, dir);
  if (!fs.existsSync(file)) {
    throw new UsageError(
      `stack file ${file} not found; hint: run from the project folder or pass --stack <name>`,
    );
  }
  let doc: { config?: Record<string, unknown> } | null;
  try {
    doc = parse(fs.readFileSync(file, "utf8"));
  } catch (error) {
    throw new UsageError(`${file} is not valid YAML: ${(error as Error).message.split("\n")[0]}`);
  }
  let migrations;
  try {
    migrations = parseMigrations(doc?.config?.[CONFIG_KEY]);
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(`${file}: ${error.message}`);
    throw error;
  }
  const migration = migrations[name];
  if (!migration) {
    throw new UsageError(
      `${file} has no migration "${name}" under ${CONFIG_KEY}; hint: migrations here are ${Object.keys(migrations).join(", ") || "none"}`,
    );
  }
  if (migration.kind !== "cloudsql") {
    throw new UsageError(
      `migration "${name}" is of kind ${migration.kind}; this command checks kind cloudsql (a DMS source / Cloud Run service)`,
    );
  }
  return migration;
}
