/**
 * A CI-sized dress rehearsal: the whole cloudsql walk on real servers under a write load (a few
 * thousand rows, tens of seconds), then one rollback drill through the command as an operator runs it.
 * The stand-in reads the engine's plans, so a wrong traffic table or env shows here as lost or refused
 * writes.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { rehearse, type RehearsalReport } from "../../../ops/rehearse/run";
import { perSecond, reportHtml, timelineSvg } from "../../../ops/rehearse/timeline";
import { runCutover } from "../../support/cli";
import { scratchDir } from "../../support/scratch";

jest.setTimeout(300_000);

let report: RehearsalReport;

beforeAll(async () => {
  // The DMS stand-in's promotion takes 2 s here (DMS's documented minutes are the projection's term).
  report = await rehearse({ stack: "staging", rows: 3000, rate: 25, bakeSeconds: 1, dmsPromoteSeconds: 2 });
});

it("walks every position of the runbook in order, each gate passing", () => {
  expect(report.phases.map((p) => p.position)).toEqual([
    "baseline",
    "provision",
    "replicate",
    "freeze",
    "promote",
    "canary:10",
    "canary:50",
    "canary:100",
    "stabilize",
  ]);
  const checks = report.phases.flatMap((p) => p.checks.map((c) => [p.position, c.name.split(" ")[0], c.ok]));
  expect(checks).toEqual([
    ["provision", "preflight", true],
    ["replicate", "replication", true],
    // Each gate the phase table declares, taken before its phase's traffic moves: freeze's validate in
    // replicate (live), promote's while frozen (exact), canary's smoke of the candidate in promote.
    ["freeze", "validate", true],
    ["freeze", "smoke", true],
    ["promote", "validate", true],
    ["promote", "post-promotion", true],
    ["canary:10", "smoke", true],
    ["stabilize", "smoke", true],
  ]);
  const validates = report.phases.flatMap((p) => p.checks.filter((c) => c.name === "validate"));
  expect(validates[0].detail).toMatch(
    /live: \d+ key\(s\) in flight, 0 differing twice$|caught up in \d+ ms$/,
  );
  expect(validates[1].detail).toMatch(/^ChatMessage \d+ rows \(native-checksum\), caught up in \d+ ms$/);
  expect(report.validation?.identical).toBe(true);
});

it("loses no acknowledged write, collides no sequence, and ends on the destination", () => {
  expect(report.final).toBe("destination");
  expect(report.writes.acknowledged).toBeGreaterThan(100);
  expect(report.writes).toMatchObject({ lost: 0, duplicates: 0, errors: 0 });
  expect(report.writes.foundInFinal).toBe(report.writes.acknowledged);
  expect(report.sequenceCollisions).toBe(0);
  // Writes are refused while frozen and promoting, and only then.
  const refusing = report.phases.filter((p) => p.writes.refused > 0).map((p) => p.position);
  expect(refusing).toEqual(expect.arrayContaining(["freeze", "promote"]));
  expect(refusing.every((p) => ["freeze", "promote", "canary:10", "canary:50"].includes(p))).toBe(true);
  expect(report.phases.find((p) => p.position === "stabilize")!.writes).toMatchObject({
    refused: 0,
    errors: 0,
  });
});

it("measures both windows from the recorded requests, and projects the production window", () => {
  const w = report.window;
  const writes = report.samples.filter((x) => x.kind === "write");
  const refused = writes.filter((x) => x.status === 503);
  expect(w.firstRefusedMs).toBe(refused[0].t);
  expect(w.firstOnDestinationMs!).toBeGreaterThan(w.firstRefusedMs!);
  expect(w.allRefusedMs).toBe(w.firstOnDestinationMs! - w.firstRefusedMs!);
  // Some writes are refused until the first accepted write after the last refused one.
  const lastRefused = Math.max(...refused.map((x) => x.t));
  expect(writes.some((x) => x.status === 503 && x.t > w.allAcceptedMs!)).toBe(false);
  expect(w.allAcceptedMs!).toBeGreaterThan(lastRefused);
  expect(w.someRefusedMs).toBe(w.allAcceptedMs! - w.firstRefusedMs!);
  expect(w.someRefusedMs!).toBeGreaterThanOrEqual(w.allRefusedMs!);
  expect(w.refusedByPosition.reduce((n, p) => n + p.refused, 0)).toBe(refused.length);
  expect(w.freezeToFullMs!).toBeGreaterThan(0);
  const freeze = report.phases.find((p) => p.position === "freeze")!;
  expect(w.firstRefusedMs!).toBeGreaterThanOrEqual(freeze.startMs);
  // The promote band holds the stand-in's DMS promotion.
  const promote = report.phases.find((p) => p.position === "promote")!;
  expect(promote.endMs - promote.startMs).toBeGreaterThanOrEqual(2000);
  // The projection: the platform's modelled terms plus this run's measured gate work.
  const p = report.projection;
  expect(p.missing).toEqual([]);
  expect(p.terms.find((t) => t.term === "DMS promote")?.seconds).toBe(p.delays.dmsPromoteSeconds);
  const gate = p.terms.find((t) => t.term === "freeze gate")!;
  expect(gate.seconds).toBeGreaterThan(0);
  expect(gate.bound).toMatch(/^measured/);
  expect(p.allRefusedSeconds).toBeGreaterThan(p.delays.dmsPromoteSeconds);
  expect(p.someRefusedSeconds).toBeGreaterThan(p.allRefusedSeconds);
  // The options beside it, from the same measured work: the switch, and the ramp in one step.
  expect(report.alternatives!.map((a) => a.name)).toEqual([
    "writeMove: switch",
    "writeMove: ramp, ramp: [100]",
  ]);
  const [sw, oneStep] = report.alternatives!.map((a) => a.projection);
  expect(oneStep.someRefusedSeconds).toBe(oneStep.allRefusedSeconds);
  expect(oneStep.someRefusedSeconds).toBeLessThan(p.someRefusedSeconds);
  expect(sw.someRefusedSeconds).toBeLessThan(oneStep.someRefusedSeconds);
});

it("draws the run: a band per position, the window marked, writes accepted and refused per second", () => {
  const svg = timelineSvg(report);
  expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
  expect(svg.match(/class="band"/g)).toHaveLength(report.phases.length);
  for (const p of report.phases) expect(svg).toContain(`>${p.position}</text>`);
  const seconds = (ms: number | null) => (ms! / 1000).toFixed(1);
  expect(svg).toContain(`<title>all writes refused: ${seconds(report.window.allRefusedMs)} s</title>`);
  expect(svg).toContain(`<title>some writes refused: ${seconds(report.window.someRefusedMs)} s</title>`);
  const secs = perSecond(report);
  expect(svg.match(/class="accepted"/g)).toHaveLength(secs.filter((s) => s.accepted > 0).length);
  expect(svg.match(/class="refused"/g)).toHaveLength(secs.filter((s) => s.refused > 0).length);
  expect(secs.reduce((n, s) => n + s.accepted, 0)).toBe(report.writes.acknowledged);
  expect(svg).toContain('class="p99"');
  // Every opened element is closed: the file opens in a browser.
  expect(svg.match(/<rect\b/g)!.length).toBe(svg.match(/<rect\b[^>]*\/>|<\/rect>/g)!.length);
  const html = reportHtml(report, "text report");
  expect(html).toContain(svg);
  expect(html).toContain("<strong>0 writes lost</strong>");
});

it("the command walks, then drills from canary: a working service on the stable revision, what stays on the destination counted", async () => {
  const out = path.join(scratchDir("rehearse"), "report");
  const r = await runCutover(
    [
      "rehearse",
      ...["--rows", "1500", "--rate", "25", "--bake", "1", "--drill", "canary", "--json", "--out", out],
      ...["--promote-delay", "0"],
    ],
    {},
  );
  expect([r.code, r.stderr]).toEqual([
    0,
    expect.stringContaining("rehearse: [drill canary] rollback:canary"),
  ]);
  const json = JSON.parse(r.stdout);
  expect(Object.keys(json).sort()).toEqual(
    [
      "passed",
      "stack",
      "migration",
      "rows",
      "rate",
      "durationMs",
      "phases",
      "writes",
      "window",
      "replication",
      "writeMove",
      "projection",
      "alternatives",
      "sequenceCollisions",
      "validation",
      "drills",
      "samples",
      "final",
    ].sort(),
  );
  // The walk's own report, then the drill's summary.
  expect(json).toMatchObject({
    passed: true,
    final: "destination",
    writes: { lost: 0 },
    sequenceCollisions: 0,
  });
  expect(json.drills).toHaveLength(1);
  expect(json.drills[0]).toMatchObject({ from: "canary", serviceOk: true, lost: 0, passed: true });
  expect(json.drills[0].toStableMs).toBeGreaterThanOrEqual(0);
  expect(json.drills[0].writesOnlyOnDestination).toBeGreaterThanOrEqual(0);
  const full = JSON.parse(fs.readFileSync(path.join(out, "report.json"), "utf8"));
  const drill = full.drills[0];
  expect(drill.final).toBe("source");
  expect(drill.phases.at(-1).position).toBe("rollback:canary");
  expect(drill.phases.at(-1).writes).toMatchObject({ refused: 0, errors: 0 });
  for (const f of ["timeline.svg", "timeline-drill-canary.svg", "report.html", "report.json"])
    expect(fs.existsSync(path.join(out, f))).toBe(true);
  expect(full.samples.length).toBe(json.samples);
});

it("rehearses another app with --app-cmd: its own schema command, routes, table and status codes", async () => {
  const dir = scratchDir("rehearse-own-app");
  const seed = path.join(dir, "seed.sql");
  fs.writeFileSync(
    seed,
    "INSERT INTO orders (ref, total) SELECT gen_random_uuid(), i FROM generate_series(1, 700) i",
  );
  const app = "node_modules/.bin/tsx test/ops/rehearse/fixture/orders-app.ts";
  const r = await runCutover(
    [
      "rehearse",
      ...["--rate", "20", "--bake", "1", "--json", "--out", path.join(dir, "out"), "--promote-delay", "0"],
      ...["--app-cmd", app, "--schema-cmd", `${app} migrate`, "--seed-sql", seed],
      ...["--write", "PUT /orders/{{id}}", "--write-body", '{"ref":"{{id}}"}', "--ack", "orders.ref"],
    ],
    {},
  );
  expect([r.code, r.stderr]).toEqual([
    0,
    expect.stringContaining("source ready: schema applied, 700 rows in orders"),
  ]);
  const json = JSON.parse(r.stdout);
  expect(json).toMatchObject({
    passed: true,
    final: "destination",
    writes: { lost: 0, errors: 0 },
    sequenceCollisions: 0,
  });
  expect(json.writes.acknowledged).toBeGreaterThan(50);
  // validation runs at the freeze: the 700 seeded rows plus the orders acknowledged before it
  const validated = /^orders (\d+) rows/.exec(json.validation.detail);
  expect(validated).not.toBeNull();
  expect(Number(validated![1])).toBeGreaterThan(700);
  expect(Number(validated![1])).toBeLessThanOrEqual(700 + json.writes.acknowledged);
});

it("says what --app-cmd needs, and refuses its flags without it", async () => {
  const partial = await runCutover(["rehearse", "--app-cmd", "my-app"], {});
  expect([partial.code, partial.stderr]).toEqual([
    2,
    expect.stringContaining(
      "--app-cmd needs --schema-cmd, --write, --ack: how its schema is made, which request writes, and where a write lands",
    ),
  ]);
  const stray = await runCutover(["rehearse", "--ack", "orders.ref"], {});
  expect([stray.code, stray.stderr]).toEqual([
    2,
    expect.stringContaining("hint: add --app-cmd <command that starts it>"),
  ]);
  const drill = await runCutover(["rehearse", "--drill", "decommission"], {});
  expect([drill.code, drill.stderr]).toEqual([
    2,
    expect.stringContaining("--drill decommission: not a phase a rollback can leave"),
  ]);
});

describe("the logical path, from a Supabase-like source", () => {
  let logical: RehearsalReport;
  beforeAll(async () => {
    logical = await rehearse({
      stack: "staging",
      rows: 3000,
      rate: 25,
      bakeSeconds: 1,
      replication: "logical",
    });
  });

  it("walks the same positions with every gate passing, on a source without superuser or pglogical", () => {
    expect(logical.replication).toBe("logical");
    expect(logical.phases.map((p) => p.position)).toEqual(report.phases.map((p) => p.position));
    const failed = logical.phases.flatMap((p) =>
      p.checks.filter((c) => !c.ok).map((c) => `${p.position} ${c.name}: ${c.detail}`),
    );
    expect(failed).toEqual([]);
    const promote = logical.phases.find((p) => p.position === "promote")!;
    expect(promote.checks.find((c) => c.name === "post-promotion steps")?.detail).toMatch(
      /^replication stopped at its marker/,
    );
    expect(logical.validation?.identical).toBe(true);
  });

  it("loses no write, collides no sequence, ends on the destination", () => {
    expect(logical.final).toBe("destination");
    expect(logical.writes).toMatchObject({ lost: 0, duplicates: 0, errors: 0 });
    expect(logical.writes.foundInFinal).toBe(logical.writes.acknowledged);
    expect(logical.sequenceCollisions).toBe(0);
  });

  it("projects no DMS promotion: a stop job instead, and a shorter full window than the DMS path's", () => {
    const terms = logical.projection.terms.map((t) => t.term);
    expect(terms).not.toContain("DMS promote");
    expect(terms).toContain("stop job start");
    expect(logical.projection.allRefusedSeconds).toBeLessThan(report.projection.allRefusedSeconds);
    expect(logical.window.someRefusedMs!).toBeGreaterThanOrEqual(logical.window.allRefusedMs!);
  });
});

describe("the switch (writeMove: switch), on the logical path from a Supabase-like source", () => {
  let sw: RehearsalReport;
  let drill: RehearsalReport;
  beforeAll(async () => {
    const common = {
      stack: "staging",
      rows: 3000,
      rate: 25,
      bakeSeconds: 1,
      replication: "logical" as const,
    };
    sw = await rehearse({ ...common, writeMove: "switch" });
    drill = await rehearse({ ...common, writeMove: "switch", drill: "switch" });
  });

  it("walks the switch route with every check passing: the switch's terms in order, the validation exact", () => {
    expect(sw.writeMove).toBe("switch");
    expect(sw.phases.map((p) => p.position)).toEqual([
      "baseline",
      "provision",
      "replicate",
      "switch",
      "stabilize",
    ]);
    const failed = sw.phases.flatMap((p) =>
      p.checks.filter((c) => !c.ok).map((c) => `${p.position} ${c.name}`),
    );
    expect(failed).toEqual([]);
    expect(sw.switch!.terms.map((t) => t.name)).toEqual([
      "freeze the source",
      "promotion",
      "validation",
      "post-promotion steps and schema command",
      "candidate smoke",
    ]);
    expect(sw.switch!.terms[0].detail).toMatch(
      /^role supabase_like read-only, \d+ session\(s\) ended, marker /,
    );
    expect(sw.validation?.identical).toBe(true);
  });

  it("loses no write; the frozen source refuses with 503, never an error", () => {
    expect(sw.final).toBe("destination");
    expect(sw.writes).toMatchObject({ lost: 0, duplicates: 0, errors: 0 });
    expect(sw.writes.foundInFinal).toBe(sw.writes.acknowledged);
    expect(sw.writes.refused).toBeGreaterThan(0);
    expect(sw.sequenceCollisions).toBe(0);
  });

  it("one window: every refusal in the switch's band, the figures those of the recorded requests", () => {
    const writes = sw.samples.filter((s) => s.kind === "write");
    const refused = writes.filter((s) => s.status === 503);
    const firstOnDestination = writes.find(
      (s) => s.status >= 200 && s.status < 300 && s.revision !== "avvivo-api-00042-kav",
    )!;
    expect(sw.window.firstRefusedMs).toBe(refused[0].t);
    expect(sw.window.allRefusedMs).toBe(firstOnDestination.t - refused[0].t);
    // No frozen share after the switch: nothing is refused once the candidate takes writes.
    expect(sw.window.someRefusedMs).toBe(sw.window.allRefusedMs);
    expect(refused.every((s) => s.t < firstOnDestination.t)).toBe(true);
    expect(sw.window.refusedByPosition).toEqual([{ position: "switch", refused: refused.length }]);
    // Here: a few seconds (the bound is 10 s at a million rows).
    expect(sw.window.someRefusedMs!).toBeLessThan(10_000);
  });

  it("projects the switch inside one pulumi up, with the ramp measured beside it", () => {
    expect(sw.projection.terms.every((t) => t.position === "switch" && t.refusing === "all")).toBe(true);
    expect(sw.projection.missing).toEqual([]);
    expect(sw.projection.someRefusedSeconds).toBeLessThanOrEqual(120);
    const ramp = sw.alternatives!.find((a) => a.name === "writeMove: ramp")!.projection;
    expect(ramp.someRefusedSeconds).toBeGreaterThan(sw.projection.someRefusedSeconds * 5);
  });

  it("a rollback from the switch thaws the source first: the stable revision writes again", () => {
    expect(drill.drill).toMatchObject({ from: "switch", serviceOk: true });
    const rollback = drill.phases.find((p) => p.position === "rollback:switch")!;
    expect(rollback.checks.map((c) => [c.name, c.ok])).toEqual([
      ["thaw", true],
      [expect.stringMatching(/^smoke /), true],
    ]);
    expect(drill.writes.lost).toBe(0);
    expect(drill.final).toBe("source");
  });
});
