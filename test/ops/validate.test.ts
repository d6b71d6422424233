import { Client } from "pg";
import { startPostgres, type PgServer } from "../support/postgres";
import * as fs from "node:fs";
import * as path from "node:path";
import { evidenceProblem } from "../../infra/evidence";
import { scratchDir } from "../support/scratch";
import { runValidate, startValidate } from "./validate-cli";

const ROOT = path.resolve(__dirname, "../..");

jest.setTimeout(120_000);

const SHOP = `
  CREATE TABLE "Shop" (id bigint PRIMARY KEY, name text, price numeric(12,2), active boolean,
                       meta jsonb, "createdAt" timestamptz);
  INSERT INTO "Shop" SELECT g, 'shop ' || g, g * 1.25, g % 2 = 0, jsonb_build_object('n', g, 'tags', jsonb_build_array('a', g)),
                            timestamptz '2026-01-01 00:00:00+00' + g * interval '1 second'
  FROM generate_series(1, 100000) g;`;
const REEL = `
  CREATE TABLE "Reel" (id uuid PRIMARY KEY, title text, views int);
  INSERT INTO "Reel" SELECT md5(g::text)::uuid, CASE WHEN g % 3 = 0 THEN '' WHEN g % 3 = 1 THEN NULL ELSE 'ñandú 😀 ' || g END, g
  FROM generate_series(1, 2000) g;`;
const CHAT = `
  CREATE TABLE "ChatMessage" ("conversationId" text, seq int, body text, PRIMARY KEY ("conversationId", seq));
  INSERT INTO "ChatMessage" SELECT 'conv-' || (g / 100), g % 100, 'hello ' || g FROM generate_series(1, 5000) g;`;
const AUDIT = `CREATE TABLE "AuditLog" (at timestamptz, what text);
  INSERT INTO "AuditLog" SELECT timestamptz '2026-01-01' + g * interval '1 minute', 'event ' || g FROM generate_series(1, 300) g;`;

async function exec(url: string, sql: string): Promise<void> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

