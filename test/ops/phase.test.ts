import { spawnSync } from "node:child_process";
import { CUTOVER } from "../support/cli";
import { copyFileSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { applyStep } from "../../ops/phase/apply";
import { status, statusOf } from "../../ops/phase/status";
import {
  copyStack,
  PROD_AVVIVO_ENDPOINTS,
  passAllGates,
  recordScoped,
  signingPair,
  type ScopedOverrides,
} from "../support/evidence";
import { sign } from "node:crypto";
import { pinKey } from "../../infra/engine/gates";
import { loadMigration } from "../../tooling/stack-file";
import { scratchDir } from "../support/scratch";

const ROOT = resolve(__dirname, "../..");
const NOW = new Date("2026-11-25T12:00:00Z");
/** The example prod stack's critical tables: what validate evidence must cover. */
const CRITICAL = (() => {
  const avvivo = loadMigration("prod", "avvivo", { dir: ROOT });
  return avvivo.kind === "cloudsql" ? avvivo.source.criticalTables : [];
})();

function scratchStack(): { dir: string; file: string } {
  const dir = scratchDir("phase");
  copyFileSync(join(ROOT, "Pulumi.yaml"), join(dir, "Pulumi.yaml"));
  copyStack(ROOT, dir, "prod");
  return { dir, file: join(dir, "Pulumi.prod.yaml") };
}

const step = (dir: string, migration: string, action: "next" | "set" | "rollback", token?: string) => {
  passAllGates(dir, "prod", migration, NOW);
  return applyStep("prod", migration, action, token, { dir, now: NOW });
};

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

describe("cutover phase: one allowed step, written in place", () => {
  it("next from baseline changes the phase line and nothing else, comments kept", () => {
    const { dir, file } = scratchStack();
    const before = readFileSync(file, "utf8");
    const r = applyStep("prod", "avvivo", "next", undefined, { dir, now: NOW });
    expect(r.code).toBe(0);
    expect(r.out).toContain("avvivo: baseline → provision written to");
    expect(r.out).toContain(
      'git add Pulumi.prod.yaml evidence/ && git commit -m "prod: avvivo baseline → provision"',
    );
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
      const r = step(dir, "avvivo", "next");
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
    for (let i = 0; i < 6; i++) step(dir, "avvivo", "next"); // canary:50
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
    for (let i = 0; i < 5; i++) step(dir, "matchauto", "next"); // read-switch:50
    expect(loadMigration("prod", "matchauto", { dir, kind: "dual-write" }).readPercent).toBe(50);
    // Each step stamps the flags entry's time: what the Workers read says when the phase took effect.
    expect(loadMigration("prod", "matchauto", { dir, kind: "dual-write" }).flagsUpdatedAt).toBe(
      NOW.toISOString(),
    );
    expect(applyStep("prod", "matchauto", "set", "read-switch:10", { dir, now: NOW }).code).toBe(0);
    for (let i = 0; i < 3; i++) step(dir, "matchauto", "next"); // final-cut
    expect(loadMigration("prod", "matchauto", { dir, kind: "dual-write" }).phase).toBe("final-cut");
    const back = applyStep("prod", "matchauto", "set", "read-switch:100", { dir, now: NOW });
    expect(back.code).toBe(1);
    expect(back.out).toContain(
      "matchauto: final-cut → read-switch:100 is refused: final-cut cannot go back by value",
    );
  });

  it("status says where each migration stands, what is deployed and what the next step waits for", () => {
    const { dir } = scratchStack();
    for (let i = 0; i < 8; i++) step(dir, "avvivo", "next"); // stabilize
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

describe("gate evidence: checked, not trusted", () => {
  /** A stack at replicate: the next step, freeze, needs validation evidence taken at replicate. */
  function atReplicate() {
    const { dir } = scratchStack();
    for (let i = 0; i < 2; i++) step(dir, "avvivo", "next");
    rmSync(join(dir, "evidence"), { recursive: true, force: true }); // what the earlier steps left
    return dir;
  }
  const file = (dir: string) => join(dir, "evidence/prod/avvivo/validate.json");
  const record = (dir: string, over: ScopedOverrides = {}) =>
    recordScoped(dir, "prod", "avvivo", "validate", {
      summary: "7 table(s) identical",
      at: new Date(NOW.getTime() - 3_600_000),
      ...over,
    });
  const next = (dir: string) => applyStep("prod", "avvivo", "next", undefined, { dir, now: NOW });

  it("refuses replicate → freeze without validation evidence, naming the command", () => {
    const r = next(atReplicate());
    expect(r.code).toBe(1);
    expect(r.out).toContain(
      "avvivo: replicate → freeze needs passing validate evidence taken at replicate: no validate evidence (evidence/prod/avvivo/validate.json); hint: cutover check validate --stack prod --migration avvivo --evidence",
    );
  });

  it("accepts fresh passing evidence taken at the step being left", () => {
    const dir = atReplicate();
    record(dir);
    expect(next(dir).code).toBe(0);
    expect(loadMigration("prod", "avvivo", { dir }).phase).toBe("freeze");
  });

  it.each([
    [
      "stale",
      { at: new Date(NOW.getTime() - 25 * 3_600_000) },
      "the validate evidence is 25 h old (more than 24 h)",
    ],
    ["failing", { passed: false }, "the last validate did not pass"],
    [
      "taken at another step",
      { position: "provision" },
      "the validate evidence was taken at provision, not at replicate",
    ],
    [
      "dated in the future",
      { at: new Date(NOW.getTime() + 3_600_000) },
      "the validate evidence is dated 2026-11-25T13:00:00.000Z, in the future",
    ],
    ["of another attempt", { attempt: 2 }, "the validate evidence was taken in attempt 2, not in attempt 1"],
    [
      "taken against a laptop's databases",
      {
        endpoints: [
          { role: "source" as const, host: "127.0.0.1", port: 5432, database: "postgres" },
          { role: "target" as const, host: "127.0.0.1", port: 5433, database: "postgres" },
        ],
      },
      "the validate evidence was taken against source 127.0.0.1:5432/postgres, not this stack's db.hxbnqapwkzomvtel.supabase.co:5432/postgres",
    ],
    [
      "covering 1 of the 7 critical tables",
      { tables: [{ name: "Shop", rows: 10 }] },
      "the validate evidence covers 1 of the migration's 7 tables (missing: Stream, Reel, QuotaWallet, PurchaseRequest, ChatConversation, ChatMessage)",
    ],
    [
      "from a sample",
      {
        tables: CRITICAL.map((name) => ({
          name,
          rows: 10,
          sampled: true as const,
        })),
      },
      `the validate evidence compared only a sample of ${CRITICAL.join(", ")}: a gate needs the full check (without --sample)`,
    ],
    [
      "not signed by the pipeline (a laptop's run, or a file written by hand with its digest recomputed)",
      { unsigned: true },
      "the validate evidence is not signed: this stack accepts only evidence its pipeline signed (evidenceSignedBy)",
    ],
  ])("refuses %s evidence", (_title, over, reason) => {
    const dir = atReplicate();
    record(dir, over);
    const r = next(dir);
    expect(r.code).toBe(1);
    expect(r.out).toContain(reason);
  });

  it("refuses evidence signed by another key (another stack's pipeline, or a forger's)", () => {
    const dir = atReplicate();
    const other = signingPair();
    const body = JSON.parse(readFileSync(record(dir), "utf8"));
    // Re-signed with a key the stack does not name: the digest holds, the signature does not verify.
    body.signature = sign(null, Buffer.from(body.digest), other.env.CUTOVER_EVIDENCE_SIGNING_KEY!).toString(
      "base64",
    );
    writeFileSync(file(dir), JSON.stringify(body));
    const r = next(dir);
    expect(r.code).toBe(1);
    expect(r.out).toContain(
      "the validate evidence's signature does not verify with this stack's evidenceSignedBy key",
    );
  });

  it("refuses evidence edited by hand (its digest no longer matches)", () => {
    const dir = atReplicate();
    record(dir, { passed: false });
    writeFileSync(file(dir), readFileSync(file(dir), "utf8").replace('"passed": false', '"passed": true'));
    const r = next(dir);
    expect(r.code).toBe(1);
    expect(r.out).toContain(
      "evidence/prod/avvivo/validate.json does not match its digest: it was edited by hand",
    );
  });

  it("status says which evidence the next step waits for", () => {
    const text = status("prod", undefined, { dir: atReplicate(), now: NOW });
    expect(text).toContain(
      "next step: freeze — waits for: no validate evidence (evidence/prod/avvivo/validate.json) (cutover check validate --stack prod --migration avvivo --evidence)",
    );
  });

  it("status judges the evidence against the servers the deployed ledger pinned", () => {
    const dir = atReplicate();
    const { source, target } = PROD_AVVIVO_ENDPOINTS;
    record(dir, { endpoints: [{ ...source, systemIdentifier: "7309999999999999999" }, target] });
    const deployed = {
      source: "deployed.json",
      factsKnown: true,
      migrations: {
        avvivo: {
          position: { phase: "replicate", attempt: 1 },
          facts: {},
          pins: { [pinKey(1, source)]: "7301111111111111111" },
        },
      },
    };
    const avvivo = statusOf("prod", deployed, { dir, now: NOW }).migrations.find((m) => m.name === "avvivo")!;
    expect(avvivo.next?.evidence).toContain(
      "is cluster 7309999999999999999, not cluster 7301111111111111111 that earlier gates of attempt 1 were passed on",
    );
  });

  it("status as data names the gate the next step needs (what up.yml validates after apply)", () => {
    const report = statusOf("prod", undefined, { dir: atReplicate(), now: NOW });
    const avvivo = report.migrations.find((m) => m.name === "avvivo")!;
    expect(avvivo).toMatchObject({
      kind: "cloudsql",
      file: "replicate (attempt 1)",
      next: {
        step: "freeze",
        gates: ["validate"],
        evidence: "no validate evidence (evidence/prod/avvivo/validate.json)",
      },
    });
    const matchauto = report.migrations.find((m) => m.name === "matchauto")!;
    expect(matchauto.next).toEqual({ step: "shadow", waitsFor: "nothing" });
  });
});

describe("cutover phase (CLI)", () => {
  const run = (args: string[], cwd: string) =>
    spawnSync(join(ROOT, "node_modules/.bin/tsx"), [CUTOVER, "phase", ...args], {
      cwd,
      encoding: "utf8",
      timeout: 60_000,
    });

  it("exits 1 on a refused step and 2 on a missing action, with the command to use", () => {
    const { dir, file } = scratchStack();
    writeFileSync(file, readFileSync(file, "utf8"));
    const refused = run(["set", "promote", "-s", "prod", "-m", "avvivo"], dir);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain("avvivo: baseline → promote is refused");
    const usage = run(["next", "-s", "prod"], dir);
    expect(usage.status).toBe(2);
    expect(usage.stderr).toContain("cutover phase next: phase next needs the migration it moves");
    expect(usage.stderr).toContain("hint: cutover phase next -s prod -m <migration>");
    // A phase the kind does not have is bad input, like plan's: exit 2, the phases named, nothing changed.
    const before = readFileSync(file, "utf8");
    const unknown = run(["set", "warp", "-s", "prod", "-m", "avvivo"], dir);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('cutover phase set: "warp": warp is not a phase of kind cloudsql');
    expect(unknown.stderr).toContain("hint: one of baseline, provision, replicate");
    expect(readFileSync(file, "utf8")).toBe(before);
  });
});
