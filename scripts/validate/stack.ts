/**
 * Tables (and schemas) to validate from the stack config: a cloudsql migration's
 * `source.criticalTables`; a dual-write migration's tables stored where the target points.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { ConfigError, parseMigrations } from "../../infra/config/load";
import { CONFIG_KEY } from "../../infra/config/schema";
import { ValidateError } from "./errors";

/** The seed runbook's critical tables: the default when neither --tables nor --stack is given. */
export const SEED_CRITICAL_TABLES = [
  "Shop",
  "Stream",
  "Reel",
  "QuotaWallet",
  "PurchaseRequest",
  "ChatConversation",
  "ChatMessage",
];

export interface StackSelection {
  readonly tables: string[];
  readonly sourceSchema?: string;
  readonly targetSchema?: string;
}

export function tablesFromStack(
  dir: string,
  stack: string,
  migration: string,
  targetEngine: "postgres" | "d1",
): StackSelection {
  const file = path.join(dir, `Pulumi.${stack}.yaml`);
  if (!fs.existsSync(file))
    throw new ValidateError(
      `--stack ${stack}: ${file} not found`,
      "run from the project root, or check the stack name",
    );
  let migrations;
  try {
    const doc = (parse(fs.readFileSync(file, "utf8")) ?? {}) as { config?: Record<string, unknown> };
    migrations = parseMigrations(doc.config?.[CONFIG_KEY]);
  } catch (error) {
    if (error instanceof ConfigError)
      throw new ValidateError(`${file}: ${error.message}`, "fix the stack config first");
    throw new ValidateError(`${file}: not valid YAML (${(error as Error).message})`, "fix the stack file");
  }
  const spec = migrations[migration];
  if (!spec)
    throw new ValidateError(
      `--migration ${migration}: no such migration in ${file}`,
      `one of: ${Object.keys(migrations).join(", ")}`,
    );
  switch (spec.kind) {
    case "cloudsql":
      return { tables: [...spec.source.criticalTables] };
    case "dual-write": {
      const store = targetEngine === "d1" ? "d1" : "supabase";
      return {
        tables: spec.tables.filter((t) => t.store === store).map((t) => t.name),
        sourceSchema: spec.legacy.schema,
        targetSchema: targetEngine === "postgres" ? spec.target.schema : undefined,
      };
    }
    default: {
      const never: never = spec;
      return never;
    }
  }
}
