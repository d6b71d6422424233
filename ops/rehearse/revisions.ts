/**
 * Revisions of the rehearsal: one app process per revision the plan names, started with the very
 * environment the engine computes for it (`revisionEnv`), Secret Manager references resolved from the
 * stand-in's own values. A reference the stand-in has no value for stops the rehearsal: the engine named
 * a secret nothing creates.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as path from "node:path";
import type { CloudSqlMigration } from "../../infra/config/cloudsql";
import type { RevisionPlan } from "../../infra/engine/cloudsql";
import { revisionEnv, type EnvVar } from "../../infra/engine/env";
import { freePort } from "../../tooling/local-postgres";
import { reapOnDeath } from "../../tooling/reaper";
import { fromRoot } from "../../tooling/root";

/** A module of this folder as a command: compiled, with node; from the source tree, with tsx. */
const ownModule = (name: string): string => {
  const ext = path.extname(__filename);
  const runner = ext === ".ts" ? fromRoot("node_modules/.bin/tsx") : process.execPath;
  return `${runner} ${path.resolve(__dirname, name + ext)}`;
};

/** The built-in app, as a command (`--app-cmd` replaces it with the user's own). */
export const BUILT_IN_APP_CMD = ownModule("app");
/** The built-in app's schema migration (`--schema-cmd` replaces it). */
export const BUILT_IN_SCHEMA_CMD = ownModule("migrate");

/** Secret id → value, as the stand-in holds them. */
export type LocalSecrets = Readonly<Record<string, string>>;

/** The plan's env with every secret reference replaced by its local value. */
export function resolveEnv(
  vars: readonly EnvVar[],
  secrets: LocalSecrets,
  revision: string,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of vars) {
    if ("value" in v) out[v.name] = v.value;
    else {
      const value = secrets[v.secret];
      if (value === undefined)
        throw new Error(
          `revision ${revision}: ${v.name} references secret ${v.secret}, which the stand-in does not hold (nothing in the plan creates it)`,
        );
      out[v.name] = value;
    }
  }
  return out;
}

export interface RunningRevision {
  readonly name: string;
  readonly plan: RevisionPlan;
  readonly url: string;
  /** The env it was started with (values resolved). */
  readonly env: Readonly<Record<string, string>>;
  stop(): Promise<void>;
}

/** Starts one revision of the app (`appCmd`, run by /bin/sh with PORT set); resolves once it answers HTTP. */
export async function startRevision(
  migration: string,
  spec: CloudSqlMigration,
  plan: RevisionPlan,
  secrets: LocalSecrets,
  appCmd: string = BUILT_IN_APP_CMD,
  timeoutMs = 30_000,
): Promise<RunningRevision> {
  const env = resolveEnv(revisionEnv(migration, spec, plan), secrets, plan.name);
  const port = await freePort();
  const child: ChildProcess = spawn("/bin/sh", ["-c", `exec ${appCmd}`], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}),
      ...env,
      PORT: String(port),
      REHEARSAL_REVISION: plan.name,
      REHEARSAL_WRITE_BLOCK_NAME: spec.cloudRun.writeBlock.name,
      REHEARSAL_WRITE_BLOCK_VALUE: spec.cloudRun.writeBlock.value,
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
  // If the rehearsal itself is SIGKILLed, the revision goes with it.
  const reaper = reapOnDeath({ pids: child.pid ? [child.pid] : [] });
  let log = "";
  child.stderr!.on("data", (d) => (log = (log + d).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  // Ready when it answers anything on /system/status (the contract's route; 401 without a token is fine).
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(
        `revision ${plan.name} exited (${child.exitCode ?? child.signalCode}) before answering: ${log}`,
      );
    try {
      await fetch(`${url}/system/status`, { signal: AbortSignal.timeout(1000) });
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill("SIGKILL");
        reaper.cancel();
        throw new Error(`revision ${plan.name} did not answer on ${url} within ${timeoutMs} ms: ${log}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    name: plan.name,
    plan,
    url,
    env,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const killer = setTimeout(() => child.kill("SIGKILL"), 3000);
        await exited;
        clearTimeout(killer);
      }
      reaper.cancel();
    },
  };
}
