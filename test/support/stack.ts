import { CONFIG_KEY } from "../../infra/config/common";
import { readStackConfig } from "../../tooling/stack-file";

/** A fresh, mutable copy of a stack file's `cutover:migrations` (raw, before validation). */
export function rawMigrations(stack: "staging" | "prod" = "staging"): Record<string, Record<string, any>> {
  return structuredClone(readStackConfig(stack).config[CONFIG_KEY]) as Record<string, Record<string, any>>;
}

/** A fixed clock for decommission windows. */
export const NOW = new Date("2026-11-25T12:00:00Z");
