/** Runs `cutover check validate` as the operator would (a child process), capturing its output. */
import { CUTOVER } from "../support/cli";
import { spawn } from "node:child_process";
import * as path from "node:path";

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

const ROOT = path.resolve(__dirname, "../..");

export function startValidate(args: string[], env: NodeJS.ProcessEnv = {}, cwd = ROOT) {
  const child = spawn(path.join(ROOT, "node_modules/.bin/tsx"), [CUTOVER, "check", "validate", ...args], {
    cwd,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const done = new Promise<CliResult>((resolve) =>
    child.on("close", (code) => resolve({ code, stdout, stderr })),
  );
  return { child, done };
}

export const runValidate = (args: string[], env?: NodeJS.ProcessEnv, cwd?: string) =>
  startValidate(args, env, cwd).done;
