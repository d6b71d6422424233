import * as path from "node:path";
import { CONFIG_KEY, DUAL_WRITE_PHASES, type DualWritePhase } from "../../infra/config/schema";
import { replacingChanges } from "../../tooling/plan-diff";
import { readStackConfig, withPhase, type StackConfig } from "../../tooling/stack-file";
import { SECRET, synthesize, type RecordedResource, type Synthesis } from "../../tooling/synth";
import { flagsKey, parseFlags } from "../../workers/flags/flags";
import { EXPECTED_FLAGS } from "../support/stack";

const ROOT = path.resolve(__dirname, "../..");
const FINAL_CUT_AT = "2026-03-01T12:00:00Z";
const D1 = "cloudflare:index/d1Database:D1Database";
const KV_NAMESPACE = "cloudflare:index/workersKvNamespace:WorkersKvNamespace";
const KV_ENTRY = "cloudflare:index/workersKv:WorkersKv";
const SPEC = "pulumi-nodejs:dynamic:Resource";
const HYPERDRIVE = "cloudflare:index/hyperdriveConfig:HyperdriveConfig";
const STATEFUL = [D1, KV_NAMESPACE];
const STACKS = ["staging", "prod"] as const;
type Stack = (typeof STACKS)[number];
type Spec = Record<string, unknown>;

/** The stack file with `matchauto` moved to `phase` (plus what the phase needs) and `extra` merged in. */
function configAt(stack: Stack, phase: DualWritePhase, extra: Spec = {}): StackConfig {
  const moved = withPhase(readStackConfig(stack, ROOT), "matchauto", {
    phase,
    ...(phase === "read-switch" ? { percent: 50 } : {}),
  });
  const migrations = moved.config[CONFIG_KEY] as Record<string, Spec>;
  // The change that makes the cut records when its flags take effect (the ledger records the cut itself).
  if (phase === "final-cut" || phase === "decommission") migrations.matchauto.flagsUpdatedAt = FINAL_CUT_AT;
  Object.assign(migrations.matchauto, extra);
  return moved;
}

async function synth(config: StackConfig): Promise<Synthesis> {
  const { program } = await import("../../stacks/program");
  return synthesize(program, { stack: config.stack, config: config.config, secretKeys: config.secretKeys });
}

const cache = new Map<string, Promise<Synthesis>>();
/** Syntheses are slow-ish and read-only: share them between tests. */
function synthAt(stack: Stack, phase: DualWritePhase, extra: Spec = {}): Promise<Synthesis> {
  const key = JSON.stringify([stack, phase, extra]);
  if (!cache.has(key)) cache.set(key, synth(configAt(stack, phase, extra)));
  return cache.get(key)!;
}

const ofMigration = (s: Synthesis, name = "matchauto") =>
  s.resources.filter((r) => r.urn.includes(`::${name}`) || r.name.startsWith(`${name}-`));
const find = (s: Synthesis, type: string, name?: string) =>
  ofMigration(s).filter((r) => r.type === type && (name === undefined || r.name === name));
const flagsOf = (s: Synthesis) => {
  const [entry] = find(s, KV_ENTRY);
  return entry === undefined ? undefined : JSON.parse(entry.inputs.value as string);
};

const rows = STACKS.flatMap((stack) => DUAL_WRITE_PHASES.map((phase) => ({ stack, phase })));

