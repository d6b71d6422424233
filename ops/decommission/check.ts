/**
 * Decommission's second gate: nothing may still read what is turned off. Asked of the Cloudflare account
 * itself (what is deployed, not what a config file says): the flags entry must send every read and write
 * to the new stores; no Worker script of the account may bind a retired D1 database, a Hyperdrive config
 * whose origin is the legacy database, a binding the spec names as a legacy one, or a variable naming the
 * legacy host; and the comparison Worker (which reads legacy) must be gone.
 */
import type Cloudflare from "cloudflare";
import type { DualWriteMigration } from "../../infra/config/schema";
import { flagsKeyOf } from "../../infra/engine/dual-write";
import { workerName } from "../compare/config";
import { findNamespaceId, readKvValue } from "../lib/cloudflare-kv";

/** One thing that still reads a store being turned off, and what to do about it. */
export interface StillReads {
  readonly where: string;
  readonly what: string;
  readonly hint: string;
}

export interface DetachedReport {
  readonly scripts: number;
  readonly findings: readonly StillReads[];
}

export interface Binding {
  readonly type: string;
  readonly name: string;
  readonly id?: string;
  readonly database_id?: string;
  readonly text?: string;
}

/** Ids of the account's Hyperdrive configs whose origin is the legacy database. */
async function legacyHyperdriveIds(client: Cloudflare, accountId: string, spec: DualWriteMigration) {
  const ids = new Set<string>();
  for await (const c of client.hyperdrive.configs.list({ account_id: accountId })) {
    const o = c.origin as { host?: string; database?: string } | undefined;
    if (o?.host === spec.legacy.host && o.database === spec.legacy.database && c.id) ids.add(c.id);
  }
  return ids;
}

/** Cloudflare ids of the D1 databases being retired, by name (a deleted one is simply absent). */
async function retiredD1(client: Cloudflare, accountId: string, names: readonly string[]) {
  const byId = new Map<string, string>();
  for (const name of names) {
    for await (const db of client.d1.database.list({ account_id: accountId, name })) {
      if (db.name === name && db.uuid) byId.set(db.uuid, name);
    }
  }
  return byId;
}

/** The flags entry as read: its text, null when absent, or undefined when its namespace is missing. */
export type FlagsRead = { readonly where: string; readonly text: string | null | undefined };

/** Why the flags entry still sends something to legacy, or undefined when it does not. */
export function flagsFinding(read: FlagsRead): StillReads | undefined {
  const where = read.where;
  if (read.text === undefined)
    return {
      where,
      what: "the flags namespace is not there, so the Workers fall back to their deployed floor",
      hint: "run pulumi up at final-cut first: its flags entry sends everything to the new stores",
    };
  if (read.text === null)
    return {
      where,
      what: "there is no flags entry",
      hint: "run pulumi up at final-cut: it writes the entry",
    };
  let flags: { writeMode?: string; readPercent?: number };
  try {
    flags = JSON.parse(read.text);
  } catch {
    return { where, what: "the entry is not JSON", hint: "run pulumi up again: the program rewrites it" };
  }
  if (flags.writeMode === "new" && flags.readPercent === 100) return undefined;
  return {
    where,
    what: `it still says writeMode ${String(flags.writeMode)}, readPercent ${String(flags.readPercent)}: legacy is still read or written`,
    hint: "the entry of final-cut is writeMode new, readPercent 100: run pulumi up at final-cut",
  };
}

/** What is deployed, however it was read (the account, or local Worker configs and state). */
export interface DeployedFacts {
  readonly flags: FlagsRead;
  readonly scripts: readonly { readonly name: string; readonly bindings: readonly Binding[] }[];
  /** Ids of Hyperdrive configs whose origin is the legacy database. */
  readonly legacyHyperdrive: ReadonlySet<string>;
  /** D1 database ids being retired, with their names. */
  readonly retired: ReadonlyMap<string, string>;
}

/** Every finding in what is deployed: the flags entry, the comparison Worker, each binding. */
export function judgeDetached(
  spec: DualWriteMigration,
  stack: string,
  migration: string,
  facts: DeployedFacts,
): DetachedReport {
  const findings: StillReads[] = [];
  const flags = flagsFinding(facts.flags);
  if (flags) findings.push(flags);
  const legacyNames = new Set(spec.cloudflare.legacyBindings);
  const comparison = workerName(stack, migration);
  const { retired } = facts;
  for (const { name, bindings } of facts.scripts) {
    if (name === comparison)
      findings.push({
        where: `Worker ${name}`,
        what: "the comparison Worker still runs: it reads legacy on its cron",
        hint: `npx wrangler delete --name ${name}`,
      });
    for (const b of bindings) {
      const at = `Worker ${name}, binding ${b.name}`;
      const drop = `remove ${b.name} from ${name}'s wrangler config (or wrangler secret delete ${b.name} --name ${name}) and deploy it`;
      if (b.type === "d1" && (retired.has(b.database_id ?? "") || retired.has(b.id ?? "")))
        findings.push({
          where: at,
          what: `binds D1 database ${retired.get(b.database_id ?? "") ?? retired.get(b.id ?? "")}, which decommission deletes`,
          hint: drop,
        });
      else if (b.type === "hyperdrive" && facts.legacyHyperdrive.has(b.id ?? ""))
        findings.push({
          where: at,
          what: `reaches the legacy database ${spec.legacy.host} through Hyperdrive`,
          hint: drop,
        });
      else if (legacyNames.has(b.name))
        findings.push({
          where: at,
          what: "is named in cloudflare.legacyBindings: it reaches legacy",
          hint: drop,
        });
      else if (b.type === "plain_text" && (b.text ?? "").includes(spec.legacy.host))
        findings.push({
          where: at,
          what: `a variable naming the legacy host ${spec.legacy.host}`,
          hint: drop,
        });
    }
  }
  return { scripts: facts.scripts.length, findings };
}

/** Everything in the account that still reads legacy or a retired D1 database. */
export async function checkDetached(
  client: Cloudflare,
  accountId: string,
  spec: DualWriteMigration,
  stack: string,
  migration: string,
  /** The D1 databases decommission deletes: those marked retired, or named before the change marks them. */
  retiring: readonly string[],
): Promise<DetachedReport> {
  const where = `flags entry ${flagsKeyOf(migration)} (KV ${spec.cloudflare.kvNamespace})`;
  const namespaceId = await findNamespaceId(client, accountId, spec.cloudflare.kvNamespace);
  const text =
    namespaceId === undefined
      ? undefined
      : await readKvValue(client, accountId, namespaceId, flagsKeyOf(migration));
  const [legacyHyperdrive, retired] = await Promise.all([
    legacyHyperdriveIds(client, accountId, spec),
    retiredD1(client, accountId, retiring),
  ]);
  const scripts: { name: string; bindings: Binding[] }[] = [];
  for await (const s of client.workers.scripts.list({ account_id: accountId })) {
    if (!s.id) continue;
    const settings = await client.workers.scripts.scriptAndVersionSettings.get(s.id, {
      account_id: accountId,
    });
    scripts.push({ name: s.id, bindings: (settings.bindings ?? []) as Binding[] });
  }
  return judgeDetached(spec, stack, migration, {
    flags: { where, text },
    scripts,
    legacyHyperdrive,
    retired,
  });
}
