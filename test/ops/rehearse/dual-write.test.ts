/**
 * Runbook 2 rehearsed at CI size: the command walks staging's matchauto from baseline to the final cut
 * under load through the API Worker (workerd), every part real and on loopback, then drills a rollback
 * from the read switch. The report must show no lost write, no stale read, the stores equal at the cut,
 * the program's own flags at every position, and a working service after the rollback. A wrong flag in
 * the engine's table must fail the rehearsal.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { CONFIG_KEY } from "../../../infra/config/common";
import { parseMigrations } from "../../../infra/config/load";
import { planDualWrite } from "../../../infra/engine/dual-write";
import { DUAL_WRITE_PHASE_TABLE, type DualWritePhaseRow } from "../../../infra/engine/dual-write-phases";
import { atPosition, readStackConfig } from "../../../tooling/stack-file";
import { FLAGS_TTL_MS } from "../../../ops/rehearse/dual-write/edge";
import { runGates, type GateContext } from "../../../ops/rehearse/dual-write/gates";
import { dualWritePassed, type DualWriteReport } from "../../../ops/rehearse/dual-write/report";
import { rehearseDualWrite } from "../../../ops/rehearse/dual-write/run";
import { dualWritePerSecond, dualWriteTimelineSvg } from "../../../ops/rehearse/dual-write/timeline";
import { ROOT, runCutover } from "../../support/cli";
import { scratchDir } from "../../support/scratch";

jest.setTimeout(600_000);

const WALK = [
  "baseline",
  "shadow",
  "backfill",
  "dual-write",
  "read-switch:10",
  "read-switch:50",
  "read-switch:100",
  "final-cut",
];

/** The flags entry the program writes at a position of staging's matchauto. */
function programFlags(position: string) {
  const [phase, percent] = position.split(":");
  const file = readStackConfig("staging", ROOT);
  const moved = atPosition(file, "matchauto", {
    phase: phase === "rollback" ? "rollback" : phase,
    ...(percent !== undefined && phase === "read-switch" ? { percent: Number(percent) } : {}),
    ...(phase === "rollback" ? { rollbackFrom: percent } : {}),
    attempt: 1,
  });
  const spec = parseMigrations(moved.config[CONFIG_KEY], { now: new Date() }).matchauto;
  if (spec.kind !== "dual-write") throw new Error("matchauto is dual-write");
  const flags = planDualWrite("matchauto", spec).flags;
  return flags ? { writeMode: flags.writeMode, readPercent: flags.readPercent } : null;
}

describe("the command, walk and drill", () => {
  let json: Record<string, any>;
  let full: DualWriteReport & { passed: boolean; drills: DualWriteReport[] };
  let out: string;

  beforeAll(async () => {
    out = path.join(scratchDir("rehearse-dw"), "report");
    const r = await runCutover(
      [
        "rehearse",
        ...["-m", "matchauto", "--rows", "2000", "--rate", "20", "--bake", "2"],
        ...["--drill", "read-switch", "--json", "--out", out],
      ],
      {},
    );
    // A failed rehearsal says why: each report's verdict figures, its failed checks and its stale reads,
    // then the log's end (the whole JSON is too long to show).
    if (r.code !== 0) {
      let why = r.stdout.slice(-2000);
      try {
        const report = JSON.parse(r.stdout) as Record<string, any>;
        why = [report, ...(report.drills ?? [])]
          .map((x) =>
            JSON.stringify({
              drill: x.drill,
              writes: x.writes,
              reads: x.reads,
              storesEqualAtCut: x.storesEqualAtCut,
              failedChecks: x.phases.flatMap((p: any) => p.checks.filter((c: any) => !c.ok)),
              stalePerPosition: x.phases.map((p: any) => [p.position, p.reads.stale]),
            }),
          )
          .join("\n");
      } catch {
        // not JSON: shown as it is
      }
      throw new Error(`rehearse exited ${r.code}\n${why}\n${r.stderr.slice(-2000)}`);
    }
    expect([r.code, r.stderr]).toEqual([
      0,
      expect.stringContaining("rehearse: [drill read-switch] rollback:read-switch"),
    ]);
    json = JSON.parse(r.stdout);
    full = JSON.parse(fs.readFileSync(path.join(out, "report.json"), "utf8"));
  });

  it("walks baseline to the final cut, each position with the flags the program writes there", () => {
    expect(json.phases.map((p: { position: string }) => p.position)).toEqual(WALK);
    for (const p of json.phases)
      expect([p.position, p.flags]).toEqual([p.position, programFlags(p.position)]);
    // Reads reach the new stores only once the read switch has begun (the flags' TTL may lag a position).
    const firstNew = json.phases.findIndex((p: any) => (p.readsByStore.new?.requests ?? 0) > 0);
    expect(firstNew).toBeGreaterThanOrEqual(WALK.indexOf("read-switch:10"));
    // After the cut, once the flags' TTL has passed, no read is served by legacy.
    const cut = full.phases.at(-1)!;
    const settled = cut.startMs + FLAGS_TTL_MS + 1000;
    const late = full.samples.filter((x) => x.op === "read" && x.t >= settled && x.t < cut.endMs);
    expect(late.length).toBeGreaterThan(0);
    expect(late.filter((x) => x.store !== "new")).toEqual([]);
  });

  it("loses no write, serves no stale read, and ends with the stores equal at the cut", () => {
    expect(json).toMatchObject({
      passed: true,
      kind: "dual-write",
      final: "new",
      writes: { lost: 0, resurrected: 0, duplicates: 0 },
      reads: { stale: 0 },
      storesEqualAtCut: { equal: true },
    });
    expect(json.writes.acknowledged).toBeGreaterThan(500);
    expect(json.reads.total).toBeGreaterThan(500);
    expect(json.captureLagMs.applied).toBeGreaterThan(0);
    expect(json.samples).toBe(full.samples.length);
    expect(json.rows).toBeGreaterThanOrEqual(2000);
  });

  it("runs the gates the table declares before the read switch, and the backfill where the table says", () => {
    const names = (position: string) =>
      json.phases.find((p: any) => p.position === position).checks.map((c: any) => [c.name, c.ok]);
    for (const step of ["read-switch:10", "read-switch:50", "read-switch:100"])
      expect(names(step)).toEqual(DUAL_WRITE_PHASE_TABLE["read-switch"].gates!.map((g) => [g, true]));
    expect(names("backfill")).toEqual([["backfill", true]]);
    expect(names("final-cut")).toEqual([["stores at the cut", true]]);
    // Validate found the stores equal at every position after the backfill.
    for (const p of json.phases.slice(WALK.indexOf("backfill"), -1))
      expect(p.divergence.every((d: any) => d.persistent === 0)).toBe(true);
  });

  it("drills a rollback from the read switch: legacy serves everything again, nothing lost", () => {
    expect(json.drills).toHaveLength(1);
    const drill = json.drills[0];
    expect(drill).toMatchObject({
      final: "legacy",
      writes: { lost: 0, resurrected: 0 },
      reads: { stale: 0 },
      drill: { from: "read-switch", serviceOk: true },
    });
    const last = drill.phases.at(-1);
    expect([last.position, last.flags]).toEqual([
      "rollback:read-switch",
      programFlags("rollback:read-switch"),
    ]);
    expect(last.writes.errors + last.reads.errors).toBe(0);
  });

  it("writes the timelines and the HTML report", () => {
    for (const f of ["timeline.svg", "timeline-drill-read-switch.svg", "report.html", "report.json"])
      expect(fs.existsSync(path.join(out, f))).toBe(true);
    const svg = dualWriteTimelineSvg(full);
    expect(svg.match(/class="band"/g)).toHaveLength(WALK.length);
    const secs = dualWritePerSecond(full);
    expect(secs.reduce((n, s) => n + s.counts.reduce((a, b) => a + b, 0), 0)).toBe(full.samples.length);
    expect(svg.match(/class="new-reads"/g)!.length).toBe(secs.filter((s) => s.counts[2] > 0).length);
    expect(fs.readFileSync(path.join(out, "report.html"), "utf8")).toContain(
      "<strong>0 writes lost</strong>",
    );
  });
});

