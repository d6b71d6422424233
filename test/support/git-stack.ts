import { execFileSync } from "node:child_process";
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseDocument } from "yaml";
import { CONFIG_KEY } from "../../infra/config/common";
import type { Position } from "../../infra/engine/transitions";
import { scratchDir } from "./scratch";
import { copyStack } from "./evidence";

const ROOT = resolve(__dirname, "../..");
/** Each example migration's ramp key. */
export const RAMP_KEY = { avvivo: "trafficPercent", matchauto: "readPercent" } as const;
export type ExampleMigration = keyof typeof RAMP_KEY;

export const git = (dir: string, ...args: string[]) =>
  execFileSync("git", ["-c", "user.email=t@example.com", "-c", "user.name=t", ...args], {
    cwd: dir,
    encoding: "utf8",
  });

export const commit = (dir: string, message: string) => {
  git(dir, "add", "-A");
  git(dir, "commit", "-q", "--allow-empty", "-m", message);
};

/** A scratch git repository holding the project's stack file, committed once as it is (baseline). */
export function scratchRepo(stack = "prod"): string {
  const dir = scratchDir("base");
  copyFileSync(join(ROOT, "Pulumi.yaml"), join(dir, "Pulumi.yaml"));
  copyStack(ROOT, dir, stack);
  git(dir, "init", "-q");
  commit(dir, "baseline");
  return dir;
}

/** Moves a migration of the stack file to a position, editing the YAML in place (comments kept). */
export function moveTo(dir: string, name: ExampleMigration, to: Position, stack = "prod"): void {
  const file = join(dir, `Pulumi.${stack}.yaml`);
  const doc = parseDocument(readFileSync(file, "utf8"));
  const at = (k: string) => ["config", CONFIG_KEY, name, k];
  doc.setIn(at("phase"), to.phase);
  if (name === "avvivo") doc.setIn(at("attempt"), to.attempt);
  if (to.percent !== undefined) doc.setIn(at(RAMP_KEY[name]), to.percent);
  else doc.deleteIn(at(RAMP_KEY[name]));
  if (to.rollbackFrom !== undefined) doc.setIn(at("rollbackFrom"), to.rollbackFrom);
  else doc.deleteIn(at("rollbackFrom"));
  writeFileSync(file, doc.toString());
}
