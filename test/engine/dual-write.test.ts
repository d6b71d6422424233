import fc from "fast-check";
import * as path from "node:path";
import { parseMigrations } from "../../infra/config/load";
import {
  CONFIG_KEY,
  DUAL_WRITE_PHASES,
  type DualWriteMigration,
  type DualWritePhase,
} from "../../infra/config/schema";
import { flagsKeyOf, planDualWrite, UNRECORDED_UPDATED_AT } from "../../infra/engine/dual-write";
import { DUAL_WRITE_ORDER, DUAL_WRITE_PHASE_TABLE } from "../../infra/engine/dual-write-phases";
import { gatesOf, type Position } from "../../infra/engine/transitions";
import { readStackConfig } from "../../tooling/stack-file";
import { flagsKey, parseFlags } from "../../workers/flags/flags";
import { EXPECTED_FLAGS } from "../support/stack";

const ROOT = path.resolve(__dirname, "../..");
const NOW = new Date("2026-03-05T12:00:00Z");
const FINAL_CUT_AT = "2026-03-01T12:00:00Z";

/** The staging `matchauto` spec, validated, at a phase (with what that phase requires). */
function specAt(phase: DualWritePhase, extra: Record<string, unknown> = {}, now = NOW): DualWriteMigration {
  const raw = structuredClone(readStackConfig("staging", ROOT).config[CONFIG_KEY]) as Record<
    string,
    Record<string, unknown>
  >;
  const needs: Record<string, unknown> = phase === "read-switch" ? { readPercent: 50 } : {};
  raw.matchauto = { ...raw.matchauto, phase, ...needs, ...extra };
  const spec = parseMigrations(raw, { now }).matchauto;
  if (spec.kind !== "dual-write") throw new Error("matchauto is not dual-write");
  return spec;
}

