/**
 * d1/migrations applied through an open D1 target (the rehearsal's local D1, a test's): the same files
 * `cutover data d1-schema` applies with wrangler, one batch per file, comments dropped.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { D1Target } from "../backfill/targets";
import { MIGRATIONS_DIR } from "../backfill/wrangler-config";

export async function applyD1Migrations(target: D1Target, dir = MIGRATIONS_DIR): Promise<void> {
  for (const file of fs.readdirSync(dir).sort()) {
    const sql = fs
      .readFileSync(path.join(dir, file), "utf8")
      .split("\n")
      .filter((l) => !l.trim().startsWith("--"))
      .join("\n");
    const statements = sql
      .split(";")
      .map((s) => s.trim())
      .filter(Boolean);
    await target.batch(statements.map((s) => ({ sql: s, params: [] })));
  }
}
