import fc from "fast-check";
import { DUAL_WRITE_PHASES } from "../../infra/config/dual-write";
import { planDualWrite } from "../../infra/engine/dual-write";
import { DUAL_WRITE_PHASE_TABLE } from "../../infra/engine/dual-write-phases";
import { NOW, rawMigrations } from "../support/stack";
import { parseMigrations } from "../../infra/config/load";
import type { DualWriteMigration } from "../../infra/config/dual-write";
import {
  clearFlagsCache,
  fallbackCounts,
  flagsKey,
  floorOf,
  LEGACY_FLAGS,
  migrationFlags,
  parseFlags,
  readBucket,
  readStore,
  writeStores,
  type KvReader,
  type MigrationFlags,
} from "../../workers/flags/flags";

const flags = (over: Partial<MigrationFlags>): MigrationFlags => ({
  phase: "read-switch",
  writeMode: "dual",
  readPercent: 50,
  updatedAt: "2026-03-01T12:00:00Z",
  ...over,
});

/** A KV stand-in that counts reads (the runtime tests use the real Workers KV). */
function countingKv(values: Record<string, string | null>): KvReader & { reads: number } {
  const kv = {
    reads: 0,
    async get(key: string) {
      kv.reads++;
      return values[key] ?? null;
    },
  };
  return kv;
}

beforeEach(() => clearFlagsCache());

describe("parseFlags", () => {
  it("accepts a well-formed entry", () => {
    const value = flags({});
    expect(parseFlags(JSON.stringify(value))).toEqual({ flags: value, source: "kv" });
  });

  it.each([
    { raw: null, reason: "fallback: flags entry missing" },
    { raw: "{not json", reason: "fallback: flags entry is not JSON" },
    { raw: "42", reason: "fallback: flags entry is not an object" },
    { raw: JSON.stringify({ writeMode: "both", readPercent: 0 }), reason: "fallback: writeMode must be" },
    {
      raw: JSON.stringify({ writeMode: "dual", readPercent: 101 }),
      reason: "readPercent must be an integer",
    },
    {
      raw: JSON.stringify({ writeMode: "dual", readPercent: 12.5 }),
      reason: "readPercent must be an integer",
    },
    { raw: JSON.stringify({ writeMode: "dual" }), reason: "readPercent must be an integer" },
    { raw: JSON.stringify({ writeMode: "legacy", readPercent: 10 }), reason: "contradicts writeMode legacy" },
    { raw: JSON.stringify({ writeMode: "new", readPercent: 50 }), reason: "contradicts writeMode new" },
  ])("falls back to legacy: $reason", ({ raw, reason }) => {
    const parsed = parseFlags(raw);
    expect(parsed.flags).toEqual(LEGACY_FLAGS);
    expect(parsed.source).toContain(reason);
  });
});

describe("routing", () => {
  it("keeps a request key in one bucket and spreads keys over 0-99", () => {
    const buckets = new Set(Array.from({ length: 2000 }, (_, i) => readBucket(`user-${i}`)));
    expect(readBucket("user-42")).toBe(readBucket("user-42"));
    expect(buckets.size).toBe(100);
  });

  it("0 and 100 are exact, and the share is close to readPercent", () => {
    fc.assert(
      fc.property(fc.string(), (key) => {
        expect(readStore(flags({ readPercent: 0 }), key)).toBe("legacy");
        expect(readStore(flags({ readPercent: 100 }), key)).toBe("new");
      }),
    );
    const keys = Array.from({ length: 10_000 }, (_, i) => `u${i}`);
    const share = keys.filter((k) => readStore(flags({ readPercent: 10 }), k) === "new").length / keys.length;
    expect(share).toBeGreaterThan(0.08);
    expect(share).toBeLessThan(0.12);
  });

  it("a key that reads new at p% still reads new at every higher percentage (sticky ramp)", () => {
    fc.assert(
      fc.property(
        fc.string(),
        fc.integer({ min: 0, max: 100 }),
        fc.integer({ min: 0, max: 100 }),
        (k, a, b) => {
          const [lo, hi] = a < b ? [a, b] : [b, a];
          if (readStore(flags({ readPercent: lo }), k) === "new") {
            expect(readStore(flags({ readPercent: hi }), k)).toBe("new");
          }
        },
      ),
    );
  });

  it.each([
    { writeMode: "legacy", stores: ["legacy"] },
    { writeMode: "dual", stores: ["legacy", "new"] },
    { writeMode: "new", stores: ["new"] },
  ] as const)("writeMode $writeMode writes $stores", ({ writeMode, stores }) => {
    expect(writeStores(flags({ writeMode }))).toEqual(stores);
  });
});

