/**
 * The new Supabase schema and its backfill, as an operator runs them: `schema:migrate` (dry run, apply,
 * re-run) then `backfill --store supabase` from a real legacy PostgreSQL into a real target PostgreSQL
 * with the stack's column mapping, killed mid-run with SIGKILL and resumed, then incremental.
 */
import { spawn } from "node:child_process";
import * as path from "node:path";
import { Client } from "pg";
import { startPostgres, type PgServer } from "../support/postgres";
import { runCutover, CUTOVER } from "../support/cli";
import {
  EXPECTED_NEW,
  insertRelational,
  RELATIONAL_SCHEMA,
  textRows,
  USERS_TABLE,
} from "./backfill/relational-fixture";
import { backfillPgTable, planPgTable, type PgTableSpec } from "../../ops/backfill/pg-target";
import { connectSource } from "../../ops/backfill/source";

jest.setTimeout(300_000);

const ROOT = path.resolve(__dirname, "../..");
const TSX = path.join(ROOT, "node_modules/.bin/tsx");
const USERS = 2000;
let server: PgServer;
let legacy: Client;
let target: Client;

const env = (): NodeJS.ProcessEnv => ({
  ...process.env,
  LEGACY_DATABASE_URL: server.url,
  TARGET_DATABASE_URL: server.urlFor("target"),
});

/** `cutover <args>` as the operator runs it, with this suite's connections. */
async function run(args: string[], extra: NodeJS.ProcessEnv = {}) {
  const r = await runCutover(args, { ...env(), ...extra });
  return { status: r.code, stdout: r.stdout, stderr: r.stderr };
}

const stackArgs = ["--stack", "staging", "--migration", "matchauto"];
const backfillArgs = [...stackArgs, "--store", "supabase", "--settle-seconds", "0"];

async function expectCopiesEqual(): Promise<void> {
  for (const [table, { legacy: l, target: t }] of Object.entries(EXPECTED_NEW)) {
    const want = await textRows(legacy, l);
    const got = await textRows(target, t);
    expect({ table, rows: got.length }).toEqual({ table, rows: want.length });
    expect(got).toEqual(want);
  }
}

