import { spawnSync } from "node:child_process";
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { applyStep, status } from "../../scripts/phase";
import { loadMigration } from "../../tooling/stack-file";
import { scratchDir } from "../support/scratch";

const ROOT = resolve(__dirname, "../..");
const NOW = new Date("2026-11-25T12:00:00Z");

function scratchStack(): { dir: string; file: string } {
  const dir = scratchDir("phase");
  copyFileSync(join(ROOT, "Pulumi.yaml"), join(dir, "Pulumi.yaml"));
  copyFileSync(join(ROOT, "Pulumi.prod.yaml"), join(dir, "Pulumi.prod.yaml"));
  return { dir, file: join(dir, "Pulumi.prod.yaml") };
}

/** Lines removed and added between two texts (a plain line diff: enough for one-key edits). */
function changedLines(before: string, after: string): { removed: string[]; added: string[] } {
  const a = before.split("\n");
  const b = after.split("\n");
  let start = 0;
  while (start < a.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) [endA, endB] = [endA - 1, endB - 1];
  return { removed: a.slice(start, endA), added: b.slice(start, endB) };
}

describe("npm run phase: one allowed step, written in place", () => {
  it("next from baseline changes the phase line and nothing else, comments kept", () => {
    const { dir, file } = scratchStack();
    const before = readFileSync(file, "utf8");
    const r = applyStep("prod", "avvivo", "next", undefined, { dir, now: NOW });
    expect(r.code).toBe(0);
    expect(r.out).toContain("avvivo: baseline → provision written to");
    expect(r.out).toContain('git commit -am "prod: avvivo baseline → provision"');
    const after = readFileSync(file, "utf8");
    expect(changedLines(before, after)).toEqual({
      removed: ["      phase: baseline"],
      added: ["      phase: provision"],
    });
    expect(after).toContain("# Edge read-only data (cities, categories)");
  });

  it("refuses a skipped step, names both phases, and leaves the file byte for byte", () => {
    const { dir, file } = scratchStack();
    const before = readFileSync(file, "utf8");
    const r = applyStep("prod", "avvivo", "set", "canary:10", { dir, now: NOW });
    expect(r.code).toBe(1);
    expect(r.out).toContain(
      "avvivo: baseline → canary:10 is refused: it skips provision, replicate, freeze, promote",
    );
    expect(r.out).toContain("is unchanged");
    expect(readFileSync(file, "utf8")).toBe(before);
  });

  it("walks the whole cloudsql runbook with next, the ramp key added and removed on its own line", () => {
    const { dir, file } = scratchStack();
    const seen: string[] = [];
    for (let i = 0; i < 9; i++) {
      const before = readFileSync(file, "utf8");
      const r = applyStep("prod", "avvivo", "next", undefined, { dir, now: NOW });
      expect([i, r.code]).toEqual([i, 0]);
      const spec = loadMigration("prod", "avvivo", { dir, kind: "cloudsql" });
      seen.push(`${spec.phase}${spec.trafficPercent !== undefined ? `:${spec.trafficPercent}` : ""}`);
      const { removed, added } = changedLines(before, readFileSync(file, "utf8"));
      expect(removed.length + added.length).toBeLessThanOrEqual(3);
    }
    expect(seen).toEqual([
      "provision",
      "replicate",
      "freeze",
      "promote",
      "canary:10",
      "canary:50",
      "canary:100",
      "stabilize",
      "decommission",
    ]);
    expect(() => applyStep("prod", "avvivo", "next", undefined, { dir, now: NOW })).toThrow(
      "avvivo is at decommission: the runbook has no step after it",
    );
  });

  it("rolls back from the phase in the file, then retries with a new attempt at replicate", () => {
    const { dir } = scratchStack();
    for (let i = 0; i < 6; i++) applyStep("prod", "avvivo", "next", undefined, { dir, now: NOW }); // canary:50
    expect(applyStep("prod", "avvivo", "rollback", undefined, { dir, now: NOW }).code).toBe(0);
    let spec = loadMigration("prod", "avvivo", { dir, kind: "cloudsql" });
    expect([spec.phase, spec.rollbackFrom, spec.trafficPercent]).toEqual(["rollback", "canary", undefined]);
    const r = applyStep("prod", "avvivo", "next", undefined, { dir, now: NOW });
    expect(r.out).toContain("avvivo: rollback:canary (attempt 1) → replicate (attempt 2)");
    spec = loadMigration("prod", "avvivo", { dir, kind: "cloudsql" });
    expect([spec.phase, spec.attempt, spec.rollbackFrom]).toEqual(["replicate", 2, undefined]);
  });

  it("steps the dual-write read ramp, back by value before the cut and never after it", () => {
    const { dir } = scratchStack();
    for (let i = 0; i < 5; i++) applyStep("prod", "matchauto", "next", undefined, { dir, now: NOW }); // read-switch:50
    expect(loadMigration("prod", "matchauto", { dir, kind: "dual-write" }).readPercent).toBe(50);
    expect(applyStep("prod", "matchauto", "set", "read-switch:10", { dir, now: NOW }).code).toBe(0);
    for (let i = 0; i < 3; i++) applyStep("prod", "matchauto", "next", undefined, { dir, now: NOW }); // final-cut
    expect(loadMigration("prod", "matchauto", { dir, kind: "dual-write" }).phase).toBe("final-cut");
    const back = applyStep("prod", "matchauto", "set", "read-switch:100", { dir, now: NOW });
    expect(back.code).toBe(1);
    expect(back.out).toContain(
      "matchauto: final-cut → read-switch:100 is refused: final-cut cannot go back by value",
    );
  });

  it("status says where each migration stands, what is deployed and what the next step waits for", () => {
    const { dir } = scratchStack();
    for (let i = 0; i < 8; i++) applyStep("prod", "avvivo", "next", undefined, { dir, now: NOW }); // stabilize
    const deployed = {
      source: "deployed.json",
      factsKnown: true,
      migrations: {
        avvivo: {
          position: { phase: "stabilize", attempt: 1 },
          facts: { cutoverCompleted: { attempt: 1, at: "2026-11-25T00:00:00Z" } },
        },
      },
    };
    const text = status("prod", deployed, { dir, now: NOW });
    expect(text).toContain(
      "avvivo (cloudsql)\n  file:      stabilize (attempt 1)\n  deployed:  stabilize (attempt 1)",
    );
    expect(text).toContain(
      "next step: decommission — waits for: the 48 h observation window after the candidate reached 100% ends at 2026-11-27T00:00:00.000Z (36 h left)",
    );
    expect(text).toContain(
      "matchauto (dual-write)\n  file:      baseline\n  deployed:  baseline (no ledger yet)",
    );
  });
});

describe("npm run phase (CLI)", () => {
  const run = (args: string[], cwd: string) =>
    spawnSync(join(ROOT, "node_modules/.bin/tsx"), [join(ROOT, "scripts/phase.ts"), ...args], {
      cwd,
      encoding: "utf8",
      timeout: 60_000,
    });

  it("exits 1 on a refused step and 2 on a missing action, with the command to use", () => {
    const { dir, file } = scratchStack();
    writeFileSync(file, readFileSync(file, "utf8"));
    const refused = run(["prod", "avvivo", "set", "promote"], dir);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain("avvivo: baseline → promote is refused");
    const usage = run(["prod", "avvivo"], dir);
    expect(usage.status).toBe(2);
    expect(usage.stderr).toContain(
      "phase: expected an action after the migration: next, set <phase> or rollback",
    );
    expect(usage.stderr).toContain("hint: npm run phase -- prod avvivo next");
  });
});