describe("migrationFlags", () => {
  const entry = (f: MigrationFlags) => ({ [flagsKey("matchauto")]: JSON.stringify(f) });

  it("reads KV once per ttl per isolate, then refreshes", async () => {
    let clock = 1_000;
    const kv = countingKv(entry(flags({})));
    const make = () => migrationFlags(kv, "matchauto", { ttlMs: 5000, now: () => clock });
    await Promise.all([make().snapshot(), make().snapshot(), make().snapshot()]);
    expect(kv.reads).toBe(1);
    clock += 5001;
    await make().snapshot();
    expect(kv.reads).toBe(2);
  });

  it("falls back to legacy when KV throws and no floor was deployed", async () => {
    const kv: KvReader = { get: () => Promise.reject(new Error("KV down")) };
    const snap = await migrationFlags(kv, "matchauto", { onFallback: () => undefined }).snapshot();
    expect(snap).toEqual({ flags: LEGACY_FLAGS, source: "floor legacy (KV read failed)" });
  });

  it("dual write: legacy first, a failed shadow write is reported and does not fail the request", async () => {
    const calls: string[] = [];
    const errors: unknown[] = [];
    const f = migrationFlags(countingKv(entry(flags({ writeMode: "dual" }))), "matchauto", {
      onShadowWriteError: (e) => errors.push(e),
    });
    const result = await f.write({
      legacy: async () => (calls.push("legacy"), "legacy-id"),
      new: async () => {
        calls.push("new");
        throw new Error("D1 busy");
      },
    });
    expect(result).toBe("legacy-id");
    expect(calls).toEqual(["legacy", "new"]);
    expect(String(errors[0])).toContain("D1 busy");
  });

  it("new mode: a failing write to the new store fails the request", async () => {
    const f = migrationFlags(countingKv(entry(flags({ writeMode: "new", readPercent: 100 }))), "matchauto");
    await expect(
      f.write({ legacy: async () => "x", new: () => Promise.reject(new Error("D1 down")) }),
    ).rejects.toThrow("D1 down");
  });
});