describe("planDualWrite", () => {
  it.each(DUAL_WRITE_PHASES.map((phase) => ({ phase })))(
    "flags of $phase follow the runbook",
    ({ phase }) => {
      const plan = planDualWrite("matchauto", specAt(phase), NOW);
      const expected = EXPECTED_FLAGS[phase];
      if (expected === undefined) {
        expect(plan.flags).toBeUndefined();
        expect(plan.resources).toEqual({ d1: false, kv: false, flags: false, hyperdrive: false });
        expect(plan.d1).toEqual([]);
      } else {
        expect(plan.flags).toMatchObject({ phase, ...expected });
        // The Hyperdrive configs exist while the comparison Worker runs (both stores kept equal) or the
        // capture Worker applies (backfill to final cut), and only then.
        const comparing = ["dual-write", "read-switch", "rollback"].includes(phase);
        const capturing = ["backfill", "final-cut"].includes(phase);
        expect(plan.resources).toEqual({
          d1: true,
          kv: true,
          flags: true,
          hyperdrive: comparing || capturing,
        });
        expect(plan.compare.state).toBe(comparing ? "on" : phase === "final-cut" ? "remove" : "off");
        expect(plan.d1.map((d) => d.name)).toEqual(["matchauto-edge-staging"]);
        // The Workers module must accept every value the program writes, not fall back to legacy.
        expect(parseFlags(JSON.stringify(plan.flags)).source).toBe("kv");
      }
    },
  );

  it("keys the flags entry exactly as the Workers module reads it", () => {
    expect(planDualWrite("matchauto", specAt("shadow"), NOW).flagsKey).toBe(flagsKey("matchauto"));
    expect(flagsKeyOf("other")).toBe(flagsKey("other"));
  });

  it("states read replication and location of each D1 database explicitly", () => {
    expect(planDualWrite("matchauto", specAt("shadow"), NOW).d1).toEqual([
      {
        name: "matchauto-edge-staging",
        binding: "EDGE_DB",
        locationHint: "wnam",
        readReplication: "disabled",
        retired: false,
      },
    ]);
  });

  describe("updatedAt comes from config, never from the clock", () => {
    it("is flagsUpdatedAt as written", () => {
      const plan = planDualWrite(
        "matchauto",
        specAt("dual-write", { flagsUpdatedAt: "2026-02-20T09:30:00Z" }),
      );
      expect(plan.flags?.updatedAt).toBe("2026-02-20T09:30:00Z");
      expect(plan.warnings.join("\n")).not.toMatch(/updatedAt is not recorded/);
    });

    it("is flagsUpdatedAt after the cut too, whatever time the ledger recorded for the cut", () => {
      const plan = planDualWrite(
        "matchauto",
        specAt("final-cut", { flagsUpdatedAt: "2026-02-20T09:30:00Z" }),
        NOW,
        FINAL_CUT_AT,
      );
      expect(plan.flags?.updatedAt).toBe("2026-02-20T09:30:00Z");
    });

    it("is the unrecorded marker with a warning when config has no time", () => {
      const plan = planDualWrite("matchauto", specAt("shadow"), NOW);
      expect(plan.flags?.updatedAt).toBe(UNRECORDED_UPDATED_AT);
      expect(plan.warnings).toContain(
        `flags.updatedAt is not recorded (shown as ${UNRECORDED_UPDATED_AT}); hint: set flagsUpdatedAt to the time of this change`,
      );
    });

    it("renders the same plan at any clock time (no preview drift)", () => {
      const spec = specAt("read-switch");
      const a = planDualWrite("matchauto", spec, new Date("2026-03-05T00:00:00Z"));
      const b = planDualWrite("matchauto", spec, new Date("2027-01-01T00:00:00Z"));
      expect(b.flags).toEqual(a.flags);
    });
  });

  describe("soak countdown", () => {
    it("counts the hours left to the recorded final cut + soakDays", () => {
      const plan = planDualWrite("matchauto", specAt("final-cut"), NOW, FINAL_CUT_AT);
      expect(plan.soak).toEqual({
        finalCutAt: FINAL_CUT_AT,
        until: "2026-03-08T12:00:00.000Z",
        remainingHours: 72,
      });
      expect(plan.warnings).toContain(
        "Decommission allowed after 2026-03-08T12:00:00.000Z (soak of 7 days): 72 h left.",
      );
    });

    it("rounds partial hours up and stops at 0", () => {
      const spec = specAt("final-cut", { soakDays: 1 });
      const at = (now: string) => planDualWrite("matchauto", spec, new Date(now), FINAL_CUT_AT);
      expect(at("2026-03-02T11:30:00Z").soak?.remainingHours).toBe(1);
      expect(at("2026-04-01T00:00:00Z").soak?.remainingHours).toBe(0);
    });

    it("is absent when the cut's time is not known (no ledger given)", () => {
      expect(planDualWrite("matchauto", specAt("final-cut"), NOW).soak).toBeUndefined();
    });

    it("is absent before the cut", () => {
      expect(planDualWrite("matchauto", specAt("read-switch"), NOW).soak).toBeUndefined();
    });
  });

  describe("irreversible steps", () => {
    it("final-cut says legacy stops being written and rollback is refused", () => {
      const [step, ...rest] = planDualWrite("matchauto", specAt("final-cut"), NOW).irreversible;
      expect(rest).toEqual([]);
      expect(step).toContain(
        "writes go only to the new stores from the moment this is applied (the ledger records the time)",
      );
      expect(step).toContain("rollback is refused");
    });

    it("decommission deletes only the D1 databases marked retired, and says so", () => {
      const d1 = [
        {
          name: "matchauto-edge-staging",
          binding: "EDGE_DB",
          locationHint: "wnam",
          readReplication: "disabled",
        },
        {
          name: "matchauto-geo-v0",
          binding: "GEO_DB",
          locationHint: "wnam",
          readReplication: "disabled",
          retired: true,
        },
      ];
      const plan = planDualWrite(
        "matchauto",
        specAt("decommission", { d1 }),
        new Date("2026-11-25T00:00:00Z"),
      );
      expect(plan.d1.map((d) => d.name)).toEqual(["matchauto-edge-staging"]);
      expect(plan.irreversible).toEqual([
        "D1 database matchauto-geo-v0 (binding GEO_DB) is deleted with its data: Time Travel restores a database, not a deleted one. Its export is the gate of this step: cutover data export --stack <stack> --migration matchauto --remote --evidence",
      ]);
      expect(plan.warnings.join("\n")).toContain("pulumi state unprotect");
    });

    it.each(["baseline", "shadow", "backfill", "dual-write", "read-switch", "rollback"] as const)(
      "%s has none",
      (phase) => {
        expect(planDualWrite("matchauto", specAt(phase), NOW).irreversible).toEqual([]);
      },
    );
  });

  it("rollback says legacy takes all reads and writes and the new stores go stale", () => {
    expect(planDualWrite("matchauto", specAt("rollback"), NOW).warnings[0]).toBe(
      "Flags back to legacy: reads and writes go to the legacy store only. The new stores stop receiving writes: run the backfill again before moving forward.",
    );
  });

  it("read-switch names the next ramp step", () => {
    expect(planDualWrite("matchauto", specAt("read-switch"), NOW).warnings[0]).toBe(
      "50% of reads are served by the new stores; next ramp step: 100%. Rollback stays instant: legacy is still written.",
    );
  });
});

