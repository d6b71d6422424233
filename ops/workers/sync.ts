/**
 * What the pipeline does to Workers around a `pulumi up` of a dual-write stack, decided from the stack
 * outputs before the up, the stack file being applied, and the outputs after it. Two Workers are
 * cutover's own — the comparison Worker (dual-write to the read switch) and the capture Worker (the
 * applier, backfill to final cut) — and one value goes on the user's Workers:
 * - before the up: a Worker the phase turns off is deleted first (the up may delete the Hyperdrive
 *   configs it binds); a capture Worker entering the final cut is redeployed with the after-cut rule;
 * - after the up: the flags floor onto every Worker that reads the flags — the Worker secret
 *   CUTOVER_FLAGS_FLOOR, put through Cloudflare's secrets API, which creates and deploys a new version
 *   of the Worker's code with it (what `wrangler secret put` does) — and cutover's Workers deployed
 *   (`wrangler deploy`) where they start running or their config changed.
 * Each action is a difference: nothing changed, nothing done. `all` redoes every after-up action the
 * outputs imply (a run that failed half-way is re-run with it).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { spawn } from "node:child_process";
import type { DualWriteMigration } from "../../infra/config/schema";
import { compareWranglerConfig, idsFromOutputs, workerName } from "../compare/config";
import type { DualWritePhase } from "../../infra/config/dual-write";
import { planDualWrite } from "../../infra/engine/dual-write";
import { CAPTURE_WORKER_STATES, DUAL_WRITE_PHASE_TABLE } from "../../infra/engine/dual-write-phases";
import { captureWranglerConfig } from "../capture/worker-config";
import { captureWorkerName } from "../capture/worker-spec";
import { cloudflareClient } from "../lib/cloudflare";
import { describeCloudflareError } from "../lib/cloudflare-errors";
import { APIError, NotFoundError } from "cloudflare";
import { UsageError } from "../lib/errors";
import { WRANGLER } from "../../tooling/root";

/** The binding the flags module reads the floor from (workers/flags/flags.ts). */
export const FLOOR_BINDING = "CUTOVER_FLAGS_FLOOR";

/** The two Workers cutover deploys itself: the comparison Worker and the capture Worker. */
export type WorkerRole = "compare" | "capture";

export type WorkerAction =
  | {
      readonly kind: "floor";
      readonly worker: string;
      readonly accountId: string;
      /** JSON, migration → floor, of every migration whose flags the Worker reads. */
      readonly value: string;
      readonly migrations: readonly string[];
    }
  | {
      readonly kind: "deploy";
      readonly role: WorkerRole;
      readonly worker: string;
      readonly accountId: string;
      readonly migration: string;
      /** The wrangler config (JSON form) `wrangler deploy -c` reads, and where it is written. */
      readonly config: Record<string, unknown>;
      readonly configFile: string;
    }
  | {
      readonly kind: "delete";
      readonly role: WorkerRole;
      readonly worker: string;
      readonly accountId: string;
      readonly migration: string;
    };

type Outputs = Readonly<Record<string, unknown>>;
interface MigrationOutputs {
  readonly phase?: string;
  readonly flagsFloor?: unknown;
  readonly compare?: { readonly state?: string };
}
const outputsOf = (o: Outputs | undefined, m: string) => o?.[m] as MigrationOutputs | undefined;

/** Whether each Worker runs, from a migration's outputs (the phase table decides; absent: nothing runs). */
function runningIn(o: Outputs | undefined, m: string): Record<WorkerRole, "off" | "on" | "after-cut"> {
  const out = outputsOf(o, m);
  const row = out?.phase ? DUAL_WRITE_PHASE_TABLE[out.phase as DualWritePhase] : undefined;
  return {
    compare: out?.compare?.state === "on" ? "on" : "off",
    capture:
      !row || !CAPTURE_WORKER_STATES.includes(row.capture)
        ? "off"
        : row.capture === "drain"
          ? "after-cut"
          : "on",
  };
}

/** The floor JSON of `worker` in `outputs`: one entry per migration listing it, keys sorted. */
function floorOf(worker: string, specs: Readonly<Record<string, DualWriteMigration>>, o?: Outputs) {
  const entries = Object.keys(specs)
    .sort()
    .filter((m) => specs[m].cloudflare.workers.includes(worker))
    .flatMap((m) => {
      const floor = outputsOf(o, m)?.flagsFloor;
      return floor === undefined ? [] : [[m, floor] as const];
    });
  return entries.length ? JSON.stringify(Object.fromEntries(entries)) : undefined;
}