describe("failing safe: the phase's floor travels with the Worker", () => {
  const base = parseMigrations(rawMigrations("staging"), { now: NOW }).matchauto as DualWriteMigration;
  const planAt = (phase: (typeof DUAL_WRITE_PHASES)[number]) =>
    planDualWrite("matchauto", {
      ...base,
      phase,
      ...(phase === "read-switch" ? { readPercent: 50 } : {}),
      ...(phase === "rollback" ? { rollbackFrom: "dual-write" } : {}),
    } as DualWriteMigration);
  const withFlags = DUAL_WRITE_PHASES.filter((p) => planAt(p).flagsFloor !== undefined);
  const bad: Record<string, KvReader> = {
    "KV error": { get: () => Promise.reject(new Error("KV down")) },
    "missing entry": countingKv({}),
    "malformed entry": countingKv({ [flagsKey("matchauto")]: "{ writeMode: new" }),
    "entry asking for legacy": countingKv({
      [flagsKey("matchauto")]: JSON.stringify(flags({ writeMode: "legacy", readPercent: 0 })),
    }),
  };

  it("the engine gives every deployed phase a floor: legacy before the final cut, the new stores from it on", () => {
    expect(withFlags).toEqual(DUAL_WRITE_PHASES.filter((p) => p !== "baseline"));
    for (const phase of withFlags) {
      const floor = planAt(phase).flagsFloor!;
      expect([phase, floor.writeMode, floor.readPercent]).toEqual(
        DUAL_WRITE_PHASE_TABLE[phase].cut ? [phase, "new", 100] : [phase, "legacy", 0],
      );
    }
  });

  describe.each(withFlags)("phase %s", (phase) => {
    const plan = planAt(phase);
    const binding = JSON.stringify({ matchauto: plan.flagsFloor });
    it.each(Object.keys(bad))(
      "%s: writes never reach the legacy store once the cut is made",
      async (what) => {
        clearFlagsCache();
        const { floor, problem } = floorOf(binding, "matchauto");
        expect(problem).toBeUndefined();
        const events: unknown[] = [];
        const f = migrationFlags(bad[what], "matchauto", { floor, onFallback: (e) => events.push(e) });
        const wrote: string[] = [];
        await f.write({ legacy: async () => wrote.push("legacy"), new: async () => wrote.push("new") });
        const cut = DUAL_WRITE_PHASE_TABLE[phase].cut;
        expect(wrote).toEqual(cut ? ["new"] : ["legacy"]);
        // Before the cut an entry asking for legacy is a valid entry, not a fallback.
        const fallsBack = cut || what !== "entry asking for legacy";
        expect(events).toHaveLength(fallsBack ? 1 : 0);
        expect(Object.values(fallbackCounts()).reduce((a, b) => a + b, 0)).toBe(fallsBack ? 1 : 0);
      },
    );
  });

  it("uses the last known good flags within the bound, then the floor; each fallback is counted and logged", async () => {
    let clock = 0;
    const values: Record<string, string | null> = {
      [flagsKey("matchauto")]: JSON.stringify(flags({ writeMode: "new", readPercent: 100 })),
    };
    const floor = floorOf(JSON.stringify({ matchauto: planAt("final-cut").flagsFloor }), "matchauto").floor;
    const events: { reason: string; using: string }[] = [];
    const make = () =>
      migrationFlags(countingKv(values), "matchauto", {
        floor,
        ttlMs: 1000,
        lastGoodMs: 60_000,
        now: () => clock,
        onFallback: (e) => events.push(e),
      });
    expect((await make().snapshot()).source).toBe("kv");
    values[flagsKey("matchauto")] = "not json";
    clock += 1001;
    expect((await make().snapshot()).source).toBe("last known good (flags entry is not JSON)");
    clock += 60_000;
    expect(await make().snapshot()).toEqual({ flags: floor, source: "floor new (flags entry is not JSON)" });
    expect(events.map((e) => e.using)).toEqual([
      "last known good (flags entry is not JSON)",
      "floor new (flags entry is not JSON)",
    ]);
    expect(fallbackCounts()).toEqual({ "flags entry is not JSON": 2 });
  });

  it("a last known good entry below the floor is not used", async () => {
    let clock = 0;
    const values: Record<string, string | null> = {
      [flagsKey("matchauto")]: JSON.stringify(flags({ writeMode: "dual", readPercent: 100 })),
    };
    const make = (floor: MigrationFlags) =>
      migrationFlags(countingKv(values), "matchauto", {
        floor,
        ttlMs: 0,
        now: () => clock,
        onFallback: () => undefined,
      });
    await make(LEGACY_FLAGS).snapshot();
    values[flagsKey("matchauto")] = null;
    clock += 1;
    const cut = floorOf(JSON.stringify({ matchauto: planAt("final-cut").flagsFloor }), "matchauto").floor;
    expect((await make(cut).snapshot()).flags.writeMode).toBe("new");
  });

  it("says when the Worker was deployed without a floor binding", () => {
    expect(floorOf(undefined, "matchauto")).toEqual({
      floor: LEGACY_FLAGS,
      problem: "no CUTOVER_FLAGS_FLOOR binding: floor assumed legacy",
    });
    expect(floorOf("{}", "matchauto").problem).toBe(
      "CUTOVER_FLAGS_FLOOR has no valid entry for matchauto: floor assumed legacy",
    );
    expect(floorOf("{", "matchauto").problem).toBe("CUTOVER_FLAGS_FLOOR is not JSON: floor assumed legacy");
  });
});
