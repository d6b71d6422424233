import fc from "fast-check";
import {
  clearFlagsCache,
  flagsKey,
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

  it("falls back to legacy when KV throws", async () => {
    const kv: KvReader = { get: () => Promise.reject(new Error("KV down")) };
    const snap = await migrationFlags(kv, "matchauto").snapshot();
    expect(snap).toEqual({ flags: LEGACY_FLAGS, source: "fallback: KV read failed" });
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