describe("cutover check validate — PostgreSQL ↔ PostgreSQL", () => {
  let source: PgServer;
  let target: PgServer;
  beforeAll(async () => {
    [source, target] = await Promise.all([
      startPostgres({ password: "src-S3cret!" }),
      startPostgres({ password: "tgt-S3cret!" }),
    ]);
    await Promise.all([source, target].map((s) => exec(s.url, SHOP + REEL + CHAT + AUDIT)));
    await exec(
      target.url,
      `DELETE FROM "Shop" WHERE id = 4242;
       INSERT INTO "Shop" (id, name) VALUES (100001, 'planted');
       UPDATE "Shop" SET name = 'shop 77777 edited' WHERE id = 77777;
       UPDATE "ChatMessage" SET body = '' WHERE "conversationId" = 'conv-17' AND seq = 3;
       CREATE TABLE "Stream" (id int PRIMARY KEY);`,
    );
  });
  afterAll(async () => {
    await Promise.all([source?.stop(), target?.stop()]);
  });

  const urls = () => ["--source", source.url, "--target", target.url];
  const noSecrets = (text: string) => {
    expect(text).not.toContain("src-S3cret!");
    expect(text).not.toContain("tgt-S3cret!");
    expect(text).not.toContain(encodeURIComponent("src-S3cret!"));
  };

  it("exits 0 on identical tables (uuid keys, NULL vs empty, Unicode) and masks the URLs", async () => {
    const r = await runValidate([...urls(), "--tables", "Reel"]);
    expect(r.stdout).toMatch(/^Reel: OK \(rows 2000 = 2000; content equal by checksums over key ranges\)$/m);
    expect(r.stdout).toContain(`source postgres://postgres:***@127.0.0.1:${source.port}/postgres`);
    expect(r.stdout).toMatch(/Result: IDENTICAL \(1 table\)/);
    expect(r.code).toBe(0);
    noSecrets(r.stdout + r.stderr);
  });

  it("reports exactly the missing, extra and changed keys of a 100k-row table and exits 1", async () => {
    const r = await runValidate([...urls(), "--tables", "Shop", "--json", "--segment-rows", "25000"]);
    const report = JSON.parse(r.stdout);
    const shop = report.tables[0];
    expect(shop.counts).toEqual({ source: 100000, target: 100000 });
    expect(shop.differences).toEqual({ missing: ["id=4242"], extra: ["id=100001"], changed: ["id=77777"] });
    expect(shop.totals).toEqual({ missing: 1, extra: 1, changed: 1 });
    expect(report.identical).toBe(false);
    expect(report.passed).toBe(false);
    expect(r.code).toBe(1);
    noSecrets(r.stdout + r.stderr);
  });

  it("prints one verdict line per table and the keys in text mode", async () => {
    // A table only the target has, or none has, cannot be validated: exit 2, the tables named.
    const absent = await runValidate([...urls(), "--tables", "Shop,Stream,Nope"]);
    expect(absent.code).toBe(2);
    expect(absent.stdout).toMatch(/ERROR: could not validate Stream, Nope: not found on the source/);
    expect(absent.stdout).toContain("Result: FAILED (validation did not finish)");
    const r = await runValidate([...urls(), "--tables", "Shop,ChatMessage,AuditLog,Stream,Nope"]);
    expect(r.stdout).toContain(
      "Shop: DIFFERENT (rows 100000 = 100000; 1 missing on target, 1 extra on target, 1 changed)",
    );
    expect(r.stdout).toContain(
      "  missing on target: id=4242\n  extra on target: id=100001\n  changed: id=77777",
    );
    // composite key, text column first: row-value comparison and byte-wise order on both sides
    expect(r.stdout).toContain(
      "ChatMessage: DIFFERENT (rows 5000 = 5000; 1 changed)\n  changed: (conversationId=conv-17, seq=3)",
    );
    expect(r.stdout).toContain("AuditLog: OK (rows 300 = 300; content equal by whole-table checksum)");
    expect(r.stdout).toContain("  note: no primary key: compared by a whole-table checksum only");
    expect(r.stdout).toContain("Stream: DIFFERENT (table not found on the source");
    expect(r.stdout).toContain("Nope: DIFFERENT (table not found on the source");
    expect(r.code).toBe(2);
  });

  it("checks a random sample with --sample", async () => {
    const same = await runValidate([...urls(), "--tables", "Reel", "--sample", "50", "--json"]);
    expect(JSON.parse(same.stdout).passed).toBe(true);
    expect(JSON.parse(same.stdout).tables[0]).toMatchObject({
      method: "sample",
      identical: true,
      sampled: 50,
    });
    expect(same.code).toBe(0);
    // A sample as large as the table holds every source row: it sees the missing and changed rows,
    // but never extra ones (it is drawn from the source).
    const all = await runValidate([...urls(), "--tables", "Shop", "--sample", "200000", "--json"]);
    const shop = JSON.parse(all.stdout).tables[0];
    expect(shop).toMatchObject({ method: "sample", sampled: 100000 });
    expect(shop.differences).toEqual({ missing: ["id=4242"], extra: [], changed: ["id=77777"] });
    expect(all.code).toBe(1);
  });

  it("writes gate evidence the phase command accepts, and only a pass counts", async () => {
    const dir = scratchDir("evidence");
    fs.copyFileSync(path.join(ROOT, "Pulumi.staging.yaml"), path.join(dir, "Pulumi.staging.yaml"));
    const args = [...urls(), "--stack", "staging", "--migration", "avvivo", "--tables", "Reel", "--evidence"];
    const r = await runValidate(args, {}, dir);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(
      `validate: evidence written to ${path.join(dir, "evidence/staging/avvivo/validate.json")}`,
    );
    const want = {
      stack: "staging",
      migration: "avvivo",
      check: "validate" as const,
      attempt: 1,
      maxAgeHours: 24,
      now: new Date(),
    };
    expect(evidenceProblem(dir, { ...want, position: "baseline" })).toBeUndefined();
    const written = JSON.parse(
      fs.readFileSync(path.join(dir, "evidence/staging/avvivo/validate.json"), "utf8"),
    );
    // What it was taken against: each side's address and cluster, the tables and their rows; no credentials.
    const identity = async (url: string) => {
      const c = new Client({ connectionString: url });
      await c.connect();
      try {
        return (await c.query("SELECT system_identifier::text AS id FROM pg_control_system()")).rows[0].id;
      } finally {
        await c.end();
      }
    };
    const side = (url: string) => {
      const u = new URL(url);
      return { host: u.hostname, port: Number(u.port), database: u.pathname.slice(1) };
    };
    const reelRows = Number(
      JSON.parse((await runValidate([...urls(), "--tables", "Reel", "--json"])).stdout).tables[0].counts
        .source,
    );
    expect(written).toMatchObject({
      passed: true,
      position: "baseline",
      summary: "1 table(s) identical: Reel",
      endpoints: [
        { role: "source", ...side(source.url), systemIdentifier: await identity(source.url) },
        { role: "target", ...side(target.url), systemIdentifier: await identity(target.url) },
      ],
      tables: [{ name: "Reel", rows: reelRows }],
    });
    expect(reelRows).toBeGreaterThan(0);
    expect(written).not.toHaveProperty("store"); // a cloudsql migration's validation is one file
    noSecrets(JSON.stringify(written));
    // A run that could not validate (a target that refuses the connection) leaves the passing file alone.
    const before = fs.readFileSync(path.join(dir, "evidence/staging/avvivo/validate.json"), "utf8");
    const broken = await runValidate(
      [
        ...["--source", urls()[1], "--target", "postgres://u:Bad-Pass-31@127.0.0.1:1/none"],
        ...["--stack", "staging", "--migration", "avvivo", "--tables", "Reel", "--evidence"],
      ],
      {},
      dir,
    );
    expect(broken.code).toBe(2);
    expect(broken.stderr).toContain("validate: no evidence written: the validation did not finish");
    expect(fs.readFileSync(path.join(dir, "evidence/staging/avvivo/validate.json"), "utf8")).toBe(before);
    const differ = await runValidate(
      [...urls(), "--stack", "staging", "--migration", "avvivo", "--tables", "Shop", "--evidence"],
      {},
      dir,
    );
    expect(differ.code).toBe(1);
    expect(evidenceProblem(dir, { ...want, position: "baseline" })).toContain(
      "the last validate did not pass",
    );
  });

  it("reads the tables from the stack config", async () => {
    const r = await runValidate([...urls(), "--stack", "staging", "--migration", "avvivo", "--json"]);
    const tables = JSON.parse(r.stdout).tables.map((t: { table: string }) => t.table);
    expect(tables).toEqual([
      "Shop",
      "Stream",
      "Reel",
      "QuotaWallet",
      "PurchaseRequest",
      "ChatConversation",
      "ChatMessage",
    ]);
    const bad = await runValidate([...urls(), "--stack", "staging", "--migration", "nope"]);
    expect(bad.stderr).toContain('Pulumi.staging.yaml has no migration "nope" under cutover:migrations');
    expect(bad.stderr).toContain("hint: migrations here are avvivo, matchauto");
    expect(bad.code).toBe(2);
  });

  it("fails clearly on a wrong password, a closed port and bad input, without printing secrets", async () => {
    const wrong = await runValidate([
      "--source",
      source.url.replace("src-S3cret!", "wrong-pass"),
      "--target",
      target.url,
      "--tables",
      "Shop",
    ]);
    expect(wrong.stdout).toContain("ERROR: cannot connect to postgres://postgres:***@127.0.0.1");
    expect(wrong.stdout).toContain("password authentication failed");
    expect(wrong.code).toBe(2);
    noSecrets(wrong.stdout + wrong.stderr);
    expect(wrong.stdout + wrong.stderr).not.toContain("wrong-pass");

    const closed = await runValidate([
      "--source",
      "postgres://u:pw@127.0.0.1:1/db",
      "--target",
      target.url,
      "--tables",
      "Shop",
    ]);
    expect(closed.stdout).toContain("connection refused");
    expect(closed.stdout).toContain("hint: is the server running and the port right?");
    expect(closed.code).toBe(2);

    const none = await runValidate(urls());
    expect(none.stderr).toContain("validate: which tables? none were given");
    expect(none.stderr).toContain("hint: pass --tables A,B, or --stack <stack> --migration <name>");
    expect(none.code).toBe(2);

    const bad = await runValidate(["--target", "mysql://x"], { SOURCE_DATABASE_URL: source.url });
    expect(bad.stderr).toContain('validate: --target: cannot read "mysql://x"');
    expect(bad.code).toBe(2);
  });

  it("reports a server killed mid-run, once it gave up reconnecting, as a clear error and exits 2", async () => {
    // Hold a lock so the run is provably in the middle (blocked on the target) when the server dies.
    const locker = new Client({ connectionString: target.url });
    locker.on("error", () => undefined);
    await locker.connect();
    await locker.query(`BEGIN; LOCK TABLE "Shop" IN ACCESS EXCLUSIVE MODE`);
    const run = startValidate([...urls(), "--tables", "Reel,Shop", "--give-up-after", "2"]);
    const watcher = new Client({ connectionString: target.url });
    await watcher.connect();
    let blocked = false;
    for (let i = 0; i < 200 && !blocked; i++) {
      const { rows } = await watcher.query(
        `SELECT 1 FROM pg_stat_activity WHERE application_name = 'cutover-validate' AND wait_event_type = 'Lock'`,
      );
      blocked = rows.length > 0;
      if (!blocked) await new Promise((r) => setTimeout(r, 100));
    }
    await watcher.end();
    // The run must be waiting on the lock when the server dies, or this test proves nothing.
    expect(blocked).toBe(true);
    await target.kill();
    const r = await run.done;
    expect(r.stdout).toContain("Reel: OK");
    expect(r.stdout).toMatch(
      /ERROR: gave up reconnecting to .* after [23] s: postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/postgres: connection refused|ERROR: gave up reconnecting to .* after [23] s: .*connect/,
    );
    expect(r.stderr).toMatch(/validate: connection to .* lost \(.*Shop: connection lost.*\); reconnecting/);
    expect(r.stdout).toContain("hint: bring the server back and run validate again");
    expect(r.stdout).toContain("Result: FAILED (validation did not finish)");
    expect(r.code).toBe(2);
    noSecrets(r.stdout + r.stderr);
  });
});
