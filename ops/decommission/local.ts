/**
 * The `detached` check on this machine: what the Workers' own wrangler configs bind and what the local
 * flags entry says (wrangler's local state, as `wrangler dev --persist-to` and the rehearsal keep it),
 * judged by the same rules as the account's. For a rehearsal or a local run before the real check: it
 * is never gate evidence, which must come from the account.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { DualWriteMigration } from "../../infra/config/schema";
import { flagsKeyOf } from "../../infra/engine/dual-write";
import { localDatabaseId } from "../backfill/wrangler-config";
import { UsageError } from "../lib/errors";
import { judgeDetached, type Binding, type DetachedReport, type FlagsRead } from "./check";

/** The parts of a wrangler config read here. */
interface WorkerConfig {
  readonly name?: string;
  readonly vars?: Record<string, unknown>;
  readonly d1_databases?: { binding: string; database_name?: string; database_id?: string }[];
  readonly hyperdrive?: { binding: string; id: string; localConnectionString?: string }[];
  readonly kv_namespaces?: { binding: string; id?: string }[];
}

async function readWorkerConfig(file: string): Promise<WorkerConfig> {
  if (!fs.existsSync(file))
    throw new UsageError(`--worker-config ${file}: no such file`, "give each Worker's wrangler.json/.toml");
  const { unstable_readConfig } = await import("wrangler");
  return unstable_readConfig({ config: file }, { hideWarnings: true }) as WorkerConfig;
}

/** Whether a connection string reaches `host`. */
function reaches(connection: string | undefined, host: string): boolean {
  if (!connection) return false;
  try {
    return new URL(connection).hostname === host;
  } catch {
    return connection.includes(host);
  }
}

/** The flags entry from local KV state, through the first config binding a namespace that holds it. */
async function localFlags(
  configs: readonly { file: string; config: WorkerConfig }[],
  persistTo: string,
  migration: string,
): Promise<FlagsRead> {
  const key = flagsKeyOf(migration);
  const where = `flags entry ${key} (local KV under ${persistTo})`;
  const withKv = configs.filter((c) => (c.config.kv_namespaces ?? []).length > 0);
  if (withKv.length === 0) return { where, text: undefined };
  process.env.CLOUDFLARE_CF_FETCH_ENABLED ??= "false"; // no network lookups for a local check
  process.env.WRANGLER_LOG ??= "warn"; // wrangler's chatter would land in the command's --json
  const { getPlatformProxy } = await import("wrangler");
  for (const { config } of withKv) {
    // A config of our own with only the KV bindings: the Worker's may declare bindings that need more.
    const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), "cutover-detached-"));
    const configPath = path.join(dir, "wrangler.json");
    await fs.promises.writeFile(path.join(dir, ".dev.vars"), ""); // wrangler looks no further
    await fs.promises.writeFile(
      configPath,
      JSON.stringify({
        name: "cutover-detached",
        compatibility_date: "2025-01-01",
        kv_namespaces: config.kv_namespaces,
      }),
    );
    const proxy = await getPlatformProxy<Record<string, { get(k: string): Promise<string | null> }>>({
      configPath,
      persist: { path: path.resolve(persistTo, "v3") },
    });
    try {
      for (const ns of config.kv_namespaces ?? []) {
        const text = await proxy.env[ns.binding].get(key);
        if (text !== null) return { where: `${where}, binding ${ns.binding}`, text };
      }
    } finally {
      await proxy.dispose();
      await fs.promises.rm(dir, { recursive: true, force: true });
    }
  }
  return { where, text: null };
}

export async function checkDetachedLocally(
  spec: DualWriteMigration,
  stack: string,
  migration: string,
  retiring: readonly string[],
  opts: { readonly persistTo: string; readonly workerConfigs: readonly string[] },
): Promise<DetachedReport> {
  const configs = await Promise.all(
    opts.workerConfigs.map(async (file) => ({ file, config: await readWorkerConfig(file) })),
  );
  const retired = new Map<string, string>();
  const legacyHyperdrive = new Set<string>();
  const scripts = configs.map(({ file, config }) => {
    const bindings: Binding[] = [];
    for (const d of config.d1_databases ?? []) {
      const id = d.database_id ?? localDatabaseId(d.database_name ?? d.binding);
      if (d.database_name && retiring.includes(d.database_name)) retired.set(id, d.database_name);
      bindings.push({ type: "d1", name: d.binding, database_id: id });
    }
    for (const h of config.hyperdrive ?? []) {
      // Locally a Hyperdrive binding is its local connection string (config, or wrangler's env variable).
      const local =
        h.localConnectionString ?? process.env[`CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_${h.binding}`];
      if (reaches(local, spec.legacy.host)) legacyHyperdrive.add(h.id);
      bindings.push({ type: "hyperdrive", name: h.binding, id: h.id });
    }
    for (const [name, value] of Object.entries(config.vars ?? {}))
      bindings.push({
        type: "plain_text",
        name,
        text: typeof value === "string" ? value : JSON.stringify(value),
      });
    for (const k of config.kv_namespaces ?? []) bindings.push({ type: "kv_namespace", name: k.binding });
    return { name: config.name ?? path.basename(path.dirname(path.resolve(file))), bindings };
  });
  return judgeDetached(spec, stack, migration, {
    flags: await localFlags(configs, opts.persistTo, migration),
    scripts,
    legacyHyperdrive,
    retired,
  });
}
