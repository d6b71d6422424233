import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { candidateUrlOf, runAdvance } from "../../ops/advance/run";
import { decideAdvance, type AdvanceThresholds } from "../../ops/advance/decide";
import { readCandidateMetrics } from "../../ops/advance/monitoring";
import { applyStep } from "../../ops/phase/apply";
import { loadMigration } from "../../tooling/stack-file";
import { copyStack, passAllGates } from "../support/evidence";
import { scratchDir } from "../support/scratch";
import { freePort } from "../support/postgres";

const ROOT = resolve(__dirname, "../..");
const T: AdvanceThresholds = {
  bakeMinutes: 10,
  maxErrorRatePercent: 1,
  maxLatencyP95Ms: 1500,
  minRequests: 20,
};
const NOW = new Date("2026-11-25T12:00:00Z");
const ago = (min: number) => new Date(NOW.getTime() - min * 60_000).toISOString();
const canary = (percent: number) => ({ phase: "canary", percent, attempt: 1 });
const data = (requests: number, errors5xx: number, latencyP95Ms?: number) => ({
  kind: "data" as const,
  requests,
  errors5xx,
  ...(latencyP95Ms === undefined ? {} : { latencyP95Ms }),
});

describe("decideAdvance", () => {
  const base = { position: canary(10), appliedAt: ago(15), now: NOW, next: canary(50), smokePassed: true };
  it.each([
    ["waits while the step bakes", { appliedAt: ago(4) }, "wait", "the 10-minute bake ends in 6 min"],
    [
      "advances on good evidence",
      { metrics: data(1000, 3, 420) },
      "advance",
      "5xx 0.30% ≤ 1%, p95 420 ms ≤ 1500 ms over 1000 requests",
    ],
    [
      "judges the candidate failing when the smoke check fails",
      { smokePassed: false, metrics: data(1000, 0, 100) },
      "failing",
      "the smoke check of the candidate failed",
    ],
    [
      "holds when the candidate could not be reached (no evidence, not a failure)",
      { smokePassed: false, smokeUnreached: "connection refused by x", metrics: data(1000, 0, 100) },
      "hold",
      "the candidate could not be reached (connection refused by x): no evidence either way",
    ],
    [
      "judges the candidate failing on a 5xx rate above the threshold",
      { metrics: data(1000, 25, 100) },
      "failing",
      "5xx rate 2.50% over 1000 requests is above 1%",
    ],
    [
      "judges the candidate failing on p95 latency above the threshold",
      { metrics: data(1000, 0, 2400) },
      "failing",
      "p95 latency 2400 ms is above 1500 ms",
    ],
    [
      "holds without enough traffic",
      { metrics: data(5, 0, 100) },
      "hold",
      "5 request(s) reached the candidate during the bake, fewer than 20",
    ],
    [
      "holds when Monitoring cannot be read",
      { metrics: { kind: "error" as const, message: "HTTP 403" } },
      "hold",
      "Cloud Monitoring could not be read: HTTP 403",
    ],
    ["holds without latency data", { metrics: data(1000, 0) }, "hold", "no latency data for the candidate"],
    [
      "holds outside the canary ramp",
      { position: { phase: "stabilize", attempt: 1 } },
      "hold",
      "advance drives the canary ramp only",
    ],
  ])("%s", (_title, over, action, reason) => {
    const d = decideAdvance({ ...base, ...over }, T);
    expect(d.action).toBe(action);
    expect(d.reason).toContain(reason);
  });
});

