import * as fs from "node:fs";
import * as path from "node:path";
import { CONFIG_KEY } from "../../infra/config/common";
import type { DualWritePhase } from "../../infra/config/dual-write";
import { readStackConfig } from "../../tooling/stack-file";
import { scratchDir } from "./scratch";

const ROOT = path.resolve(__dirname, "../..");

/**
 * The staging stack, as text, in a scratch folder (with Pulumi.yaml): matchauto moved to `phase` with
 * `keys` (YAML lines at its keys' indentation) right under it, and further literal replacements, each of
 * which must apply. Returns the folder: scripts run there read it as `--stack staging`.
 */
export function scratchMatchauto(
  prefix: string,
  phase: DualWritePhase,
  keys: readonly string[] = [],
  replacements: readonly (readonly [string, string])[] = [],
): string {
  const dir = scratchDir(prefix);
  fs.copyFileSync(path.join(ROOT, "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
  let text = fs.readFileSync(path.join(ROOT, "Pulumi.staging.yaml"), "utf8");
  const moves: (readonly [string, string])[] = [
    [
      "    matchauto:\n      kind: dual-write\n      phase: baseline\n",
      `    matchauto:\n      kind: dual-write\n      phase: ${phase}\n${keys.map((k) => `      ${k}\n`).join("")}`,
    ],
    ...replacements,
  ];
  for (const [from, to] of moves) {
    if (!text.includes(from)) throw new Error(`Pulumi.staging.yaml has no ${JSON.stringify(from)}`);
    text = text.replace(from, to);
  }
  fs.writeFileSync(path.join(dir, "Pulumi.staging.yaml"), text);
  return dir;
}

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
