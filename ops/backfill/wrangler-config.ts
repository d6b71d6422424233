import * as fs from "node:fs";
import { fromRoot } from "../../tooling/root";
import * as path from "node:path";

/** One D1 database as wrangler needs it. */
export interface D1Binding {
  /** D1 database name. */
  readonly name: string;
  /** Workers binding name. */
  readonly binding: string;
  /** Cloudflare database id (remote only). @default a local placeholder */
  readonly databaseId?: string;
}

export const MIGRATIONS_DIR = fromRoot("d1/migrations");

/** Local state is keyed by database id: a stable placeholder keeps `--local` runs on the same file. */
export const localDatabaseId = (name: string): string => `local-${name}`;

/** The wrangler config (JSON form) that binds the databases and points at the repo's migrations. */
export function wranglerConfig(databases: readonly D1Binding[], migrationsDir = MIGRATIONS_DIR): object {
  return {
    name: "cutover-d1",
    compatibility_date: "2025-01-01",
    d1_databases: databases.map((d) => ({
      binding: d.binding,
      database_name: d.name,
      database_id: d.databaseId ?? localDatabaseId(d.name),
      migrations_dir: migrationsDir,
    })),
  };
}

/**
 * Writes the generated config into `dir` and returns its path. The empty `.dev.vars` beside it keeps
 * wrangler from looking further (and, under jest, from tripping over its own "file missing" check).
 */
export function writeWranglerConfig(dir: string, databases: readonly D1Binding[]): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, "wrangler.json");
  fs.writeFileSync(file, JSON.stringify(wranglerConfig(databases), null, 2) + "\n");
  fs.writeFileSync(path.join(dir, ".dev.vars"), "");
  return file;
}
