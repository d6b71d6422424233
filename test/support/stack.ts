import { CONFIG_KEY } from "../../infra/config/common";
import type { DualWritePhase } from "../../infra/config/dual-write";
import { readStackConfig } from "../../tooling/stack-file";

/** A fresh, mutable copy of a stack file's `cutover:migrations` (raw, before validation). */
export function rawMigrations(stack: "staging" | "prod" = "staging"): Record<string, Record<string, any>> {
  return structuredClone(readStackConfig(stack).config[CONFIG_KEY]) as Record<string, Record<string, any>>;
}

/** A fixed clock for decommission windows. */
export const NOW = new Date("2026-11-25T12:00:00Z");

/** The runbook's Workers flags, phase by phase (read-switch at 50%): what every dual-write test expects. */
export const EXPECTED_FLAGS: Record<DualWritePhase, { writeMode: string; readPercent: number } | undefined> =
  {
    baseline: undefined,
    shadow: { writeMode: "legacy", readPercent: 0 },
    backfill: { writeMode: "legacy", readPercent: 0 },
    "dual-write": { writeMode: "dual", readPercent: 0 },
    "read-switch": { writeMode: "dual", readPercent: 50 },
    "final-cut": { writeMode: "new", readPercent: 100 },
    decommission: { writeMode: "new", readPercent: 100 },
    rollback: { writeMode: "legacy", readPercent: 0 },
  };
