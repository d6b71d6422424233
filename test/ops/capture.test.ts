/**
 * Change capture as an operator runs it, against real PostgreSQL (legacy and new schema) and a real
 * local D1: install, backfill, then concurrent inserts, updates and deletes while the applier runs;
 * the applier is killed (SIGKILL) in the middle and restarted; at the end `validate` finds legacy and
 * the new schema identical.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Client } from "pg";
import { startPostgres, type PgServer } from "../support/postgres";
import { runCutover, CUTOVER } from "../support/cli";
import { EXPECTED_NEW, insertRelational, RELATIONAL_SCHEMA, textRows } from "./backfill/relational-fixture";
import { applyD1Migrations, insertCities, LEGACY_SCHEMA } from "./backfill/legacy-fixture";
import { migrateSchema } from "../../ops/schema/run";
import { connectSource } from "../../ops/backfill/source";
import { openLocalTarget, type D1Target } from "../../ops/backfill/targets";
import { backfillTable, planTable } from "../../ops/backfill/run";
import { applyRound, backlog } from "../../ops/capture/applier";
import { installCapture } from "../../ops/capture/install";
import { applyStep } from "../../ops/phase/apply";
import { readEvidence } from "../../infra/evidence";
import { recordScoped } from "../support/evidence";
import { scratchMatchauto } from "../support/stack";

jest.setTimeout(300_000);

const ROOT = path.resolve(__dirname, "../..");
const TSX = path.join(ROOT, "node_modules/.bin/tsx");
const USERS = 500;
let server: PgServer;
let legacy: Client;
let target: Client;

const env = (): NodeJS.ProcessEnv => ({
  ...process.env,
  LEGACY_DATABASE_URL: server.url,
  TARGET_DATABASE_URL: server.urlFor("target"),
  SOURCE_DATABASE_URL: server.url,
});
const stackArgs = ["--stack", "staging", "--migration", "matchauto"];

/** `cutover <args>` as the operator runs it, with this suite's connections. */
async function run(args: string[], extra: NodeJS.ProcessEnv = {}) {
  const r = await runCutover(args, { ...env(), ...extra });
  return { status: r.code, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(async () => {
  server = await startPostgres();
  legacy = new Client({ connectionString: server.url });
  await legacy.connect();
  await legacy.query(LEGACY_SCHEMA + ";" + RELATIONAL_SCHEMA);
  await insertCities(legacy, 1, 50);
  await insertRelational(legacy, USERS);
  await legacy.query("CREATE DATABASE target");
  await migrateSchema({ url: server.urlFor("target"), schema: "matchauto" });
  target = new Client({ connectionString: server.urlFor("target") });
  await target.connect();
  await target.query("SET TIME ZONE 'UTC'");
  await legacy.query("SET TIME ZONE 'UTC'");
});

afterAll(async () => {
  await legacy?.end();
  await target?.end();
  await server?.stop();
});

/** Random writes on three legacy tables from four connections, as the running app would make them. */
async function writeLoad(ms: number): Promise<{ inserts: number; updates: number; deletes: number }> {
  const counts = { inserts: 0, updates: 0, deletes: 0 };
  let nextId = 1_000_000;
  const end = Date.now() + ms;
  const worker = async (w: number) => {
    const pg = new Client({ connectionString: server.url });
    await pg.connect();
    try {
      for (let i = 0; Date.now() < end; i++) {
        const id = 1 + ((i * 7919 + w * 104729) % USERS);
        switch (i % 5) {
          case 0: {
            const u = nextId++;
            await pg.query("BEGIN");
            await pg.query(
              "INSERT INTO users (id, email, full_name, password_hash) VALUES ($1, $2, 'Nuevo', 'h')",
              [u, `n${u}@example.com`],
            );
            await pg.query(
              "INSERT INTO favorites (user_id, listing_id) VALUES ($1::bigint, 1 + $1::bigint % 10)",
              [u],
            );
            await pg.query("COMMIT");
            counts.inserts += 2;
            break;
          }
          case 1:
          case 2:
            await pg.query(
              "UPDATE users SET full_name = full_name || '!', updated_at = now() WHERE id = $1",
              [id],
            );
            await pg.query(
              "UPDATE listings SET price = price + 1, status = 'active', updated_at = now() WHERE id = $1",
              [id],
            );
            counts.updates += 2;
            break;
          case 3: {
            // A delete that cascades to photos and favorites (listings 1-10 stay for new favorites), and
            // an update that changes a row's key.
            const r = await pg.query("DELETE FROM listings WHERE id = $1 AND id > 10", [id]);
            counts.deletes += r.rowCount ?? 0;
            await pg
              .query("UPDATE favorites SET listing_id = 2 WHERE user_id = $1 AND listing_id <> 2", [id + 1])
              .catch(() => undefined); // the user may already favour listing 2
            break;
          }
          default: {
            // A rolled-back change must leave no trace.
            await pg.query("BEGIN");
            await pg.query(
              "DELETE FROM users WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM vehicles WHERE owner_id = $1)",
              [id],
            );
            await pg.query("ROLLBACK");
          }
        }
      }
    } finally {
      await pg.end();
    }
  };
  await Promise.all([0, 1, 2, 3].map(worker));
  return counts;
}

it("install, backfill, concurrent writes with the applier killed and restarted: validate finds both equal", async () => {
  const installed = await run(["data", "capture", "install", ...stackArgs]);
  expect(installed.stdout).toContain(
    "change capture installed on public.cities, public.categories, public.users",
  );
  expect(installed.status).toBe(0);
  const status = await run(["data", "capture", "status", ...stackArgs, "--json"]);
  expect(JSON.parse(status.stdout)).toMatchObject({ passed: true, installed: true, pending: 0 });

  const backfill = await run([
    "data",
    "backfill",
    ...stackArgs,
    "--store",
    "supabase",
    "--settle-seconds",
    "0",
  ]);
  expect(backfill.status).toBe(0);

  const applier: ChildProcess = spawn(
    TSX,
    [
      CUTOVER,
      "data",
      "capture",
      "run",
      ...stackArgs,
      "--store",
      "supabase",
      "--follow",
      "--batch",
      "50",
      "--interval",
      "0.05",
    ],
    { cwd: ROOT, env: env(), detached: true },
  );
  let out = "";
  applier.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  applier.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const load = writeLoad(6000);
  await new Promise((r) => setTimeout(r, 3000));
  process.kill(-applier.pid!, "SIGKILL"); // mid-load, mid-round: no chance to tidy up
  await new Promise((r) => applier.once("exit", r));
  const counts = await load;
  expect(counts.deletes).toBeGreaterThan(0);
  expect(counts.inserts).toBeGreaterThan(0);
  expect(out).not.toMatch(/error/i);

  const drained = await run(["data", "capture", "run", ...stackArgs, "--store", "supabase", "--json"]);
  expect(drained.stderr).not.toMatch(/error/i);
  expect(drained.status).toBe(0);
  const report = JSON.parse(drained.stdout);
  expect(report).toMatchObject({ pending: 0 });
  expect(report.changes).toBeGreaterThan(0);
  expect(report.deletes).toBeGreaterThan(0);

  for (const [table, { legacy: l, target: t }] of Object.entries(EXPECTED_NEW)) {
    const want = await textRows(legacy, l);
    const got = await textRows(target, t);
    expect({ table, rows: got.length }).toEqual({ table, rows: want.length });
    expect(got).toEqual(want);
  }
  const validate = await run([
    "check",
    "validate",
    ...stackArgs,
    "--target",
    server.urlFor("target"),
    "--json",
    "--no-progress",
  ]);
  const verdict = JSON.parse(validate.stdout);
  expect(verdict.error).toBeUndefined();
  // No comparison Worker evidence was committed here: validate says so rather than staying silent.
  expect(verdict.backgroundComparison).toBeNull();
  expect(verdict.tables.map((t: { table: string; identical: boolean }) => [t.table, t.identical])).toEqual(
    Object.keys(EXPECTED_NEW).map((t) => [t, true]),
  );
  expect(validate.status).toBe(0);
});

it("carries inserts, updates and deletes of a D1 table into local D1, idempotently", async () => {
  const persistTo = fs.mkdtempSync(path.join(os.tmpdir(), "cutover-capture-"));
  const source = await connectSource(server.url);
  let d1: D1Target | undefined;
  try {
    d1 = await openLocalTarget({ name: "matchauto-edge-staging", binding: "EDGE_DB" }, persistTo);
    await applyD1Migrations(d1);
    const spec = { name: "cities", schema: "public", primaryKey: ["id"], updatedAtColumn: "updated_at" };
    await installCapture(source, [spec]);
    await source.query("DELETE FROM cutover_capture.changes WHERE table_name = 'cities'");
    await backfillTable(source, d1, spec, { batchRows: 100, settleSeconds: 0 });
    await legacy.query(
      `INSERT INTO cities (id, slug, name, country_code) VALUES (9001, 'nova', 'Nova Cidade', 'BR');
       UPDATE cities SET name = 'Renamed', updated_at = now() WHERE id = 2;
       DELETE FROM cities WHERE id IN (3, 4);
       UPDATE cities SET id = 9002, slug = 'moved' WHERE id = 5`,
    );
    expect((await backlog(source)).perTable.cities).toBe(6); // insert, update, 2 deletes, key change = D + U
    const sinks = new Map([
      ["cities", { store: "d1" as const, query: await planTable(source, d1, spec), target: d1 }],
    ]);
    const first = await applyRound(source, sinks, 100);
    expect(first).toMatchObject({ changes: 6, upserts: 3, deletes: 3 });
    const rows = await d1.all("SELECT id, name FROM cities WHERE id IN (2, 3, 4, 5, 9001, 9002) ORDER BY id");
    expect(rows).toEqual([
      { id: 2, name: "Renamed" },
      { id: 9001, name: "Nova Cidade" },
      { id: 9002, name: expect.any(String) },
    ]);
    expect(await d1.all("SELECT count(*) AS n FROM cities")).toEqual([{ n: 49 }]);
    // The same changes again (a restart before their removal committed) change nothing.
    await legacy.query("UPDATE cities SET updated_at = updated_at WHERE id IN (2, 9001)");
    await applyRound(source, sinks, 100);
    expect(await d1.all("SELECT count(*) AS n FROM cities")).toEqual([{ n: 49 }]);
    expect(await backlog(source)).toMatchObject({ pending: 0 });

    // Across the final cut, on D1: a recheck keeps a row D1 changed since, and brings back none it deleted.
    await legacy.query("UPDATE cities SET name = 'Before the cut', updated_at = now() WHERE id IN (6, 7)");
    expect((await applyRound(source, sinks, 100, { recheckSeconds: 1 })).changes).toBe(2);
    const [{ updated_at: stamped }] = await d1.all("SELECT updated_at FROM cities WHERE id = 6");
    await d1.batch([
      {
        sql: "UPDATE cities SET name = 'Written after the cut', updated_at = ? WHERE id = 6",
        params: [String(stamped).replace(/^\d{4}/, "2099")],
      },
      { sql: "DELETE FROM cities WHERE id = 7", params: [] },
    ]);
    await new Promise((r) => setTimeout(r, 1100));
    const cut = await applyRound(source, sinks, 100, { recheckSeconds: 1, afterCut: true });
    expect([cut.rechecked, cut.kept]).toEqual([2, 2]);
    expect(await d1.all("SELECT id, name FROM cities WHERE id IN (6, 7)")).toEqual([
      { id: 6, name: "Written after the cut" },
    ]);
    expect(await backlog(source)).toMatchObject({ pending: 0, rechecks: 0 });
  } finally {
    await d1?.close();
    await source.end();
    fs.rmSync(persistTo, { recursive: true, force: true });
  }
});

it("its lag is the read-switch gate: a backlog older than the bound fails the evidence, a drained log passes", async () => {
  // The stack names the databases the checks run against (here, this suite's server): evidence binds to them.
  const local = new URL(server.url);
  const dir = scratchMatchauto(
    "capture-gate",
    "dual-write",
    ["captureMaxLagSeconds: 1"],
    [
      [
        "host: db.kwmfyzrtbnqhlpcx.supabase.co\n        port: 5432\n        database: postgres",
        `host: ${local.hostname}\n        port: ${local.port}\n        database: ${local.pathname.slice(1)}`,
      ],
    ],
  );
  const status = (over: string) =>
    runCutover(
      ["data", "capture", "status", ...stackArgs, "--evidence", "--over", over, "--json"],
      env(),
      dir,
    );
  await legacy.query(
    "INSERT INTO users (id, email, full_name, password_hash) VALUES (900001, 'lag@example.com', 'Lag', 'x')",
  );
  await new Promise((r) => setTimeout(r, 1500));

  const behind = await status("0");
  expect([behind.code, behind.stderr]).toEqual([1, expect.stringContaining("capture: evidence written to")]);
  expect(JSON.parse(behind.stdout)).toMatchObject({ installed: true, boundSeconds: 1, keepsUp: false });
  expect(JSON.parse(behind.stdout).maxLagSeconds).toBeGreaterThan(1);
  const failed = readEvidence(dir, "staging", "matchauto", "capture");
  expect(failed).toMatchObject({ evidence: { passed: false, position: "dual-write" } });
  expect((failed as any).evidence.summary).toMatch(/highest lag [\d.]+ s over 0 s \(bound 1 s\) EXCEEDED/);

  // Validation and the comparison Worker alone are not enough: the step names the capture evidence.
  for (const store of ["d1", "supabase"])
    recordScoped(dir, "staging", "matchauto", "validate", { store, summary: "both stores identical" });
  recordScoped(dir, "staging", "matchauto", "compare", { summary: "both stores identical" });
  const refused = applyStep("staging", "matchauto", "next", undefined, { dir, now: new Date() });
  expect(refused.code).toBe(1);
  expect(refused.out).toContain("matchauto: dual-write → read-switch:");
  expect(refused.out).toContain(
    "needs passing capture evidence taken at dual-write: the last capture did not pass",
  );
  expect(refused.out).toContain(
    "hint: cutover check capture --stack staging --migration matchauto --evidence",
  );
  expect(refused.out).not.toContain("validate evidence");
  expect(refused.out).not.toContain("compare evidence");

  const drained = await runCutover(["data", "capture", "run", ...stackArgs, "--store", "supabase"], env());
  expect(drained.code).toBe(0);
  const keepsUp = await status("1");
  expect(keepsUp.code).toBe(0);
  expect(JSON.parse(keepsUp.stdout)).toMatchObject({ installed: true, pending: 0, keepsUp: true });
  expect(readEvidence(dir, "staging", "matchauto", "capture")).toMatchObject({ evidence: { passed: true } });
  expect(readEvidence(dir, "staging", "matchauto", "capture")).toMatchObject({
    evidence: {
      endpoints: [
        { role: "source", host: local.hostname, port: Number(local.port), database: local.pathname.slice(1) },
      ],
    },
  });
  const allowed = applyStep("staging", "matchauto", "next", undefined, { dir, now: new Date() });
  expect([allowed.code, allowed.out]).toEqual([0, expect.stringContaining("dual-write → read-switch")]);
});

it("a change the new schema refuses stays in the log: run exits 1 naming the table, and a later run applies it", async () => {
  await target.query("ALTER TABLE matchauto.users ADD CONSTRAINT no_x CHECK (display_name <> 'X')");
  try {
    await legacy.query("UPDATE users SET full_name = 'X', updated_at = now() WHERE id = 2");
    const r = await run(["data", "capture", "run", ...stackArgs, "--store", "supabase", "--json"]);
    expect(r.stderr).toContain("capture: 1 change(s) of users could not be applied and stay in the log:");
    expect(r.stderr).toContain('violates check constraint "no_x"');
    expect(r.stderr).toContain("hint: fix the cause above and run again (nothing was dropped)");
    expect(r.status).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ pending: 1, failed: [{ table: "users", pending: 1 }] });
  } finally {
    await target.query("ALTER TABLE matchauto.users DROP CONSTRAINT no_x");
  }
  const again = await run(["data", "capture", "run", ...stackArgs, "--store", "supabase", "--json"]);
  expect([again.status, JSON.parse(again.stdout).pending]).toEqual([0, 0]);
  const { rows } = await target.query("SELECT display_name FROM matchauto.users WHERE id = 2");
  expect(rows).toEqual([{ display_name: "X" }]);
});