interface Context {
  readonly stack: string;
  readonly specs: Readonly<Record<string, DualWriteMigration>>;
  /** Where each Worker's wrangler config is written (its `main` is relative to it). */
  readonly configDir: (role: WorkerRole, migration: string) => string;
}

const nameOf = (role: WorkerRole, stack: string, m: string) =>
  role === "compare" ? workerName(stack, m) : captureWorkerName(stack, m);

/** A Worker's config bound to the ids in `outputs`, or undefined where they are not there. */
function configIn(c: Context, role: WorkerRole, m: string, o: Outputs | undefined, afterCut: boolean) {
  try {
    const ids = idsFromOutputs(o, m, "the stack outputs");
    const dir = c.configDir(role, m);
    return role === "compare"
      ? compareWranglerConfig(c.stack, m, c.specs[m], dir, ids)
      : captureWranglerConfig(c.stack, m, c.specs[m], dir, afterCut, ids);
  } catch {
    return undefined;
  }
}

function deploy(c: Context, role: WorkerRole, m: string, config: Record<string, unknown>): WorkerAction {
  const worker = nameOf(role, c.stack, m);
  const accountId = c.specs[m].cloudflare.accountId;
  const configFile = path.join(c.configDir(role, m), "wrangler.json");
  return { kind: "deploy", role, worker, accountId, migration: m, config, configFile };
}

/**
 * Before the up, from the outputs as they are (`before`; undefined for a first up) and the stack file
 * being applied: the Workers it turns off are deleted (the comparison Worker at the final cut; the capture
 * Worker at decommission, whose up deletes the Hyperdrive configs it binds), and a capture Worker entering
 * the final cut is redeployed with the after-cut rule before the flags send writes to the new stores only.
 */
export function actionsBeforeUp(c: Context & { readonly before?: Outputs }): WorkerAction[] {
  const actions: WorkerAction[] = [];
  for (const m of Object.keys(c.specs).sort()) {
    const now = runningIn(c.before, m);
    const plan = planDualWrite(m, c.specs[m]);
    const coming = {
      compare: plan.compare.state === "on",
      capture: CAPTURE_WORKER_STATES.includes(plan.capture.state),
    };
    const accountId = c.specs[m].cloudflare.accountId;
    for (const role of ["compare", "capture"] as const)
      if (now[role] !== "off" && !coming[role])
        actions.push({ kind: "delete", role, worker: nameOf(role, c.stack, m), accountId, migration: m });
    if (now.capture === "on" && plan.capture.state === "drain") {
      const config = configIn(c, "capture", m, c.before, true);
      if (config) actions.push(deploy(c, "capture", m, config));
    }
  }
  return actions;
}

interface AfterUpOptions extends Context {
  /** The outputs before the up (undefined: a first up). */
  readonly before?: Outputs;
  /** The outputs of the up that just ran, and the file they came from (for messages). */
  readonly after: Outputs;
  readonly afterFile: string;
  readonly all?: boolean;
}

/**
 * After the up, from `before` to `after`: the floors to set, and each Worker to deploy where it runs now
 * and did not before, or its config (bindings, rule) changed.
 */
export function actionsAfterUp(opts: AfterUpOptions): WorkerAction[] {
  const { specs, before, after } = opts;
  const actions: WorkerAction[] = [];
  const workers = [...new Set(Object.values(specs).flatMap((s) => s.cloudflare.workers))].sort();
  for (const worker of workers) {
    const value = floorOf(worker, specs, after);
    if (value === undefined || (!opts.all && value === floorOf(worker, specs, before))) continue;
    const migrations = Object.keys(specs)
      .sort()
      .filter((m) => specs[m].cloudflare.workers.includes(worker));
    actions.push({
      kind: "floor",
      worker,
      accountId: specs[migrations[0]].cloudflare.accountId,
      value,
      migrations,
    });
  }
  for (const m of Object.keys(specs).sort()) {
    const now = runningIn(after, m);
    const then = runningIn(before, m);
    for (const role of ["compare", "capture"] as const) {
      if (now[role] === "off") continue;
      const afterCut = now[role] === "after-cut";
      // Bound to what the up declared: its ids must be in the outputs (else the message says what is missing).
      idsFromOutputs(after, m, opts.afterFile);
      const config = configIn(opts, role, m, after, afterCut)!;
      // The rule is left out of the comparison: the step before the up deployed the after-cut one.
      const previous = then[role] === "off" ? undefined : configIn(opts, role, m, before, afterCut);
      if (opts.all || JSON.stringify(previous) !== JSON.stringify(config))
        actions.push(deploy(opts, role, m, config));
    }
  }
  return actions;
}