it("fails when the engine's table carries a wrong flag: dual-write writing only the new stores", async () => {
  const row = DUAL_WRITE_PHASE_TABLE["dual-write"] as {
    -readonly [K in keyof DualWritePhaseRow]: DualWritePhaseRow[K];
  };
  const flags = row.flags;
  row.flags = { writeMode: "new", readPercent: () => 100 };
  let report: DualWriteReport;
  try {
    report = await rehearseDualWrite({
      stack: "staging",
      migration: "matchauto",
      dir: ROOT,
      workDir: path.join(scratchDir("rehearse-dw-wrong"), "work"),
      rows: 1000,
      rate: 20,
      bakeSeconds: 2,
    });
  } finally {
    row.flags = flags;
  }
  expect(dualWritePassed(report)).toBe(false);
  // The writes made at dual-write never reached legacy, still the truth: validate sees them, the walk stops.
  const gate = report.phases.at(-1)!;
  expect(gate.position).toBe("gate of read-switch:10");
  expect(gate.checks.find((c) => c.name === "validate")).toMatchObject({ ok: false });
  expect(report.final).toBe("legacy");
  expect(report.writes.lost).toBeGreaterThan(0);
});

it("refuses a gate the table declares and the rehearsal cannot produce, naming it", async () => {
  await expect(runGates("decommission", ["export"], {} as GateContext)).rejects.toThrow(
    'phase decommission declares the gate "export", which the rehearsal cannot produce',
  );
});

it("says which flags belong to the cloudsql rehearsal, and which drills a dual-write one has", async () => {
  const cloudsqlFlag = await runCutover(["rehearse", "-m", "matchauto", "--app-cmd", "node app.js"], {});
  expect(cloudsqlFlag.code).toBe(2);
  expect(cloudsqlFlag.stderr).toContain(
    "cutover rehearse: --app-cmd: cloudsql rehearsal flags, and matchauto is a dual-write migration",
  );
  const drill = await runCutover(["rehearse", "-m", "matchauto", "--drill", "final-cut"], {});
  expect(drill.code).toBe(2);
  expect(drill.stderr).toContain("--drill final-cut: not a phase a dual-write rollback can leave");
  expect(drill.stderr).toContain("shadow, backfill, dual-write, read-switch");
  const users = await runCutover(["rehearse", "-m", "avvivo", "--users", "4"], {});
  expect([users.code, users.stderr]).toEqual([
    2,
    expect.stringContaining("--users is for a dual-write rehearsal"),
  ]);
  const none = await runCutover(["rehearse", "-m", "nosuch"], {});
  expect([none.code, none.stderr]).toEqual([
    2,
    expect.stringContaining("--migration nosuch: Pulumi.staging.yaml has no such migration"),
  ]);
});