describe.each(rows)("$stack × $phase", ({ stack, phase }) => {
  it("writes the runbook's flags to the entry the Workers read", async () => {
    const s = await synthAt(stack, phase);
    const expected = EXPECTED_FLAGS[phase];
    const entries = find(s, KV_ENTRY);
    if (expected === undefined) {
      expect(entries).toEqual([]);
      return;
    }
    expect(entries).toHaveLength(1);
    expect(entries[0].inputs.keyName).toBe(flagsKey("matchauto"));
    expect(flagsOf(s)).toEqual({
      phase,
      ...expected,
      updatedAt: phase.includes("cut") || phase === "decommission" ? FINAL_CUT_AT : "1970-01-01T00:00:00Z",
    });
    expect(parseFlags(entries[0].inputs.value as string).source).toBe("kv");
  });

  it("declares the D1 database and the KV namespace from shadow on, protected in prod only", async () => {
    const s = await synthAt(stack, phase);
    const d1 = find(s, D1);
    const namespaces = find(s, KV_NAMESPACE);
    if (phase === "baseline") {
      expect([...d1, ...namespaces]).toEqual([]);
      return;
    }
    expect(d1.map((r) => r.inputs)).toEqual([
      {
        accountId: "5f2c8e1a9b7d4c3e8a6f0b1d2e9c7a4b",
        name: `matchauto-edge-${stack}`,
        primaryLocationHint: "wnam",
        readReplication: { mode: stack === "prod" ? "auto" : "disabled" },
      },
    ]);
    expect(namespaces.map((r) => r.inputs.title)).toEqual([`matchauto-${stack}-migration-flags`]);
    for (const r of [...d1, ...namespaces]) expect(r.protect).toBe(stack === "prod");
    expect(find(s, KV_ENTRY).map((r) => r.protect)).toEqual([false]);
    // Stack outputs carry what the Workers' wrangler config binds.
    const out = s.outputs.matchauto as Spec;
    expect(Object.keys(out.d1DatabaseIds as Spec)).toEqual([`matchauto-edge-${stack}`]);
    expect(out.kvNamespaceId).toBe("matchauto-flags-namespace-id");
  });

  it("declares the Hyperdrive configs while the comparison or the capture Worker runs, passwords as secrets, no cache", async () => {
    const s = await synthAt(stack, phase);
    const configs = find(s, HYPERDRIVE);
    const out = s.outputs.matchauto as Spec;
    // The comparison Worker from dual-write to the read switch (and in rollback), the capture Worker from
    // the backfill to the final cut.
    if (!["backfill", "dual-write", "read-switch", "rollback", "final-cut"].includes(phase)) {
      expect(configs).toEqual([]);
      expect(out?.hyperdriveIds).toBeUndefined();
      return;
    }
    expect(configs.map((r) => r.name)).toEqual([
      "matchauto-hyperdrive-legacy",
      "matchauto-hyperdrive-target",
    ]);
    for (const [r, side] of [
      [configs[0], "legacy"],
      [configs[1], "target"],
    ] as const) {
      // The password makes the whole origin a secret in the engine's view: nothing of it is shown.
      expect(r.inputs).toEqual({
        accountId: "5f2c8e1a9b7d4c3e8a6f0b1d2e9c7a4b",
        name: `cutover-${stack}-matchauto-${side}`,
        origin: SECRET,
        caching: { disabled: true },
      });
      expect(r.secretPaths).toEqual(["origin"]);
    }
    expect(out.hyperdriveIds).toEqual({
      legacy: "matchauto-hyperdrive-legacy-id",
      target: "matchauto-hyperdrive-target-id",
    });
  });

  it("takes the Cloudflare token from the secret config, never as plain text", async () => {
    const s = await synthAt(stack, phase);
    const providers = ofMigration(s).filter((r) => r.type === "pulumi:providers:cloudflare");
    if (phase === "baseline") {
      expect(providers).toEqual([]);
      return;
    }
    expect(providers).toHaveLength(1);
    expect(providers[0].inputs.apiToken).toBe(SECRET);
    expect(providers[0].secretPaths).toContain("apiToken");
  });

  it("records the migration spec for the policy pack", async () => {
    const s = await synthAt(stack, phase);
    const [spec] = find(s, SPEC, "matchauto-spec");
    expect(spec.inputs).toMatchObject({
      cutoverSpec: "v1",
      migration: "matchauto",
      kind: "dual-write",
      phase,
    });
    // The soak is judged by the ledger from the time it recorded, not published by the spec.
    expect(spec.inputs.decommissionAllowedAfter).toBeUndefined();
  });

  it("declares the phase ledger at the spec's phase, outside the component it gates", async () => {
    const s = await synthAt(stack, phase);
    const ledgers = s.resources.filter((r) => r.inputs.cutoverLedger === "v1");
    expect(ledgers.map((r) => r.name)).toEqual(["avvivo-ledger", "matchauto-ledger"]);
    const ledger = ledgers.find((r) => r.name === "matchauto-ledger")!;
    expect(ledger.inputs).toMatchObject({ kind: "dual-write", position: { phase }, windowHours: 7 * 24 });
    expect(ledger.parent).toMatch(/::pulumi:pulumi:Stack::/);
  });

  it("makes every resource of the migration wait for the ledger's verdict", async () => {
    const s = await synthAt(stack, phase);
    const ledger = s.resources.find((r) => r.name === "matchauto-ledger")!;
    const gated = s.resources.filter((r) => r.custom && r.name.startsWith("matchauto-") && r !== ledger);
    expect(gated.length).toBeGreaterThan(0);
    for (const r of gated)
      expect({ name: r.name, waits: r.dependencies.includes(ledger.urn) }).toEqual({
        name: r.name,
        waits: true,
      });
  });
});

