/**
 * The change capture's Worker (workers/capture), the applier's home from the backfill to the final cut,
 * under workerd: `cutover data capture worker --local` starts it with `wrangler dev --test-scheduled` on
 * real local D1 and KV and real PostgreSQL (legacy and the new schema through its Hyperdrive bindings) and
 * fires its scheduled event. Changes made to legacy after the backfill — inserts, updates, deletes, on a
 * D1 table and on the new schema's tables — are in both stores afterwards, and its KV summary says so.
 */
import * as path from "node:path";
import { Client } from "pg";
import {
  captureSummaryProblem,
  type CaptureSummary,
  CAPTURE_SUMMARY_MAX_AGE_MINUTES,
} from "../../ops/capture/worker-spec";
import { runCutover } from "../support/cli";
import { d1Execute } from "../support/d1";
import { startPostgres, type PgServer } from "../support/postgres";
import { matchautoEnv, seedMatchauto } from "../support/matchauto";
import { scratchMatchauto } from "../support/stack";

jest.setTimeout(300_000);

const stackArgs = ["--stack", "staging", "--migration", "matchauto"];
let server: PgServer;
let dir: string;
let persistTo: string;

const run = (args: string[], cwd = dir) => runCutover(args, matchautoEnv(server), cwd);
const legacy = async <T>(work: (c: Client) => Promise<T>): Promise<T> => {
  const c = new Client({ connectionString: server.url });
  await c.connect();
  try {
    return await work(c);
  } finally {
    await c.end();
  }
};
const worker = (cwd = dir) =>
  run(
    [
      "data",
      "capture",
      "worker",
      ...stackArgs,
      "--local",
      "--persist-to",
      persistTo,
      "--budget",
      "3",
      "--json",
    ],
    cwd,
  );

beforeAll(async () => {
  server = await startPostgres();
  await seedMatchauto(server, 30);
  dir = scratchMatchauto("capture-worker", "backfill");
  persistTo = path.join(dir, "state");
  const local = [...stackArgs, "--local", "--persist-to", persistTo];
  for (const step of [
    ["data", "d1-schema", ...local],
    ["data", "capture", "install", ...stackArgs],
    ["data", "backfill", ...local],
  ]) {
    const r = await run(step);
    expect([step.join(" "), r.code, r.stderr]).toEqual([step.join(" "), 0, expect.any(String)]);
  }
});

afterAll(async () => {
  await server?.stop();
});

describe("a scheduled run after the backfill", () => {
  let out: { passed: boolean; problem?: string; summary: CaptureSummary };

  beforeAll(async () => {
    await legacy(async (c) => {
      await c.query("UPDATE cities SET name = 'Renamed', updated_at = now() WHERE id = 3");
      await c.query("DELETE FROM cities WHERE id = 4");
      await c.query("UPDATE users SET full_name = 'Changed Name', updated_at = now() WHERE id = 2");
      await c.query("DELETE FROM favorites WHERE user_id = (SELECT min(user_id) FROM favorites)");
    });
    const r = await worker();
    expect([r.code, r.stderr]).toEqual([0, expect.stringContaining("scheduled run in workerd")]);
    out = JSON.parse(r.stdout);
  });

  it("applies every change logged since, and leaves nothing pending", async () => {
    const logged = out.summary.applied;
    expect(logged).toBeGreaterThanOrEqual(4);
    expect(out).toMatchObject({
      passed: true,
      summary: { pending: 0, lagSeconds: 0, failed: [], afterCut: false },
    });
    expect(out.summary.latencyMs.max).toBeGreaterThan(0);
  });

  it("the D1 table and the new schema hold the changes", async () => {
    const opts = { cwd: dir, database: "matchauto-edge-staging", persistTo, env: matchautoEnv(server) };
    expect(d1Execute(opts, "SELECT id, name FROM cities WHERE id IN (3, 4) ORDER BY id")).toEqual([
      { id: 3, name: "Renamed" },
    ]);
    const target = new Client({ connectionString: server.urlFor("target") });
    await target.connect();
    try {
      const { rows } = await target.query("SELECT display_name FROM matchauto.users WHERE id = 2");
      expect(rows).toEqual([{ display_name: "Changed Name" }]);
      const counts = await Promise.all([
        legacy((c) => c.query("SELECT count(*)::int AS n FROM favorites")),
        target.query("SELECT count(*)::int AS n FROM matchauto.favorites"),
      ]);
      expect(counts[1].rows[0].n).toBe(counts[0].rows[0].n);
    } finally {
      await target.end();
    }
  });

  it("applies with the after-cut rule once the stack is at the final cut", async () => {
    const cut = scratchMatchauto("capture-worker-cut", "final-cut", [
      'flagsUpdatedAt: "2026-12-01T12:00:00Z"',
    ]);
    const r = await worker(cut);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).summary).toMatchObject({ afterCut: true, applied: 0, pending: 0 });
  });
});

it("judges a summary: none, a stopped cron, a failing table, a lag over the bound", () => {
  const now = new Date("2026-12-07T12:00:00Z");
  const ok: CaptureSummary = {
    stack: "staging",
    migration: "matchauto",
    at: "2026-12-07T11:59:00Z",
    afterCut: false,
    durationMs: 50_000,
    rounds: 90,
    applied: 1200,
    kept: 0,
    failed: [],
    latencyMs: { p50: 800, p99: 2100, max: 2400 },
    lagSeconds: 1.5,
    pending: 3,
    rechecks: 40,
  };
  expect(captureSummaryProblem(ok, 60, now)).toBeUndefined();
  expect(captureSummaryProblem(null, 60, now)).toMatch(/^no summary: the capture Worker has not run/);
  const stale = {
    ...ok,
    at: new Date(now.getTime() - (CAPTURE_SUMMARY_MAX_AGE_MINUTES + 2) * 60_000).toISOString(),
  };
  expect(captureSummaryProblem(stale, 60, now)).toBe("the last run was 7 min ago (over 5): its cron stopped");
  expect(captureSummaryProblem({ ...ok, failed: [{ table: "cities", error: "D1 busy" }] }, 60, now)).toBe(
    "changes failing on cities (D1 busy)",
  );
  expect(captureSummaryProblem({ ...ok, lagSeconds: 75 }, 60, now)).toBe(
    "lag 75.0 s over the bound of 60 s (3 pending)",
  );
});

it("worker needs --local or --remote, and --remote needs the token (exit 2)", async () => {
  const none = await run(["data", "capture", "worker", ...stackArgs]);
  expect(none.code).toBe(2);
  expect(none.stderr).toContain("worker needs --local (one run in workerd, on local state) or --remote");
  const remote = await run(["data", "capture", "worker", ...stackArgs, "--remote"]);
  expect(remote.code).toBe(2);
  expect(remote.stderr).toContain("CLOUDFLARE_API_TOKEN is not set");
});
