/**
 * Revisions of the rehearsal: one app process per revision the plan names, started with the very
 * environment the engine computes for it (`revisionEnv`), Secret Manager references resolved from the
 * stand-in's own values. A reference the stand-in has no value for stops the rehearsal: the engine named
 * a secret nothing creates.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as path from "node:path";
import type { CloudSqlMigration } from "../infra/config/cloudsql";
import type { RevisionPlan } from "../infra/engine/cloudsql";
import { revisionEnv, type EnvVar } from "../infra/engine/env";

const TSX = path.resolve(__dirname, "../node_modules/.bin/tsx");
const APP = path.resolve(__dirname, "app.ts");

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

/** Starts one revision of the app; resolves once it listens. */
export async function startRevision(
  migration: string,
  spec: CloudSqlMigration,
  plan: RevisionPlan,
  secrets: LocalSecrets,
  timeoutMs = 20_000,
): Promise<RunningRevision> {
  const env = resolveEnv(revisionEnv(migration, spec, plan), secrets, plan.name);
  const child: ChildProcess = spawn(TSX, [APP], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      ...env,
      PORT: "0",
      REHEARSAL_REVISION: plan.name,
      REHEARSAL_WRITE_BLOCK_NAME: spec.cloudRun.writeBlock.name,
      REHEARSAL_WRITE_BLOCK_VALUE: spec.cloudRun.writeBlock.value,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  child.stderr!.on("data", (d) => (log += d));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`revision ${plan.name} did not start: ${log}`)),
      timeoutMs,
    );
    child.stdout!.on("data", (d: Buffer) => {
      const m = /ready \S+ (\d+)/.exec(String(d));
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`revision ${plan.name} exited (${code}) before listening: ${log}`));
    });
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    name: plan.name,
    plan,
    url: `http://127.0.0.1:${port}`,
    env,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const killer = setTimeout(() => child.kill("SIGKILL"), 3000);
        await exited;
        clearTimeout(killer);
      }
    },
  };
}