/** Stateful resources of `before` that `after` deletes or replaces, as readable strings. */
function lost(before: Synthesis, after: Synthesis): string[] {
  return ofMigration(before)
    .filter((r) => STATEFUL.includes(r.type))
    .flatMap((r: RecordedResource) => {
      const same = after.resources.find((a) => a.urn === r.urn);
      if (same === undefined) return [`${r.name} deleted`];
      return replacingChanges(r, same).map((f) => `${r.name} replaced (${f})`);
    });
}

const FORWARD = DUAL_WRITE_PHASES.filter((p) => p !== "rollback");
const adjacent = STACKS.flatMap((stack) =>
  FORWARD.slice(1).map((to, i) => ({ stack, from: FORWARD[i], to })),
);

describe.each(adjacent)("$stack: $from → $to", ({ stack, from, to }) => {
  it("deletes or replaces no D1 database and no KV namespace", async () => {
    expect(lost(await synthAt(stack, from), await synthAt(stack, to))).toEqual([]);
  });
});

const rollbackRows = STACKS.flatMap((stack) =>
  (["baseline", "shadow", "backfill", "dual-write", "read-switch"] as const).map((from) => ({ stack, from })),
);

describe.each(rollbackRows)("$stack: rollback from $from", ({ stack, from }) => {
  it("keeps every stateful resource and puts reads and writes back on legacy", async () => {
    const rolledBack = await synthAt(stack, "rollback");
    expect(lost(await synthAt(stack, from), rolledBack)).toEqual([]);
    expect(flagsOf(rolledBack)).toMatchObject({ phase: "rollback", writeMode: "legacy", readPercent: 0 });
  });

  it("and moving forward again loses nothing", async () => {
    expect(
      lost(await synthAt(stack, "rollback"), await synthAt(stack, from === "baseline" ? "shadow" : from)),
    ).toEqual([]);
  });
});

describe.each(STACKS.map((stack) => ({ stack })))("$stack: decommission", ({ stack }) => {
  it("decommission deletes the D1 databases marked retired, and only those", async () => {
    const base = (configAt(stack, "shadow").config[CONFIG_KEY] as Record<string, Spec>).matchauto
      .d1 as Spec[];
    const legacyEdge = {
      name: `matchauto-geo-v0-${stack}`,
      binding: "GEO_DB",
      locationHint: "wnam",
      readReplication: "disabled",
    };
    const cut = await synthAt(stack, "final-cut", { d1: [...base, legacyEdge] });
    const decommissioned = await synthAt(stack, "decommission", {
      d1: [...base, { ...legacyEdge, retired: true }],
    });
    expect(lost(cut, decommissioned)).toEqual([`matchauto-d1-matchauto-geo-v0-${stack} deleted`]);
  });
});

describe("the component", () => {
  it("lets two dual-write migrations coexist in one stack", async () => {
    const config = configAt("staging", "shadow");
    const migrations = config.config[CONFIG_KEY] as Record<string, Spec>;
    const other = structuredClone(migrations.matchauto);
    other.cloudflare = { ...(other.cloudflare as Spec), kvNamespace: "partsauto-staging-migration-flags" };
    other.d1 = [
      { name: "partsauto-edge-staging", binding: "EDGE_DB", locationHint: "enam", readReplication: "auto" },
    ];
    other.tables = [{ name: "cities", store: "d1", d1Database: "partsauto-edge-staging" }];
    migrations.partsauto = other;
    const s = await synth(config);
    const urns = s.resources.map((r) => r.urn);
    expect(new Set(urns).size).toBe(urns.length);
    const entries = s.resources.filter((r) => r.type === KV_ENTRY).map((r) => r.inputs.keyName);
    expect(entries.sort()).toEqual([flagsKey("matchauto"), flagsKey("partsauto")]);
  });

  it("renders the same flags entry on every run of the same config (no preview drift)", async () => {
    const extra = { flagsUpdatedAt: "2026-02-20T09:30:00Z" };
    const first = await synth(configAt("prod", "dual-write", extra));
    const second = await synth(configAt("prod", "dual-write", extra));
    expect(find(second, KV_ENTRY)[0].inputs.value).toBe(find(first, KV_ENTRY)[0].inputs.value);
    expect(flagsOf(first).updatedAt).toBe("2026-02-20T09:30:00Z");
  });
});