// Properties over generated specs: any D1 list, any read ramp step.
const FORWARD = DUAL_WRITE_PHASES.filter((p) => p !== "rollback");
const d1Arb = fc.uniqueArray(
  fc.record({
    name: fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/),
    retired: fc.boolean(),
    readReplication: fc.constantFrom("auto" as const, "disabled" as const),
  }),
  { minLength: 1, maxLength: 4, selector: (d) => d.name },
);

let shadowSpec: DualWriteMigration | undefined;
function generated(phase: DualWritePhase, d1: { name: string; retired: boolean; readReplication: string }[]) {
  const spec = (shadowSpec ??= specAt("shadow"));
  return {
    ...spec,
    phase,
    d1: d1.map((d, i) => ({
      ...spec.d1[0],
      ...d,
      binding: `DB_${i}`,
      retired: phase === "decommission" && d.retired,
    })),
  } as DualWriteMigration;
}

describe("planDualWrite properties", () => {
  it("no forward phase change drops a D1 database, except decommission of retired ones", () => {
    fc.assert(
      fc.property(d1Arb, fc.integer({ min: 0, max: FORWARD.length - 2 }), (d1, i) => {
        const before = planDualWrite("m", generated(FORWARD[i], d1), NOW).d1;
        const after = planDualWrite("m", generated(FORWARD[i + 1], d1), NOW).d1;
        const kept = (d: { name: string; readReplication: string }) =>
          after.some((a) => a.name === d.name && a.readReplication === d.readReplication);
        const dropped = before.filter((d) => !kept(d)).map((d) => d.name);
        const retired =
          FORWARD[i + 1] === "decommission" ? d1.filter((d) => d.retired).map((d) => d.name) : [];
        expect(dropped.sort()).toEqual(retired.sort());
      }),
    );
  });

  it("rollback from any phase before the cut keeps every D1 database", () => {
    fc.assert(
      fc.property(d1Arb, fc.constantFrom(...FORWARD.slice(0, 5)), (d1, from) => {
        const before = planDualWrite("m", generated(from, d1), NOW).d1.map((d) => d.name);
        const after = planDualWrite("m", generated("rollback", d1), NOW).d1.map((d) => d.name);
        expect(after).toEqual(expect.arrayContaining(before));
      }),
    );
  });

  it("never reads from a store that is not written", () => {
    fc.assert(
      fc.property(fc.constantFrom(...DUAL_WRITE_PHASES), fc.integer({ min: 1, max: 100 }), (phase, pct) => {
        const flags = planDualWrite(
          "m",
          { ...generated(phase, [{ name: "x", retired: false, readReplication: "auto" }]), readPercent: pct },
          NOW,
        ).flags;
        if (flags === undefined) return;
        if (flags.writeMode === "legacy") expect(flags.readPercent).toBe(0);
        if (flags.writeMode === "new") expect(flags.readPercent).toBe(100);
        expect(parseFlags(JSON.stringify(flags)).source).toBe("kv");
      }),
    );
  });
});

