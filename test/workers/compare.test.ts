/**
 * The comparison Worker of runbook 2 under workerd: `cutover check compare run --local` starts it with
 * `wrangler dev --test-scheduled` on a real local D1 and real PostgreSQL (legacy and the new schema,
 * reached through its Hyperdrive bindings) and fires its scheduled event. After a backfill of both stores
 * its summary says every sampled key is equal; after one row is changed in the new schema and one is
 * deleted from D1, it names exactly those two keys, and `status --evidence` records a failing verdict.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { Client } from "pg";
import { readEvidence } from "../../infra/evidence";
import type { CompareSummary } from "../../ops/compare/spec";
import { runCutover } from "../support/cli";
import { d1Execute } from "../support/d1";
import { startPostgres, type PgServer } from "../support/postgres";
import { matchautoEnv, seedMatchauto } from "../support/matchauto";
import { scratchMatchauto } from "../support/stack";

jest.setTimeout(300_000);

const ROOT = path.resolve(__dirname, "../..");
const USERS = 120;
const stackArgs = ["--stack", "staging", "--migration", "matchauto"];
let server: PgServer;
let dir: string;
let persistTo: string;

const env = () => matchautoEnv(server);
const run = (args: string[]) => runCutover(args, env(), dir);

beforeAll(async () => {
  server = await startPostgres();
  await seedMatchauto(server, USERS);
  // Sampling more keys than any table has: every key is compared.
  dir = scratchMatchauto("compare", "dual-write", ['compare: { cron: "*/5 * * * *", sample: 1000 }']);
  persistTo = path.join(dir, "state");
  const local = [...stackArgs, "--local", "--persist-to", persistTo];
  const migrated = await run(["data", "d1-schema", ...local]);
  expect([migrated.code, migrated.stderr]).toEqual([0, expect.any(String)]);
  const backfill = await run(["data", "backfill", ...local]);
  expect([backfill.code, backfill.stderr]).toEqual([0, expect.any(String)]);
});

afterAll(async () => {
  await server?.stop();
});

const summaryOf = (stdout: string) => JSON.parse(stdout).summary as CompareSummary;

it("after the backfill, a scheduled run finds every sampled key equal in D1 and in the new schema", async () => {
  const r = await run([
    "check",
    "compare",
    "run",
    ...stackArgs,
    "--local",
    "--persist-to",
    persistTo,
    "--json",
  ]);
  expect([r.code, r.stderr]).toEqual([0, expect.stringContaining("scheduled run in workerd")]);
  const s = summaryOf(r.stdout);
  expect(s).toMatchObject({
    stack: "staging",
    migration: "matchauto",
    cron: "*/5 * * * *",
    identical: true,
    differing: 0,
  });
  const byTable = Object.fromEntries(s.tables.map((t) => [t.table, t]));
  expect(Object.keys(byTable)).toEqual([
    "cities",
    "categories",
    "users",
    "vehicles",
    "listings",
    "listing_photos",
    "favorites",
  ]);
  expect(byTable.cities).toMatchObject({ store: "d1", sampled: 40, equal: 40 });
  expect(byTable.categories).toMatchObject({ store: "d1", sampled: 12, equal: 12 });
  expect(byTable.users).toMatchObject({ store: "supabase", sampled: USERS, equal: USERS });
  for (const t of s.tables) expect([t.table, t.error]).toEqual([t.table, undefined]);
  expect(s.sampled).toBe(s.equal);
});

it("names the planted differences: a changed row in the new schema, a row missing from D1", async () => {
  const target = new Client({ connectionString: server.urlFor("target") });
  await target.connect();
  try {
    await target.query("UPDATE matchauto.users SET display_name = 'planted' WHERE id = 7");
  } finally {
    await target.end();
  }
  d1Execute(
    { cwd: dir, database: "matchauto-edge-staging", persistTo, env: { ...process.env, ...env() } },
    "DELETE FROM cities WHERE id = 3",
  );

  const r = await run([
    "check",
    "compare",
    "run",
    ...stackArgs,
    "--local",
    "--persist-to",
    persistTo,
    "--json",
  ]);
  expect(r.code).toBe(1);
  const s = summaryOf(r.stdout);
  expect(s).toMatchObject({ identical: false, differing: 2 });
  const byTable = Object.fromEntries(s.tables.map((t) => [t.table, t]));
  expect(byTable.users).toMatchObject({ changed: ["id=7"], missing: [], differing: 1, equal: USERS - 1 });
  expect(byTable.cities).toMatchObject({ missing: ["id=3"], changed: [], differing: 1, equal: 39 });
  expect(s.tables.filter((t) => t.differing > 0).map((t) => t.table)).toEqual(["cities", "users"]);

  // The summary stays in KV: status reads it, judges it, and records the failing verdict as evidence.
  const status = await run([
    "check",
    "compare",
    "status",
    ...stackArgs,
    "--local",
    "--persist-to",
    persistTo,
    "--evidence",
  ]);
  expect(status.code).toBe(1);
  expect(status.stdout).toContain("verdict: FAIL — 2 of");
  expect(status.stdout).toMatch(/users\s+supabase\s+\d+ sampled\s+\d+ equal {2}changed id=7/);
  expect(status.stdout).toMatch(/cities\s+d1\s+40 sampled\s+39 equal {2}missing id=3/);
  expect(readEvidence(dir, "staging", "matchauto", "compare")).toMatchObject({
    evidence: { passed: false, position: "dual-write", check: "compare" },
  });

  // validate shows the Worker's verdict beside its own (the new schema's tables; user 7 differs there too).
  const validate = await runCutover(
    ["check", "validate", ...stackArgs, "--target", server.urlFor("target"), "--no-progress"],
    { ...env(), SOURCE_DATABASE_URL: server.url },
    dir,
  );
  expect(validate.code).toBe(1);
  expect(validate.stdout).toMatch(
    /background comparison: FAIL at dual-write on \S+: comparison Worker at \S+: \d+ sampled, \d+ equal, 2 differing/,
  );
});