/** A stand-in for Cloud Monitoring's timeSeries.list answering in the API's JSON format. */
async function fakeMonitoring(answer: (url: URL) => { status: number; body: unknown }) {
  const seen: URL[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    seen.push(url);
    const { status, body } = answer(url);
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { endpoint, seen, close: () => new Promise((r) => server.close(r)) };
}

const series = (klass: string, n: string) => ({
  metric: { labels: { response_code_class: klass }, type: "run.googleapis.com/request_count" },
  resource: {
    type: "cloud_run_revision",
    labels: { service_name: "avvivo-api", revision_name: "avvivo-api-cand-a1" },
  },
  metricKind: "DELTA",
  valueType: "INT64",
  points: [{ interval: { startTime: ago(10), endTime: NOW.toISOString() }, value: { int64Value: n } }],
});
const latency = (ms: number) => ({
  metric: { type: "run.googleapis.com/request_latencies" },
  resource: { type: "cloud_run_revision", labels: { service_name: "avvivo-api" } },
  metricKind: "DELTA",
  valueType: "DOUBLE",
  points: [{ interval: { startTime: ago(10), endTime: NOW.toISOString() }, value: { doubleValue: ms } }],
});
const healthy = (url: URL) =>
  url.searchParams.get("filter")?.includes("request_latencies")
    ? { status: 200, body: { timeSeries: [latency(320.5)], unit: "ms" } }
    : {
        status: 200,
        body: { timeSeries: [series("2xx", "978"), series("4xx", "4"), series("5xx", "2")], unit: "1" },
      };

describe("readCandidateMetrics (Cloud Monitoring v3 timeSeries.list)", () => {
  const query = (endpoint: string) => ({
    project: "avvivo-prod",
    service: "avvivo-api",
    revision: "avvivo-api-cand-a1",
    start: new Date(ago(10)),
    end: NOW,
    token: "ya29.never-printed",
    endpoint,
  });

  it("sums requests and 5xx by response class and takes the p95 latency", async () => {
    const m = await fakeMonitoring(healthy);
    expect(await readCandidateMetrics(query(m.endpoint))).toEqual(data(984, 2, 320.5));
    const count = m.seen[0];
    expect(count.pathname).toBe("/v3/projects/avvivo-prod/timeSeries");
    expect(count.searchParams.get("filter")).toBe(
      'metric.type="run.googleapis.com/request_count" AND resource.type="cloud_run_revision" AND resource.labels.service_name="avvivo-api" AND resource.labels.revision_name="avvivo-api-cand-a1"',
    );
    expect(count.searchParams.get("aggregation.groupByFields")).toBe("metric.labels.response_code_class");
    expect(m.seen[1].searchParams.get("aggregation.perSeriesAligner")).toBe("ALIGN_PERCENTILE_95");
    await m.close();
  });

  it("reads no data as zero requests (the API answers {} when nothing matched)", async () => {
    const m = await fakeMonitoring(() => ({ status: 200, body: {} }));
    expect(await readCandidateMetrics(query(m.endpoint))).toEqual(data(0, 0));
    await m.close();
  });

  it("returns an API error as data, with Google's message", async () => {
    const m = await fakeMonitoring(() => ({
      status: 403,
      body: {
        error: {
          code: 403,
          message: "Permission monitoring.timeSeries.list denied",
          status: "PERMISSION_DENIED",
        },
      },
    }));
    expect(await readCandidateMetrics(query(m.endpoint))).toEqual({
      kind: "error",
      message: "HTTP 403 (Permission monitoring.timeSeries.list denied)",
    });
    await m.close();
  });
});

describe("cutover advance (in process, local candidate and Monitoring)", () => {
  let app: http.Server;
  let appUrl = "";
  beforeAll(async () => {
    app = http.createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({ ok: true, redis: { configured: false }, chatRealtime: { effectiveMode: "memory" } }),
      );
    });
    await new Promise<void>((r) => app.listen(0, "127.0.0.1", () => r()));
    appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((r) => app.close(r)));

  /** A stack at canary:10, and the ledger's outputs saying it was applied `minutes` ago. */
  function atCanary(minutes: number, autoRollback = false) {
    const dir = scratchDir("advance");
    copyFileSync(join(ROOT, "Pulumi.yaml"), join(dir, "Pulumi.yaml"));
    copyStack(ROOT, dir, "prod");
    if (autoRollback) {
      const file = join(dir, "Pulumi.prod.yaml");
      const text = readFileSync(file, "utf8");
      writeFileSync(
        file,
        text.replace(
          "      ramp: [10, 50, 100]\n",
          "      ramp: [10, 50, 100]\n      advance: { autoRollback: true }\n",
        ),
      );
    }
    for (let i = 0; i < 5; i++) {
      passAllGates(dir, "prod", "avvivo", NOW);
      applyStep("prod", "avvivo", "next", undefined, { dir, now: NOW });
    }
    const deployedFile = join(dir, "deployed.json");
    writeFileSync(
      deployedFile,
      JSON.stringify({
        avvivo: {
          kind: "cloudsql",
          serviceUri: "https://avvivo-api-xyz-uw.a.run.app",
          ledger: {
            deployed: canary(10),
            appliedAt: ago(minutes),
            facts: { promoted: [{ attempt: 1, at: "2026-11-25T11:00:00.000Z" }] },
            history: [],
          },
        },
      }),
    );
    return { dir, deployedFile };
  }
  const sleeps: number[] = [];
  const progress: string[] = [];
  const run = async (
    minutes: number,
    answer: Parameters<typeof fakeMonitoring>[0],
    o: { autoRollback?: boolean; candidateUrl?: string } = {},
  ) => {
    const m = await fakeMonitoring(answer);
    const { dir, deployedFile } = atCanary(minutes, o.autoRollback);
    sleeps.length = 0;
    progress.length = 0;
    try {
      const report = await runAdvance({
        stack: "prod",
        migration: "avvivo",
        deployedFile,
        candidateUrl: o.candidateUrl ?? appUrl,
        apply: true,
        sleep: async (ms) => void sleeps.push(ms),
        progress: (l) => progress.push(l),
        dir,
        now: () => NOW,
        env: { SMOKE_ADMIN_TOKEN: "admin-token", GOOGLE_OAUTH_ACCESS_TOKEN: "ya29.x" },
        monitoringEndpoint: m.endpoint,
        timeoutMs: 2000,
      });
      return {
        report,
        spec: loadMigration("prod", "avvivo", { dir, kind: "cloudsql" }),
        file: readFileSync(join(dir, "Pulumi.prod.yaml"), "utf8"),
      };
    } finally {
      await m.close();
    }
  };

  it("after the bake, good evidence moves the file to the next ramp step", async () => {
    const { report, spec } = await run(15, healthy);
    expect(report.decision).toMatchObject({ action: "advance", to: canary(50) });
    expect(report.smoke).toEqual({ passed: true, failures: [] });
    expect([spec.phase, spec.trafficPercent]).toEqual(["canary", 50]);
  });

  const failingMetrics = (url: URL) =>
    url.searchParams.get("filter")?.includes("request_latencies")
      ? { status: 200, body: { timeSeries: [latency(200)] } }
      : { status: 200, body: { timeSeries: [series("2xx", "900"), series("5xx", "100")] } };

  it("a failing candidate is judged three times, then held, not rolled back: what a rollback strands is named", async () => {
    const { report, spec } = await run(15, failingMetrics);
    expect(sleeps).toEqual([60_000, 60_000]);
    expect(progress[0]).toBe(
      "advance: failed judgement 1 of 3 (5xx rate 10.00% over 1000 requests is above 1%); judging again in 60 s",
    );
    expect(report.decision.action).toBe("hold");
    expect(report.decision.reason).toContain(
      "the candidate is failing: 3 consecutive failed judgement(s), 60 s apart",
    );
    expect(report.decision.reason).toContain(
      "strands every write Cloud SQL accepted since the promotion (2026-11-25T11:00:00.000Z)",
    );
    expect(report.decision.reason).toContain("cutover phase rollback -s prod -m avvivo");
    expect(report.applied).toBeUndefined();
    expect([spec.phase, spec.trafficPercent]).toEqual(["canary", 10]);
  });

  it("with advance.autoRollback on, three failed judgements roll back, naming what is stranded", async () => {
    const { report, spec } = await run(15, failingMetrics, { autoRollback: true });
    expect(report.decision.action).toBe("rollback");
    expect(report.decision.reason).toContain("3 consecutive failed judgement(s)");
    expect(report.decision.reason).toContain("strands every write Cloud SQL accepted since the promotion");
    expect([spec.phase, spec.rollbackFrom]).toEqual(["rollback", "canary"]);
  });

  it("one failed judgement followed by a good one advances (a bad sample is not a verdict)", async () => {
    let calls = 0;
    const { report, spec } = await run(15, (url) => {
      if (!url.searchParams.get("filter")?.includes("request_latencies")) calls++;
      return calls <= 1 ? failingMetrics(url) : healthy(url);
    });
    expect(sleeps).toEqual([60_000]);
    expect(report.decision).toMatchObject({ action: "advance", to: canary(50) });
    expect(spec.trafficPercent).toBe(50);
  });

  it("an unreachable or mistyped candidate URL holds, even with auto-rollback on: no evidence is not a failure", async () => {
    const closed = await freePort();
    const { report, spec } = await run(15, failingMetrics, {
      autoRollback: true,
      candidateUrl: `http://127.0.0.1:${closed}`,
    });
    expect(report.decision.action).toBe("hold");
    expect(report.decision.reason).toMatch(
      /^the candidate could not be reached \(connection refused by 127\.0\.0\.1:\d+\/system\/status/,
    );
    expect(sleeps).toEqual([]);
    expect([spec.phase, spec.trafficPercent]).toEqual(["canary", 10]);
  });

  it("while baking, or with no data, takes no step and leaves the file as it was", async () => {
    const baking = await run(3, healthy);
    expect(baking.report.decision.action).toBe("wait");
    expect(baking.spec.trafficPercent).toBe(10);
    const quiet = await run(15, () => ({ status: 200, body: {} }));
    expect(quiet.report.decision).toMatchObject({ action: "hold" });
    expect(quiet.spec.trafficPercent).toBe(10);
  });

  it("with --wait, says what it waits for, sleeps out the bake, then judges", async () => {
    const m = await fakeMonitoring(healthy);
    const { dir, deployedFile } = atCanary(10);
    const lines: string[] = [];
    let clock = NOW.getTime() - 1600; // under a second of bake left when judged
    const report = await runAdvance({
      stack: "prod",
      migration: "avvivo",
      deployedFile,
      candidateUrl: appUrl,
      wait: true,
      dir,
      now: () => new Date((clock += 500)),
      env: { SMOKE_ADMIN_TOKEN: "admin-token", GOOGLE_OAUTH_ACCESS_TOKEN: "ya29.x" },
      monitoringEndpoint: m.endpoint,
      timeoutMs: 2000,
      progress: (l) => lines.push(l),
    });
    await m.close();
    expect(lines).toEqual([
      "advance: canary:10 is baking; judging at 2026-11-25T12:00:00.000Z (the 10-minute bake ends in 1 min)",
    ]);
    expect(report.decision.action).toBe("advance");
  });

  it("derives the candidate's tag URL from the service URL", () => {
    expect(candidateUrlOf("https://avvivo-api-xyz-uw.a.run.app")).toBe(
      "https://candidate---avvivo-api-xyz-uw.a.run.app",
    );
  });
});