describe("change capture per phase", () => {
  it.each([
    ["baseline", "off", undefined],
    ["shadow", "install", "cutover data capture install --stack <stack> --migration matchauto"],
    ["backfill", "on", "cutover data capture worker --stack <stack> --migration matchauto --remote"],
    ["dual-write", "on", "cutover data capture worker --stack <stack> --migration matchauto --remote"],
    ["read-switch", "on", "cutover data capture worker --stack <stack> --migration matchauto --remote"],
    ["final-cut", "drain", "cutover data capture remove --stack <stack> --migration matchauto"],
    ["decommission", "removed", "cutover data capture remove --drop-log"],
    ["rollback", "on", "cutover data capture worker --stack <stack> --migration matchauto --remote"],
  ] as const)("%s: capture is %s", (phase, state, step) => {
    const plan = planDualWrite("matchauto", specAt(phase), NOW, FINAL_CUT_AT);
    expect(plan.capture.state).toBe(state);
    expect(plan.capture.tables).toBe(7);
    if (step === undefined) expect(plan.capture.steps).toEqual([]);
    else expect(plan.capture.steps.join("\n")).toContain(step);
  });

  it("decommission, and only it, lists what is turned off on each side: exports and checks first", () => {
    for (const phase of DUAL_WRITE_PHASES.filter((p) => p !== "decommission"))
      expect([phase, planDualWrite("matchauto", specAt(phase), NOW).turnsOff]).toEqual([phase, undefined]);
    const spec = specAt("decommission");
    const retiring = {
      ...spec,
      d1: [...spec.d1, { ...spec.d1[0], name: "matchauto-old", binding: "OLD_DB", retired: true }],
      cloudflare: { ...spec.cloudflare, legacyBindings: ["LEGACY_DATABASE_URL"] },
    };
    const off = planDualWrite("matchauto", retiring, NOW, FINAL_CUT_AT).turnsOff!;
    expect(off.newStores[0]).toContain(
      "cutover data export --stack <stack> --migration matchauto --remote --evidence",
    );
    expect(off.newStores[1]).toBe(
      "pulumi up deletes the retired D1 database(s) matchauto-old (binding OLD_DB); the others and the flags namespace stay",
    );
    expect(off.legacy[0]).toContain(
      "cutover check decommission --stack <stack> --migration matchauto --evidence",
    );
    expect(off.legacy[1]).toContain("(LEGACY_DATABASE_URL)");
    expect(off.legacy.findIndex((s) => s.includes("pg_dump"))).toBeLessThan(
      off.legacy.findIndex((s) => s.includes("Turn the legacy database off")),
    );
  });

  it("the schema is migrated in shadow, before capture is installed", () => {
    const steps = planDualWrite("matchauto", specAt("shadow"), NOW).capture.steps;
    expect(steps[0]).toBe("cutover data schema --stack <stack> --migration matchauto");
  });

  it("read-switch is gated on validation, the capture keeping up and the comparison Worker; nothing else on those", () => {
    const ctx = { kind: "dual-write" as const, ramp: [10, 50, 100], route: undefined };
    const at = (phase: string, percent?: number): Position => ({
      phase,
      attempt: 1,
      ...(percent === undefined ? {} : { percent }),
    });
    expect(gatesOf(at("dual-write"), at("read-switch", 10), ctx)).toEqual(["validate", "capture", "compare"]);
    // The ramp's later steps and rolling back are not gated.
    expect(gatesOf(at("read-switch", 10), at("read-switch", 50), ctx)).toEqual([]);
    expect(gatesOf(at("read-switch", 10), at("rollback"), ctx)).toEqual([]);
    for (const check of ["capture", "compare"] as const) {
      const gated = DUAL_WRITE_ORDER.filter((p) => (DUAL_WRITE_PHASE_TABLE[p].gates ?? []).includes(check));
      expect([check, gated]).toEqual([check, ["read-switch"]]);
    }
  });
});