/** One line per action, as the pipeline's log and `--dry-run` print them (never the floor's value). */
export function describeAction(a: WorkerAction): string {
  const what = (role: WorkerRole) => (role === "compare" ? "the comparison Worker" : "the capture Worker");
  switch (a.kind) {
    case "floor":
      return `${a.worker}: ${FLOOR_BINDING} ← the floor of ${a.migrations.join(", ")} (a Worker secret: deploys the Worker's latest code with it)`;
    case "deploy":
      return `${a.worker}: deploy ${what(a.role)} of ${a.migration} (wrangler deploy)`;
    case "delete":
      return `${a.worker}: delete ${what(a.role)} of ${a.migration}`;
  }
}

export interface RunOptions {
  /** The wrangler command line (the comparison Worker's deploy). @default the project's wrangler */
  readonly wrangler?: readonly string[];
  /**
   * Change nothing: the comparison Worker is bundled (`wrangler deploy --dry-run`, offline) to show its
   * config deploys; the floor and the deletions are only printed.
   */
  readonly dryRun?: boolean;
  readonly env?: NodeJS.ProcessEnv;
  readonly log?: (line: string) => void;
}

/** Runs wrangler once, in the account; its output goes to the caller's stderr. */
function wrangler(args: readonly string[], accountId: string, o: RunOptions) {
  const [cmd, ...pre] = o.wrangler ?? [process.execPath, WRANGLER];
  return new Promise<void>((resolve, reject) => {
    const child = spawn(cmd, [...pre, ...args], {
      env: { ...(o.env ?? process.env), CLOUDFLARE_ACCOUNT_ID: accountId, WRANGLER_SEND_METRICS: "false" },
      stdio: ["ignore", process.stderr, process.stderr],
    });
    child.on("error", reject);
    child.on("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`wrangler ${args[0]} exited with ${code ?? "a signal"}`)),
    );
  });
}

/** An SDK failure of one action in words: what, on which Worker, and what to do. */
function failure(a: WorkerAction, error: unknown): Error {
  if (error instanceof NotFoundError && a.kind === "floor")
    return new UsageError(
      `${a.worker}: no such Worker in account ${a.accountId}`,
      "deploy it first, or fix cloudflare.workers (the Workers that read the flags) in the stack file",
    );
  if (error instanceof APIError && /binding name/i.test(error.message) && a.kind === "floor")
    return new UsageError(
      `${a.worker}: ${FLOOR_BINDING} is already bound, not as a secret (${error.message})`,
      `remove ${FLOOR_BINDING} from the Worker's vars in its wrangler config: the pipeline sets it`,
    );
  return describeCloudflareError(error) ?? (error as Error);
}

/** Runs the actions in order; the first that fails stops the rest (re-run: nothing done twice). */
export async function runWorkerActions(actions: readonly WorkerAction[], o: RunOptions = {}): Promise<void> {
  const token = (o.env ?? process.env).CLOUDFLARE_API_TOKEN;
  if (!o.dryRun && !token && actions.length)
    throw new UsageError(
      "CLOUDFLARE_API_TOKEN is not set",
      "export an API token with Workers Scripts edit permission (it is never printed)",
    );
  const client = o.dryRun || !token ? undefined : await cloudflareClient(token);
  for (const a of actions) {
    o.log?.(`${o.dryRun ? "(dry run) " : ""}${describeAction(a)}`);
    if (a.kind === "deploy") {
      fs.mkdirSync(path.dirname(a.configFile), { recursive: true });
      fs.writeFileSync(a.configFile, JSON.stringify(a.config, null, 2) + "\n");
      const dry = o.dryRun ? ["--dry-run", "--outdir", path.join(path.dirname(a.configFile), "dist")] : [];
      await wrangler(["deploy", "-c", a.configFile, ...dry], a.accountId, o);
      continue;
    }
    if (!client) continue;
    try {
      if (a.kind === "floor")
        await client.workers.scripts.secrets.update(a.worker, {
          account_id: a.accountId,
          name: FLOOR_BINDING,
          text: a.value,
          type: "secret_text",
        });
      else
        await client.workers.scripts.delete(a.worker, { account_id: a.accountId, force: true }).catch((e) => {
          // Gone already (a re-run after the up failed): what was asked is done.
          if (!(e instanceof NotFoundError)) throw e;
          o.log?.(`${a.worker}: already deleted`);
        });
    } catch (error) {
      throw failure(a, error);
    }
  }
}
