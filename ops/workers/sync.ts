/**
 * What the pipeline does to Workers around a `pulumi up` of a dual-write stack, decided from the stack
 * outputs before the up, the stack file being applied, and the outputs after it:
 * - before the up: the comparison Worker is deleted where the phase turns it off (at the final cut the up
 *   deletes the Hyperdrive configs it binds, so the Worker goes first);
 * - after the up: the flags floor onto every Worker that reads the flags — the Worker secret
 *   CUTOVER_FLAGS_FLOOR, put through Cloudflare's secrets API, which creates and deploys a new version
 *   of the Worker's code with it (what `wrangler secret put` does) — and the comparison Worker deployed
 *   (`wrangler deploy`) where its state turns on or its config changed.
 * Each action is a difference: nothing changed, nothing done. `all` redoes every after-up action the
 * outputs imply (a run that failed half-way is re-run with it).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { spawn } from "node:child_process";
import type { DualWriteMigration } from "../../infra/config/schema";
import { compareWranglerConfig, idsFromOutputs, workerName } from "../compare/config";
import { planDualWrite } from "../../infra/engine/dual-write";
import { cloudflareClient } from "../lib/cloudflare";
import { describeCloudflareError } from "../lib/cloudflare-errors";
import { APIError, NotFoundError } from "cloudflare";
import { UsageError } from "../lib/errors";
import { WRANGLER } from "../../tooling/root";

/** The binding the flags module reads the floor from (workers/flags/flags.ts). */
export const FLOOR_BINDING = "CUTOVER_FLAGS_FLOOR";

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
      readonly kind: "compare-deploy";
      readonly worker: string;
      readonly accountId: string;
      readonly migration: string;
      /** The wrangler config (JSON form) `wrangler deploy -c` reads, and where it is written. */
      readonly config: Record<string, unknown>;
      readonly configFile: string;
    }
  | {
      readonly kind: "compare-delete";
      readonly worker: string;
      readonly accountId: string;
      readonly migration: string;
    };

type Outputs = Readonly<Record<string, unknown>>;
interface MigrationOutputs {
  readonly kind?: string;
  readonly flagsFloor?: unknown;
  readonly compare?: { readonly state?: string };
}
const outputsOf = (o: Outputs | undefined, m: string) => o?.[m] as MigrationOutputs | undefined;

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

/**
 * Before the up: the comparison Workers to delete because the stack file being applied turns them off
 * (`before`: the outputs as they are; undefined for a first up, where nothing is deployed).
 */
export function actionsBeforeUp(opts: {
  readonly stack: string;
  readonly specs: Readonly<Record<string, DualWriteMigration>>;
  readonly before?: Outputs;
}): WorkerAction[] {
  return Object.keys(opts.specs)
    .sort()
    .filter(
      (m) =>
        outputsOf(opts.before, m)?.compare?.state === "on" &&
        planDualWrite(m, opts.specs[m]).compare.state !== "on",
    )
    .map((migration) => ({
      kind: "compare-delete" as const,
      worker: workerName(opts.stack, migration),
      accountId: opts.specs[migration].cloudflare.accountId,
      migration,
    }));
}

interface AfterUpOptions {
  readonly stack: string;
  readonly specs: Readonly<Record<string, DualWriteMigration>>;
  /** The outputs before the up (undefined: a first up). */
  readonly before?: Outputs;
  /** The outputs of the up that just ran, and the file they came from (for messages). */
  readonly after: Outputs;
  readonly afterFile: string;
  /** Where each comparison Worker's wrangler config is written (its `main` is relative to it). */
  readonly configDir: (migration: string) => string;
  readonly all?: boolean;
}

/** After the up: the floors to set and the comparison Workers to deploy, from `before` to `after`. */
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
  for (const migration of Object.keys(specs).sort()) {
    const spec = specs[migration];
    const now = outputsOf(after, migration)?.compare?.state;
    const then = outputsOf(before, migration)?.compare?.state;
    const worker = workerName(opts.stack, migration);
    const accountId = spec.cloudflare.accountId;
    if (now === "on") {
      const dir = opts.configDir(migration);
      const config = compareWranglerConfig(
        opts.stack,
        migration,
        spec,
        dir,
        idsFromOutputs(after, migration, opts.afterFile),
      );
      const previous = then === "on" ? configIfRenders(opts, migration, dir) : undefined;
      if (opts.all || JSON.stringify(previous) !== JSON.stringify(config))
        actions.push({
          kind: "compare-deploy",
          worker,
          accountId,
          migration,
          config,
          configFile: path.join(dir, "wrangler.json"),
        });
    }
  }
  return actions;
}

/** The comparison Worker's config as `before` rendered it, if it could. */
function configIfRenders(opts: AfterUpOptions, migration: string, dir: string) {
  try {
    return compareWranglerConfig(
      opts.stack,
      migration,
      opts.specs[migration],
      dir,
      idsFromOutputs(opts.before, migration, "before"),
    );
  } catch {
    return undefined;
  }
}

/** One line per action, as the pipeline's log and `--dry-run` print them (never the floor's value). */
export function describeAction(a: WorkerAction): string {
  switch (a.kind) {
    case "floor":
      return `${a.worker}: ${FLOOR_BINDING} ← the floor of ${a.migrations.join(", ")} (a Worker secret: deploys the Worker's latest code with it)`;
    case "compare-deploy":
      return `${a.worker}: deploy the comparison Worker of ${a.migration} (wrangler deploy)`;
    case "compare-delete":
      return `${a.worker}: delete the comparison Worker of ${a.migration}`;
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
    if (a.kind === "compare-deploy") {
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