it("after the final cut (the stack's phase), the applier says it keeps rows the new store changed since", async () => {
  const dir = scratchMatchauto("capture-cut", "final-cut");
  await legacy.query("UPDATE users SET full_name = 'Late', updated_at = now() WHERE id = 1");
  const r = await runCutover(
    ["data", "capture", "run", ...stackArgs, "--store", "supabase", "--json"],
    env(),
    dir,
  );
  expect(r.stderr).toContain(
    "capture: after the final cut: a row the new store changed after its legacy change is kept as it is",
  );
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout)).toMatchObject({ pending: 0, kept: 0, upserts: 1 });
});

it("a TRUNCATE stops the applier with what to do, and nothing is removed from the log", async () => {
  const source = await connectSource(server.url);
  try {
    await legacy.query("TRUNCATE favorites");
    const r = await run(["data", "capture", "run", ...stackArgs, "--store", "supabase"]);
    expect(r.stderr).toContain("capture: legacy table favorites was truncated");
    expect(r.stderr).toContain("hint: truncate the table in its new store too");
    expect(r.status).toBe(2);
    expect((await backlog(source)).perTable.favorites).toBeGreaterThan(0);
  } finally {
    await source.end();
  }
});

it("refuses to run where capture was never installed, naming the tables", async () => {
  const r = spawnSync(TSX, [CUTOVER, "data", "capture", "run", ...stackArgs, "--store", "supabase"], {
    cwd: ROOT,
    env: { ...env(), LEGACY_DATABASE_URL: server.urlFor("target") },
    encoding: "utf8",
  });
  expect(r.stderr).toContain(
    "capture: change capture is not installed on users, vehicles, listings, listing_photos, favorites",
  );
  expect(r.status).toBe(2);
});