it("renders the deploy config from the stack outputs, and wrangler bundles it for deploy", async () => {
  const outputs = path.join(dir, "outputs.json");
  fs.writeFileSync(
    outputs,
    JSON.stringify({
      matchauto: {
        kvNamespaceId: "0f2ac74b498b48028cb68387c421e279",
        d1DatabaseIds: { "matchauto-edge-staging": "7b5c4e1a-0000-4000-8000-000000000001" },
        hyperdriveIds: { legacy: "a".repeat(32), target: "b".repeat(32) },
      },
    }),
  );
  const out = path.join(dir, "deploy", "wrangler.json");
  const r = await run(["check", "compare", "config", ...stackArgs, "--outputs", outputs, "--out", out]);
  expect([r.code, r.stderr]).toEqual([
    0,
    expect.stringContaining(`deploy with: npx wrangler deploy -c ${out}`),
  ]);
  const config = JSON.parse(fs.readFileSync(out, "utf8"));
  expect(config).toMatchObject({
    name: "cutover-compare-staging-matchauto",
    compatibility_flags: ["nodejs_compat"],
    triggers: { crons: ["*/5 * * * *"] },
    workers_dev: false,
    hyperdrive: [
      { binding: "LEGACY_DB", id: "a".repeat(32) },
      { binding: "TARGET_DB", id: "b".repeat(32) },
    ],
    kv_namespaces: [{ binding: "RESULTS", id: "0f2ac74b498b48028cb68387c421e279" }],
    d1_databases: [
      {
        binding: "EDGE_DB",
        database_name: "matchauto-edge-staging",
        database_id: "7b5c4e1a-0000-4000-8000-000000000001",
      },
    ],
  });
  expect(JSON.parse(config.vars.COMPARE_SPEC)).toMatchObject({
    migration: "matchauto",
    sample: 1000,
    legacySchema: "public",
    targetSchema: "matchauto",
  });
  expect(JSON.stringify(config)).not.toMatch(/postgres(ql)?:\/\//);
  // The very bundle `wrangler deploy` would upload, built offline.
  const dry = spawnSync(
    process.execPath,
    [
      path.join(ROOT, "node_modules/wrangler/bin/wrangler.js"),
      "deploy",
      "--dry-run",
      "--outdir",
      path.join(dir, "bundle"),
      "-c",
      out,
    ],
    { cwd: dir, env: { ...process.env, ...env() }, encoding: "utf8" },
  );
  expect([dry.status, dry.stdout]).toEqual([0, expect.stringContaining("env.LEGACY_DB")]);
  expect(fs.statSync(path.join(dir, "bundle", "worker.js")).size).toBeGreaterThan(10_000);
});

it("says what it needs, and never prints a password from the connection URLs", async () => {
  const noStore = await run(["check", "compare", "status", ...stackArgs]);
  expect([noStore.code, noStore.stderr]).toEqual([
    2,
    expect.stringContaining("choose exactly one of --local (local KV state) or --remote"),
  ]);
  const remoteRun = await run(["check", "compare", "run", ...stackArgs, "--remote"]);
  expect(remoteRun.stderr).toContain("run works on local state only (--local)");
  const noOutputs = await run(["check", "compare", "config", ...stackArgs, "--outputs", "missing.json"]);
  expect([noOutputs.code, noOutputs.stderr]).toEqual([
    2,
    expect.stringContaining("--outputs missing.json: no such file"),
  ]);
  const bad = await runCutover(
    ["check", "compare", "run", ...stackArgs, "--local", "--persist-to", persistTo],
    { ...env(), LEGACY_DATABASE_URL: "postgres://u:hunter2-secret@127.0.0.1:1/nowhere" },
    dir,
  );
  expect(bad.code).not.toBe(0);
  expect(bad.stdout + bad.stderr).not.toContain("hunter2-secret");
});
