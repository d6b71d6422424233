import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { parseMigrations } from "../../infra/config/load";
import { CONFIG_KEY, type DualWriteMigration } from "../../infra/config/schema";

/** A problem the operator can fix: printed as is (no stack trace), exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Reads `Pulumi.<stack>.yaml` and returns the named migration, which must be of kind `dual-write`. */
export function loadDualWriteMigration(
  stack: string,
  migration: string,
  root = process.cwd(),
): DualWriteMigration {
  const file = path.join(root, `Pulumi.${stack}.yaml`);
  if (!fs.existsSync(file)) {
    throw new UsageError(`stack file ${file} not found; hint: --stack is the name in Pulumi.<stack>.yaml`);
  }
  const doc = parse(fs.readFileSync(file, "utf8")) as { config?: Record<string, unknown> } | null;
  const migrations = parseMigrations(doc?.config?.[CONFIG_KEY]);
  const spec = migrations[migration];
  if (spec === undefined) {
    const names = Object.keys(migrations).join(", ") || "none";
    throw new UsageError(
      `migration "${migration}" not found in ${CONFIG_KEY} of ${path.basename(file)}; hint: one of ${names}`,
    );
  }
  if (spec.kind !== "dual-write") {
    throw new UsageError(
      `migration "${migration}" is of kind ${spec.kind}; hint: the backfill and d1:migrate work on dual-write migrations`,
    );
  }
  return spec;
}
