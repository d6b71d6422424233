/**
 * `cutover advance` on runbook 2's read switch: the flags module reports every store call to Analytics
 * Engine; advance reads the new stores' errors and read latency over the bake from its SQL API (here a
 * local HTTP server that answers as it does and records the query) and moves the ramp on, holds, or
 * rolls back — never onto the final cut.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { decideReadSwitch, type ReadSwitchThresholds } from "../../ops/advance/decide-read-switch";
import { runAdvance } from "../../ops/advance/run";
import { storeHealthSql, type StoreHealth } from "../../ops/advance/store-health";
import { migrationFlags, clearFlagsCache, type MigrationFlags } from "../../workers/flags/flags";
import { loadMigration } from "../../tooling/stack-file";
import { scratchMatchauto } from "../support/stack";

const NOW = new Date("2026-12-07T12:00:00Z");
const ago = (min: number) => new Date(NOW.getTime() - min * 60_000).toISOString();
const rs = (percent: number) => ({ phase: "read-switch", percent, attempt: 1 });
const T: ReadSwitchThresholds = {
  bakeMinutes: 10,
  maxErrorRatePercent: 1,
  maxLatencyP99Ms: 500,
  minRequests: 100,
};
const health = (calls: number, errors: number, p99?: number, legacy = true): StoreHealth => ({
  kind: "data",
  byStore: {
    new: { requests: calls, errors, reads: calls, ...(p99 === undefined ? {} : { readP99Ms: p99 }) },
    ...(legacy ? { legacy: { requests: 5000, errors: 2, reads: 4000, readP99Ms: 80 } } : {}),
  },
});

describe("the decision", () => {
  const base = {
    position: rs(10),
    appliedAt: ago(15),
    now: NOW,
    next: rs(50),
    stack: "staging",
    migration: "matchauto",
  };
  it.each([
    ["waits while the step bakes", { appliedAt: ago(4) }, "wait", "the 10-minute bake ends in 6 min"],
    ["holds without metrics", { health: { kind: "error", message: "HTTP 403" } }, "hold", "HTTP 403"],
    [
      "holds on too few reads by the new stores",
      { health: health(40, 0, 90) },
      "hold",
      "40 read(s) served by the new stores during the bake, fewer than 100",
    ],
    [
      "fails on errors over the bound, naming legacy's beside",
      { health: health(1000, 30, 90) },
      "failing",
      "the new stores failed 3.00% of 1000 calls, above 1% (legacy: 0.04%, p99 80 ms)",
    ],
    [
      "fails on a slow p99",
      { health: health(1000, 0, 900) },
      "failing",
      "reads from the new stores: p99 900 ms, above 500 ms",
    ],
    ["advances on good evidence", { health: health(1000, 2, 120) }, "advance", "new stores: 0.20% failed"],
    [
      "stops before the final cut",
      { position: rs(100), next: { phase: "final-cut", attempt: 1 }, health: health(1000, 0, 120) },
      "hold",
      "the next step, the final cut, is irreversible and taken by a person: cutover phase next -s staging -m matchauto",
    ],
    [
      "holds outside the read switch",
      { position: { phase: "dual-write", attempt: 1 } },
      "hold",
      "read switch only",
    ],
  ])("%s", (_name, over, action, reason) => {
    const d = decideReadSwitch({ ...base, ...(over as object) } as Parameters<typeof decideReadSwitch>[0], T);
    expect(d.action).toBe(action);
    expect(d.reason).toContain(reason);
  });
});

it("asks Analytics Engine per store, weighted by the sample interval, for the migration only", () => {
  const sql = storeHealthSql("cutover_store_calls", "matchauto", 7.2);
  expect(sql).toContain("FROM cutover_store_calls");
  expect(sql).toContain("WHERE index1 = 'matchauto' AND timestamp > NOW() - INTERVAL '8' MINUTE");
  expect(sql).toContain(
    "quantileExactWeighted(0.99)(double1, if(blob2 = 'read', _sample_interval, 0)) AS read_p99",
  );
  expect(sql).toContain("sumIf(_sample_interval, blob3 = 'error') AS errors");
  expect(() => storeHealthSql("x; DROP", "m", 1)).toThrow(/not a dataset name/);
});

it("the flags module reports each store call: store, operation, outcome, duration; errors pass through", async () => {
  clearFlagsCache();
  const points: { blobs?: string[]; doubles?: number[]; indexes?: string[] }[] = [];
  const dual: MigrationFlags = {
    phase: "read-switch",
    writeMode: "dual",
    readPercent: 100,
    updatedAt: NOW.toISOString(),
  };
  const kv = { get: async () => JSON.stringify(dual) };
  const flags = migrationFlags(kv, "matchauto", {
    metrics: { writeDataPoint: (p) => void points.push(p) },
    onShadowWriteError: () => undefined,
  });
  await flags.read("user-1", { legacy: async () => "old", new: async () => "fresh" });
  await flags.write({ legacy: async () => 1, new: async () => Promise.reject(new Error("D1 down")) });
  await expect(
    flags.read("user-2", { legacy: async () => 1, new: async () => Promise.reject(new Error("x")) }),
  ).rejects.toThrow("x");
  expect(points.map((p) => [p.indexes, p.blobs])).toEqual([
    [["matchauto"], ["new", "read", "ok"]],
    [["matchauto"], ["legacy", "write", "ok"]],
    [["matchauto"], ["new", "shadow-write", "error"]],
    [["matchauto"], ["new", "read", "error"]],
  ]);
  expect(points.every((p) => p.doubles!.length === 1 && p.doubles![0] >= 0)).toBe(true);
});

describe("cutover advance on a read-switch step", () => {
  let api: http.Server;
  let base: string;
  let answer: { new: [number, number, number] } = { new: [1000, 1, 120] };
  const queries: { url: string; body: string; auth?: string }[] = [];
  beforeAll(async () => {
    api = http.createServer((req, res) => {
      let body = "";
      req.on("data", (d) => (body += d));
      req.on("end", () => {
        queries.push({ url: req.url!, body, auth: req.headers.authorization });
        const [requests, errors, p99] = answer.new;
        res.writeHead(200, { "content-type": "application/json" });
        // As ClickHouse's JSON format writes 64-bit integers: quoted.
        res.end(
          JSON.stringify({
            meta: [],
            data: [
              { store: "legacy", requests: "9000", errors: "3", reads: "8000", read_p99: 70 },
              {
                store: "new",
                requests: String(requests),
                errors: String(errors),
                reads: String(requests),
                read_p99: p99,
              },
            ],
            rows: 2,
          }),
        );
      });
    });
    await new Promise<void>((r) => api.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(api.address() as AddressInfo).port}/client/v4`;
  });
  afterAll(() => new Promise((r) => api.close(r)));

  const QUICK = "rejudgeSeconds: 5, failuresBeforeRollback: 2";
  function atReadSwitch(percent: number, minutes: number, advance: string) {
    const dir = scratchMatchauto("advance-rs", "read-switch", [
      `readPercent: ${percent}`,
      'flagsUpdatedAt: "2026-12-07T11:00:00Z"',
      `advance: { ${advance} }`,
    ]);
    const deployedFile = join(dir, "deployed.json");
    writeFileSync(
      deployedFile,
      JSON.stringify({
        matchauto: {
          kind: "dual-write",
          ledger: { deployed: rs(percent), appliedAt: ago(minutes), facts: {}, history: [] },
        },
      }),
    );
    return { dir, deployedFile };
  }
  const sleeps: number[] = [];
  const run = async (percent: number, minutes: number, advance = QUICK) => {
    const { dir, deployedFile } = atReadSwitch(percent, minutes, advance);
    sleeps.length = 0;
    const report = await runAdvance({
      stack: "staging",
      migration: "matchauto",
      deployedFile,
      apply: true,
      dir,
      now: () => NOW,
      sleep: async (ms) => void sleeps.push(ms),
      progress: () => undefined,
      env: { CLOUDFLARE_API_TOKEN: "cf-token", CLOUDFLARE_BASE_URL: base },
    });
    const spec = loadMigration("staging", "matchauto", { dir, kind: "dual-write" });
    return { report, spec, file: readFileSync(join(dir, "Pulumi.staging.yaml"), "utf8") };
  };

  it("after the bake, healthy new stores move the ramp to the next step", async () => {
    answer = { new: [1000, 1, 120] };
    queries.length = 0;
    const { report, spec } = await run(10, 15);
    expect(report.decision).toMatchObject({ action: "advance", to: rs(50) });
    expect([spec.phase, spec.readPercent]).toEqual(["read-switch", 50]);
    expect(queries[0].url).toBe("/client/v4/accounts/5f2c8e1a9b7d4c3e8a6f0b1d2e9c7a4b/analytics_engine/sql");
    expect(queries[0].auth).toBe("Bearer cf-token");
    expect(queries[0].body).toContain("WHERE index1 = 'matchauto'");
    expect(report.storeHealth).toEqual({
      kind: "data",
      byStore: {
        legacy: { requests: 9000, errors: 3, reads: 8000, readP99Ms: 70 },
        new: { requests: 1000, errors: 1, reads: 1000, readP99Ms: 120 },
      },
    });
  });

  it("failing new stores are judged again, then rolled back (legacy was written all along)", async () => {
    answer = { new: [1000, 50, 120] };
    const { report, spec } = await run(50, 15);
    expect(sleeps).toEqual([5000]);
    expect(report.decision.action).toBe("rollback");
    expect(report.decision.reason).toContain("2 consecutive failed judgement(s), 5 s apart");
    expect(report.decision.reason).toContain("the rollback loses nothing");
    expect([spec.phase, spec.rollbackFrom]).toEqual(["rollback", "read-switch"]);
  });

  it("with autoRollback off, it holds and says how to roll back", async () => {
    answer = { new: [1000, 50, 120] };
    const { report, spec } = await run(50, 15, `${QUICK}, autoRollback: false`);
    expect(report.decision.action).toBe("hold");
    expect(report.decision.reason).toContain("cutover phase rollback -s staging -m matchauto");
    expect(report.applied).toBeUndefined();
    expect([spec.phase, spec.readPercent]).toEqual(["read-switch", 50]);
  });

  it("waits while the step bakes, and stops at 100 %: the final cut is a person's step", async () => {
    answer = { new: [1000, 0, 120] };
    const waiting = await run(10, 3);
    expect(waiting.report.decision).toMatchObject({
      action: "wait",
      reason: "the 10-minute bake ends in 7 min",
    });
    const top = await run(100, 15);
    expect(top.report.decision.action).toBe("hold");
    expect(top.report.decision.reason).toContain("the final cut, is irreversible");
    expect([top.spec.phase, top.spec.readPercent]).toEqual(["read-switch", 100]);
  });
});
