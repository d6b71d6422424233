import { spawn } from "node:child_process";
import * as path from "node:path";

export const ROOT = path.resolve(__dirname, "../..");

/** tsx, which runs the TypeScript sources as they are (the compiled bin is tested in test/cli/bin.test.ts). */
export const TSX = path.join(ROOT, "node_modules/.bin/tsx");

/** `cutover`'s entry in the source tree: `spawn(TSX, [CUTOVER, "check", "validate", …])`. */
export const CUTOVER = path.join(ROOT, "cli/main.ts");

/** Runs `cutover <args>` as a user would (its own process), with a clean environment (see runScript). */
export const runCutover = (args: string[], env: NodeJS.ProcessEnv, cwd = ROOT): Promise<CliRun> =>
  runScript("cli/main.ts", args, env, cwd);

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  elapsedMs: number;
}

/**
 * Runs one of the project's scripts as a user would (tsx, its own process) with a clean environment:
 * only PATH, HOME and `env`, so nothing from the developer's shell leaks into a test.
 */
export function runScript(
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  cwd = ROOT,
): Promise<CliRun> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(ROOT, "node_modules/.bin/tsx"), [path.join(ROOT, script), ...args], {
      cwd,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr, elapsedMs: Date.now() - started }));
  });
}
