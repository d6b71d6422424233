/**
 * The change applier rides out database restarts: `capture run --follow` under a write load while the
 * new schema's server, then the legacy server, are restarted. It reconnects with backoff, says so, and
 * every change arrives: both stores end equal row for row. A server that stays down makes it give up
 * after --give-up-after with exit 2, naming what it could not reach.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as path from "node:path";
import { Client } from "pg";
import { query, startPostgres, type PgServer } from "../support/postgres";
import { runCutover, CUTOVER } from "../support/cli";
import { EXPECTED_NEW, insertRelational, RELATIONAL_SCHEMA, textRows } from "./backfill/relational-fixture";
import { insertCities, LEGACY_SCHEMA } from "./backfill/legacy-fixture";
import { migrateSchema } from "../../ops/schema/run";

jest.setTimeout(300_000);

const ROOT = path.resolve(__dirname, "../..");
const TSX = path.join(ROOT, "node_modules/.bin/tsx");
const USERS = 300;
const stackArgs = ["--stack", "staging", "--migration", "matchauto", "--store", "supabase"];
let legacyServer: PgServer;
let targetServer: PgServer;

const env = (): NodeJS.ProcessEnv => ({
  ...process.env,
  LEGACY_DATABASE_URL: legacyServer.url,
  TARGET_DATABASE_URL: targetServer.urlFor("target"),
  SOURCE_DATABASE_URL: legacyServer.url,
});

const q = query;

/** Legacy and the new schema hold the same rows of `table`, as the backfill's mapping reads them. */
async function expectStoresEqual(table: string): Promise<void> {
  const { legacy: l, target: t } = EXPECTED_NEW[table];
  const legacy = new Client({ connectionString: legacyServer.url });
  const target = new Client({ connectionString: targetServer.urlFor("target") });
  await legacy.connect();
  await target.connect();
  await legacy.query("SET TIME ZONE 'UTC'");
  await target.query("SET TIME ZONE 'UTC'");
  try {
    const want = await textRows(legacy, l);
    const got = await textRows(target, t);
    expect({ table, rows: got.length }).toEqual({ table, rows: want.length });
    expect(got).toEqual(want);
  } finally {
    await legacy.end();
    await target.end();
  }
}

beforeAll(async () => {
  [legacyServer, targetServer] = await Promise.all([startPostgres(), startPostgres()]);
  const legacy = new Client({ connectionString: legacyServer.url });
  await legacy.connect();
  await legacy.query(LEGACY_SCHEMA + ";" + RELATIONAL_SCHEMA);
  await insertCities(legacy, 1, 20);
  await insertRelational(legacy, USERS);
  await legacy.end();
  await q(targetServer.url, "CREATE DATABASE target");
  await migrateSchema({ url: targetServer.urlFor("target"), schema: "matchauto" });
});

afterAll(async () => {
  await Promise.all([legacyServer?.stop(), targetServer?.stop()]);
});