beforeAll(async () => {
  server = await startPostgres();
  legacy = new Client({ connectionString: server.url });
  await legacy.connect();
  await legacy.query(RELATIONAL_SCHEMA);
  await insertRelational(legacy, USERS);
  await legacy.query("CREATE DATABASE target");
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

describe("schema:migrate", () => {
  it("--dry-run prints the pending SQL and changes nothing", async () => {
    const r = await run(["data", "schema", ...stackArgs, "--dry-run"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("-- 2 pending migration(s) for schema matchauto; nothing was changed");
    expect(r.stdout).toContain("CREATE TABLE users (");
    expect(r.stdout).toContain("CREATE TABLE _cutover_backfill (");
    const { rows } = await target.query(
      "SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = 'matchauto'",
    );
    expect(rows[0].n).toBe(0);
  });

  it("applies the migrations once and records them; a re-run is a no-op", async () => {
    const first = await run(["data", "schema", ...stackArgs]);
    expect(first.stdout).toContain(
      "applied 2 migration(s) to schema matchauto: 20261202000000000_matchauto_tables, 20261202000001000_backfill_checkpoint",
    );
    expect(first.status).toBe(0);
    const again = await run(["data", "schema", ...stackArgs, "--json"]);
    expect(again.status).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({
      schema: "matchauto",
      dryRun: false,
      applied: [],
      recorded: ["20261202000000000_matchauto_tables", "20261202000001000_backfill_checkpoint"],
    });
    const dry = await run(["data", "schema", ...stackArgs, "--dry-run"]);
    expect(dry.stdout).toContain("schema matchauto is up to date (2 migration(s) applied); nothing to do");
    const { rows } = await target.query(
      "SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'matchauto'",
    );
    expect(rows[0].n).toBe(7); // five tables, the checkpoint and the migrations record
  });

  it("says where the target is expected when nothing names it, and never prints a password", async () => {
    const r = await run(["data", "schema", ...stackArgs], {
      TARGET_DATABASE_URL: "",
      TARGET_DATABASE_PASSWORD: "",
    });
    expect(r.stderr).toContain(
      "cutover data schema: no target database; hint: export TARGET_DATABASE_URL=postgres://… (or pass --target)",
    );
    expect(r.status).toBe(2);
    const bad = await run(["data", "schema", ...stackArgs], {
      TARGET_DATABASE_URL: `postgres://u:Sup3rSecretPw@127.0.0.1:${new URL(server.url).port}/nosuchdb`,
    });
    // A target that refuses the user is an endpoint the command cannot use: exit 2, the side named.
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(
      /cutover data schema: the target database at 127\.0\.0\.1:\d+ refused the password of user u/,
    );
    expect(bad.stderr + bad.stdout).not.toContain("Sup3rSecretPw");
  });
});

describe("backfill into the new schema", () => {
  it("refuses a mapping that names a legacy column that does not exist, saying where", async () => {
    const source = await connectSource(server.url);
    try {
      // The users table's spec with its one renamed column misspelt.
      const spec: PgTableSpec = { ...USERS_TABLE, columns: { display_name: "fullname" } };
      await expect(planPgTable(source, target, spec)).rejects.toThrow(
        "tables[users].columns maps display_name ← fullname, but legacy public.users has no column fullname; hint: the values are legacy column names",
      );
      await expect(planPgTable(source, target, { ...spec, columns: undefined })).rejects.toThrow(
        "matchauto.users.display_name has no legacy column display_name and no default",
      );
      await expect(planPgTable(source, target, { ...spec, targetName: "members" })).rejects.toThrow(
        "table matchauto.members does not exist in the new schema; hint: cutover data schema",
      );
    } finally {
      await source.end();
    }
  });

  it("killed mid-run resumes from its checkpoint: every row once, with the stack's mapping", async () => {
    const child = spawn(TSX, [CUTOVER, "data", "backfill", ...backfillArgs, "--batch-rows", "20"], {
      cwd: ROOT,
      env: env(),
      detached: true,
    });
    let stderr = "";
    await new Promise<void>((resolve, reject) => {
      child.stderr!.on("data", (d: Buffer) => {
        stderr += d.toString();
        if (/vehicles: \d+\/\d+ rows/.test(stderr)) resolve();
      });
      child.on("exit", () => reject(new Error(`backfill ended before it could be interrupted: ${stderr}`)));
    });
    process.kill(-child.pid!, "SIGKILL");
    await new Promise((r) => child.once("exit", r));

    const resumed = await run(["data", "backfill", ...backfillArgs, "--json"]);
    expect(resumed.stderr).not.toContain("Error");
    expect(resumed.status).toBe(0);
    const report = JSON.parse(resumed.stdout) as {
      tables: { table: string; store: string; copied: number; resumedFrom: unknown; pending: number }[];
    };
    const byTable = Object.fromEntries(report.tables.map((t) => [t.table, t]));
    expect(report.tables.every((t) => t.store === "supabase")).toBe(true);
    expect(byTable.users).toMatchObject({ copied: 0, pending: 0 }); // finished before the kill
    expect(byTable.vehicles.resumedFrom).not.toBeNull();
    expect(byTable.vehicles.copied).toBeLessThan(USERS);
    expect(byTable.listing_photos.copied).toBeGreaterThan(0); // not finished when the kill came

    // rows_copied adds up over both runs: exactly the table's size means no page was committed twice.
    const { rows } = await target.query(
      "SELECT table_name, rows_copied::int AS n FROM matchauto._cutover_backfill",
    );
    expect(Object.fromEntries(rows.map((r) => [r.table_name, r.n]))).toEqual({
      users: USERS,
      vehicles: USERS,
      listings: USERS,
      listing_photos: 2 * USERS,
      favorites: USERS,
    });
    await expectCopiesEqual();
  });

  it("a later run copies only rows changed since the watermark, updating them in place", async () => {
    await legacy.query(
      "UPDATE public.users SET full_name = 'Renomeado', updated_at = now() WHERE id IN (3, 4); UPDATE public.listings SET status = 'sold', price = 99.99, updated_at = now() WHERE id = 5",
    );
    const source = await connectSource(server.url);
    try {
      const users = await backfillPgTable(source, target, USERS_TABLE, { batchRows: 1000, settleSeconds: 0 });
      expect(users).toMatchObject({ copied: 2, pending: 0 });
      expect(users.resumedFrom).toBeDefined();
    } finally {
      await source.end();
    }
    const again = await run(["data", "backfill", ...backfillArgs, "--tables", "listings,users"]);
    expect(again.status).toBe(0);
    expect(again.stdout).toMatch(/listings: 1 rows copied \(after /);
    expect(again.stdout).toMatch(/users: 0 rows copied \(after /);
    await expectCopiesEqual();
  });

  it("names the store and the fix when a run mixes stores without saying where D1 is", async () => {
    const r = await run(["data", "backfill", ...stackArgs, "--settle-seconds", "0"]);
    expect(r.stderr).toContain(
      "backfill: the migration has D1 tables: choose --local or --remote for them; hint: or pass --store supabase",
    );
    expect(r.status).toBe(2);
    const unknown = await run(["data", "backfill", ...backfillArgs, "--tables", "cities"]);
    expect(unknown.stderr).toContain(
      "not a table of this migration stored in the new schema: cities; hint: one of users, vehicles, listings, listing_photos, favorites",
    );
    expect(unknown.status).toBe(2);
  });
});
