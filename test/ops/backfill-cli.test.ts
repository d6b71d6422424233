/**
 * The commands as an operator runs them: `d1:migrate --local` (wrangler) then `backfill` from a real
 * PostgreSQL into that local D1, killed mid-run with SIGKILL and resumed.
 */
import { CUTOVER } from "../support/cli";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Client } from "pg";
import { startPostgres, type PgServer } from "../support/postgres";
import { insertCategories, insertCities, LEGACY_SCHEMA } from "./backfill/legacy-fixture";
import { d1Execute } from "../support/d1";

jest.setTimeout(300_000); // each step spawns tsx or wrangler: slow on a busy 2-core machine

const ROOT = path.resolve(__dirname, "../..");
const TSX = path.join(ROOT, "node_modules/.bin/tsx");
const DB = "matchauto-edge-staging";
let server: PgServer;
let persistTo: string;

function env(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    LEGACY_DATABASE_URL: server.url,
    CLOUDFLARE_CF_FETCH_ENABLED: "false",
    WRANGLER_SEND_METRICS: "false",
  };
}

/** `cutover <args>` as the operator runs it, in this suite's environment. */
function run(args: string[], extraEnv: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(TSX, [CUTOVER, ...args], {
    cwd: ROOT,
    env: { ...env(), ...extraEnv },
    encoding: "utf8",
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const backfillArgs = [
  "--stack",
  "staging",
  "--migration",
  "matchauto",
  "--store",
  "d1",
  "--local",
  "--settle-seconds",
  "0",
];

/** Reads local D1 the way an operator would: wrangler d1 execute --json. */
function d1Query(sql: string): Record<string, unknown> {
  return d1Execute({ cwd: ROOT, database: DB, persistTo, env: env() }, sql)[0];
}

beforeAll(async () => {
  persistTo = fs.mkdtempSync(path.join(os.tmpdir(), "cutover-cli-"));
  server = await startPostgres();
  const pg = new Client({ connectionString: server.url });
  await pg.connect();
  await pg.query(LEGACY_SCHEMA);
  await insertCities(pg, 1, 300);
  await insertCategories(pg, 30);
  await pg.end();
});

afterAll(async () => {
  await server?.stop();
  fs.rmSync(persistTo, { recursive: true, force: true });
});

it("d1:migrate applies d1/migrations to the stack's local D1", () => {
  const args = ["--stack", "staging", "--migration", "matchauto", "--local", "--persist-to", persistTo];
  const first = run(["data", "d1-schema", ...args]);
  expect(first.stderr + first.stdout).toContain("0001_edge_tables.sql");
  expect(first.status).toBe(0);
  const again = run(["data", "d1-schema", ...args]);
  expect(again.stdout).toContain("No migrations to apply");
});

it("backfill killed mid-run resumes from its checkpoint: every row once, none missing", async () => {
  const child: ChildProcess = spawn(
    TSX,
    [CUTOVER, "data", "backfill", ...backfillArgs, "--persist-to", persistTo, "--batch-rows", "10"],
    {
      cwd: ROOT,
      env: env(),
      detached: true, // its own process group: SIGKILL reaches workerd too
    },
  );
  let stderr = "";
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on("data", (d: Buffer) => {
      stderr += d.toString();
      if (/cities: \d+\/300 rows/.test(stderr)) resolve();
    });
    child.on("exit", () => reject(new Error(`backfill ended before it could be interrupted: ${stderr}`)));
  });
  process.kill(-child.pid!, "SIGKILL");
  await new Promise((r) => child.once("exit", r));

  const resumed = run(["data", "backfill", ...backfillArgs, "--persist-to", persistTo]);
  expect(resumed.status).toBe(0);
  const copied = Number(/cities: (\d+) rows copied \(after /.exec(resumed.stdout)?.[1]);
  expect(copied).toBeGreaterThan(0);
  expect(copied).toBeLessThan(300);
  expect(resumed.stdout).toMatch(/categories: 30 rows copied \(from the start/);
  expect(resumed.stdout).toMatch(/total: \d+ rows copied into 1 D1 database\(s\)/);

  // rows_copied adds up over runs: exactly 300 means no row was sent twice, the count none was missed.
  expect(d1Query("SELECT rows_copied FROM _cutover_backfill WHERE table_name = 'cities'")).toEqual({
    rows_copied: 300,
  });
  expect(d1Query("SELECT count(*) AS n, sum(id) AS s FROM cities")).toEqual({ n: 300, s: 45150 });

  const idle = run(["data", "backfill", ...backfillArgs, "--persist-to", persistTo]);
  expect(idle.stdout).toContain("cities: 0 rows copied");
  expect(idle.stdout).toContain("total: 0 rows copied");
});

it.each([
  {
    args: ["--database", "edge"],
    message: "backfill: choose exactly one of --local (local D1 on workerd, offline) or --remote",
    status: 2,
  },
  {
    args: ["--local", "--stack", "staging"],
    message: "backfill: --stack staging needs --migration <name>",
    status: 2,
  },
  {
    args: ["--local", "--database", "edge", "--batch-rows", "0"],
    message:
      "option '--batch-rows <n>' argument '0' is invalid. expected rows per batch, e.g. 1000 (a whole number ≥ 1)",
    status: 2,
  },
])("backfill $args → $message", ({ args, message, status }) => {
  const r = run(["data", "backfill", ...args]);
  expect(r.stderr).toContain(message);
  expect(r.status).toBe(status);
});

it("never prints the source password", () => {
  const r = run(
    ["data", "backfill", "--local", "--database", "edge", "--tables", "cities", "--persist-to", persistTo],
    {
      LEGACY_DATABASE_URL: "postgres://app:Sup3rS3cret@127.0.0.1:1/db",
    },
  );
  // An endpoint the command cannot use: exit 2 (could not run as asked), the side named.
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(/^cutover data backfill: the legacy database/);
  expect(r.stdout + r.stderr).not.toContain("Sup3rS3cret");
});

it("d1:migrate reports a failing wrangler", () => {
  const r = run(
    [
      "data",
      "d1-schema",
      "--remote",
      "--database",
      "edge",
      "--database-id",
      "x",
      "--account-id",
      "0".repeat(32),
    ],
    {
      CLOUDFLARE_API_TOKEN: "not-a-token",
      CLOUDFLARE_BASE_URL: "http://127.0.0.1:9/client/v4",
    },
  );
  expect(r.stderr).toContain("cutover data d1-schema: wrangler d1 migrations apply edge failed");
  expect(r.stdout + r.stderr).not.toContain("not-a-token");
});