/** Updates and inserts from two connections that reconnect when the legacy server restarts. */
function startLoad(): { stop: () => Promise<number> } {
  let running = true;
  let committed = 0;
  let nextId = 2_000_000;
  const worker = async (w: number) => {
    let pg: Client | undefined;
    for (let i = 0; running; i++) {
      try {
        if (!pg) {
          pg = new Client({ connectionString: legacyServer.url });
          pg.on("error", () => undefined);
          await pg.connect();
        }
        const id = 1 + ((i * 7919 + w * 104729) % USERS);
        if (i % 3 === 0) {
          const u = nextId++;
          await pg.query(
            "INSERT INTO users (id, email, full_name, password_hash) VALUES ($1, $2, 'Soak', 'h')",
            [u, `soak${u}@example.com`],
          );
        } else {
          await pg.query("UPDATE users SET full_name = full_name || '.', updated_at = now() WHERE id = $1", [
            id,
          ]);
        }
        committed += 1;
      } catch {
        await pg?.end().catch(() => undefined);
        pg = undefined;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await pg?.end().catch(() => undefined);
  };
  const done = Promise.all([0, 1].map(worker));
  return {
    stop: async () => {
      running = false;
      await done;
      return committed;
    },
  };
}

/** The applier as a child process; `ready` resolves once it has reported its first round. */
function startApplier(extra: string[] = []): {
  child: ChildProcess;
  output: () => string;
  ready: Promise<void>;
} {
  const child = spawn(
    TSX,
    [CUTOVER, "data", "capture", "run", ...stackArgs, "--follow", "--interval", "0.05", ...extra],
    { cwd: ROOT, env: env(), detached: true },
  );
  let out = "";
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((r) => (markReady = r));
  const take = (d: Buffer) => {
    out += d.toString();
    if (out.includes("changes applied")) markReady();
  };
  child.stdout!.on("data", take);
  child.stderr!.on("data", take);
  return { child, output: () => out, ready };
}

/** Waits until the log is drained (nothing pending), then stops the applier with Ctrl-C. */
async function drainThenStop(applier: ReturnType<typeof startApplier>) {
  const until = Date.now() + 60_000;
  for (;;) {
    const [{ n }] = await q(legacyServer.url, "SELECT count(*)::int AS n FROM cutover_capture.changes");
    if (n === 0) break;
    if (Date.now() > until) throw new Error(`${n} changes still pending\n${applier.output()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  process.kill(-applier.child.pid!, "SIGINT");
  return { code: await exitOf(applier.child), out: applier.output() };
}

const exitOf = (child: ChildProcess) =>
  new Promise<number | null>((r) =>
    child.exitCode !== null ? r(child.exitCode) : child.once("exit", (code) => r(code)),
  );

it("reconnects after the new schema's server and then the legacy server restart, and loses no change", async () => {
  expect((await runCutover(["data", "capture", "install", ...stackArgs.slice(0, 4)], env())).code).toBe(0);
  const backfill = await runCutover(["data", "backfill", ...stackArgs, "--settle-seconds", "0"], env());
  expect(backfill.code).toBe(0);

  const applier = startApplier();
  const load = startLoad();
  await applier.ready;
  await new Promise((r) => setTimeout(r, 1000));
  await targetServer.restart(1500);
  await new Promise((r) => setTimeout(r, 2000));
  await legacyServer.restart(1500);
  await new Promise((r) => setTimeout(r, 2000));
  const committed = await load.stop();
  expect(committed).toBeGreaterThan(100);

  const { code, out } = await drainThenStop(applier);
  expect(out).toMatch(
    /capture: connection to the legacy database and the new stores lost \(.+\); reconnecting in \d+ ms \(attempt 1\)/,
  );
  expect(
    out.match(/capture: reconnected to the legacy database and the new stores after [0-9.]+ s/g)!.length,
  ).toBeGreaterThanOrEqual(2);
  expect(out).not.toMatch(/Unhandled|at .*\.ts:\d+/);
  // Ctrl-C is a clean stop (0); tsx, which wraps the command here, reports a SIGINT it relayed as 130.
  expect([0, 130]).toContain(code);

  // Every change arrived: the stores are equal row for row (users took every write of the load).
  for (const table of ["users", "vehicles", "listings"]) await expectStoresEqual(table);
});

it("gives up after --give-up-after when a server stays down: exit 2, naming it, nothing dropped from the log", async () => {
  const applier = startApplier(["--give-up-after", "3"]);
  await applier.ready;
  // The target goes first, so the change made next cannot reach it before the applier gives up.
  await targetServer.kill();
  await q(legacyServer.url, "UPDATE users SET full_name = 'pending' WHERE id = 1");
  const code = await exitOf(applier.child);
  const out = applier.output();
  expect([code, out]).toEqual([2, expect.any(String)]);
  expect(out).toMatch(
    /capture: gave up reconnecting to the legacy database and the new stores after \d+ s: .+/,
  );
  expect(out).toContain("hint: bring the database back and run the command again");
  expect(out).not.toMatch(/Unhandled/);
  const [{ n }] = await q(legacyServer.url, "SELECT count(*)::int AS n FROM cutover_capture.changes");
  expect(n).toBeGreaterThan(0);
  await targetServer.restart();
});

it("backfill rides out a restart of the legacy server mid-copy and resumes from its checkpoint", async () => {
  await targetServer.restart().catch(() => undefined); // up again after the previous test's kill
  await q(
    legacyServer.url,
    `INSERT INTO users (id, email, full_name, password_hash)
     SELECT 3000000 + i, 'bulk' || i || '@example.com', 'Bulk', 'h' FROM generate_series(1, 30000) i`,
  );
  const child = spawn(
    TSX,
    [
      CUTOVER,
      "data",
      "backfill",
      ...stackArgs,
      ...["--tables", "users", "--full", "--batch-rows", "20", "--settle-seconds", "0"],
    ],
    { cwd: ROOT, env: env(), detached: true },
  );
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  // Restart once the copy is well under way (its progress says how far).
  const started = Date.now();
  const copied = () => Math.max(0, ...[...out.matchAll(/users: (\d+)\//g)].map((m) => Number(m[1])));
  while (copied() < 400 && Date.now() - started < 30_000) await new Promise((r) => setTimeout(r, 20));
  await legacyServer.restart(1000);
  const code = await exitOf(child);
  expect(out).toMatch(/backfill: connection to the databases of users lost \(.+\); reconnecting in \d+ ms/);
  expect(out).toMatch(
    /backfill: reconnected to the databases of users after [0-9.]+ s; users resumes from its checkpoint/,
  );
  expect(out).not.toMatch(/Unhandled/);
  expect(code).toBe(0);
  await expectStoresEqual("users");
});

it("rides out a frozen new-schema server (SIGSTOP): silence past --query-timeout is a lost connection, and no change is lost", async () => {
  const applier = startApplier(["--query-timeout", "2", "--connect-timeout", "1"]);
  const load = startLoad();
  await applier.ready;
  await new Promise((r) => setTimeout(r, 1000));
  targetServer.pause(); // accepts TCP, answers nothing
  try {
    await new Promise((r) => setTimeout(r, 5000));
  } finally {
    targetServer.resume();
  }
  await new Promise((r) => setTimeout(r, 1000));
  const committed = await load.stop();
  expect(committed).toBeGreaterThan(50);
  const { code, out } = await drainThenStop(applier);
  expect(out).toMatch(
    /capture: connection to the legacy database and the new stores lost \(.*(query timeout|connect timeout).*\); reconnecting/,
  );
  expect(out).toMatch(/capture: reconnected to the legacy database and the new stores after [0-9.]+ s/);
  expect(out).not.toMatch(/Unhandled|at .*\.ts:\d+/);
  expect([0, 130]).toContain(code);
  for (const table of ["users", "vehicles", "listings"]) await expectStoresEqual(table);
});
