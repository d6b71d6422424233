import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { Client } from "pg";
import { startPostgres, type PgServer } from "../support/postgres";
import { runValidate } from "./validate-cli";
import { gateStatus, readEvidence } from "../../infra/evidence";
import { loadMigration } from "../../tooling/stack-file";
import { scratchMatchauto } from "../support/stack";
import { writeWranglerConfig } from "../../ops/backfill/wrangler-config";

jest.setTimeout(180_000);

const PG_SQL = `
  CREATE TABLE "Shop" (id bigint PRIMARY KEY, name text, price numeric(12,2), active boolean, meta jsonb,
                       "createdAt" timestamptz, "updatedAt" timestamp(3), rating double precision, logo bytea, tags text[]);
  INSERT INTO "Shop" VALUES
    (1, 'ñandú 😀', 19.90, true, '{"b": 1, "a": [1.50, "x"]}', '2026-03-01 12:34:56.789+02', '2026-03-01 10:00:00.5', 4.5, '\\x00ff', '{a,b}'),
    (2, '', 0, false, '{}', '2026-01-01 00:00:00+00', NULL, 0.1, NULL, '{}'),
    (3, NULL, 100000000.00, NULL, NULL, NULL, '2026-02-02 02:02:02', NULL, '\\x', NULL),
    (4, 'changed later', 1.25, true, '{"k": "v"}', '2026-01-01 00:00:00+00', NULL, 1, NULL, NULL);
  INSERT INTO "Shop" (id, name) SELECT g, 'shop ' || g FROM generate_series(5, 3000) g;
  CREATE TABLE "ChatMessage" ("conversationId" text, seq int, body text, PRIMARY KEY ("conversationId", seq));
  INSERT INTO "ChatMessage" SELECT 'conv-' || (g / 10), g % 10, 'hi ' || g FROM generate_series(1, 200) g;`;

/** The same data as a backfill would write it to D1: 1/0 booleans, ISO or epoch times, JSON text, blobs. */
function d1Sql(): string {
  const rows = [
    `(1, 'ñandú 😀', 19.9, 1, '{"a":[1.50,"x"],"b":1}', '2026-03-01T10:34:56.789Z', '2026-03-01 10:00:00.500', 4.5, x'00ff', '["a","b"]')`,
    `(2, '', 0, 0, '{}', 1767225600000, NULL, 0.1, NULL, '[]')`,
    `(3, NULL, '100000000', NULL, NULL, NULL, '2026-02-02T02:02:02Z', NULL, x'', NULL)`,
    `(4, 'changed later!', 1.25, 1, '{"k":"v"}', '2026-01-01T00:00:00Z', NULL, 1, NULL, NULL)`,
  ];
  const lines = [
    `CREATE TABLE "Shop" (id INTEGER PRIMARY KEY, name TEXT, price REAL, active INTEGER, meta TEXT, "createdAt",
       "updatedAt" TEXT, rating REAL, logo BLOB, tags TEXT);`,
    `INSERT INTO "Shop" VALUES ${rows.join(", ")};`,
    `WITH RECURSIVE g(n) AS (SELECT 5 UNION ALL SELECT n + 1 FROM g WHERE n < 3000)
       INSERT INTO "Shop" (id, name) SELECT n, 'shop ' || n FROM g WHERE n <> 2999;`,
    `INSERT INTO "Shop" (id, name) VALUES (3001, 'only in D1');`,
    `CREATE TABLE "ChatMessage" ("conversationId" TEXT, seq INTEGER, body TEXT, PRIMARY KEY ("conversationId", seq));`,
    `WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 200)
       INSERT INTO "ChatMessage" SELECT 'conv-' || (n / 10), n % 10, 'hi ' || n FROM g;`,
  ];
  return lines.join("\n");
}

describe("cutover check validate — PostgreSQL ↔ local D1", () => {
  let pg: PgServer;
  let dir: string;
  let target: string;
  beforeAll(async () => {
    dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), "validate-d1-"));
    const config = path.join(dir, "wrangler.json");
    await fs.promises.writeFile(
      config,
      JSON.stringify({
        name: "t",
        compatibility_date: "2025-01-01",
        d1_databases: [
          { binding: "EDGE_DB", database_name: "edge", database_id: "0b1e0c1a-2222-4333-8444-555566667777" },
        ],
      }),
    );
    await fs.promises.writeFile(path.join(dir, "seed.sql"), d1Sql());
    const persist = path.join(dir, "state");
    const wrangler = path.resolve(__dirname, "../../node_modules/.bin/wrangler");
    const seeding = promisify(execFile)(
      wrangler,
      [
        "d1",
        "execute",
        "edge",
        "--local",
        "--persist-to",
        persist,
        "--config",
        config,
        "--file",
        path.join(dir, "seed.sql"),
      ],
      { cwd: dir },
    );
    pg = await startPostgres();
    const client = new Client({ connectionString: pg.url });
    await client.connect();
    await client.query(PG_SQL);
    await client.end();
    await seeding;
    target = `d1:local:edge?persist=${persist}&config=${config}`;
  });
  afterAll(async () => {
    await pg?.stop();
    if (dir) await fs.promises.rm(dir, { recursive: true, force: true });
  });

  it("compares equal data equal across engines and finds the planted differences", async () => {
    const r = await runValidate([
      "--source",
      pg.url,
      "--target",
      target,
      "--tables",
      "Shop,ChatMessage",
      "--json",
    ]);
    const [shop, chat] = JSON.parse(r.stdout).tables;
    expect(shop.counts).toEqual({ source: 3000, target: 3000 });
    // rows 1-3 hold every type case and compare equal; row 4 differs in one character
    expect(shop.differences).toEqual({ missing: ["id=2999"], extra: ["id=3001"], changed: ["id=4"] });
    expect(chat).toMatchObject({
      identical: true,
      method: "checksum-bisection",
      counts: { source: 200, target: 200 },
    });
    expect(r.code).toBe(1);
  });

  it("a dual-write migration's evidence is one file per store, each saying what it was taken against", async () => {
    const work = scratchMatchauto("validate-stores", "dual-write");
    const common = [
      "--source",
      pg.url,
      "--stack",
      "staging",
      "--migration",
      "matchauto",
      "--tables",
      "ChatMessage",
    ];
    const d1 = await runValidate([...common, "--target", target, "--evidence"], {}, work);
    expect(d1.code).toBe(0);
    const pgSide = await runValidate(
      [...common, "--target", pg.url, "--target-schema", "public", "--evidence"],
      {},
      work,
    );
    expect(pgSide.code).toBe(0);
    const read = (store: string) => readEvidence(work, "staging", "matchauto", "validate", store);
    expect(read("d1")).toMatchObject({
      evidence: {
        store: "d1",
        endpoints: [
          { role: "source", host: "127.0.0.1" },
          { role: "target", host: "d1-local", port: 0, database: "edge" },
        ],
        tables: [{ name: "ChatMessage", rows: 200 }],
      },
    });
    expect(read("supabase")).toMatchObject({ evidence: { store: "supabase" } });
    // Neither opens the read switch: the local D1 is not the stack's, and 1 table is not the store's 2 or 5.
    const gates = gateStatus(work, {
      stack: "staging",
      migration: "matchauto",
      spec: loadMigration("staging", "matchauto", { dir: work }),
      from: { phase: "dual-write", attempt: 1 },
      to: { phase: "read-switch", attempt: 1, percent: 10 },
      ctx: { kind: "dual-write", ramp: [10, 50, 100], route: undefined },
      now: new Date(),
    });
    const problems = Object.fromEntries(
      gates.map((g) => [`${g.check}${g.store ? `.${g.store}` : ""}`, g.problem]),
    );
    expect(problems["validate.d1"]).toBe(
      "the validate (d1) evidence was taken against source 127.0.0.1:" +
        new URL(pg.url).port +
        "/" +
        new URL(pg.url).pathname.slice(1) +
        ", not this stack's db.kwmfyzrtbnqhlpcx.supabase.co:5432/postgres",
    );
    expect(gates.map((g) => g.command)).toContain(
      "cutover check validate --stack staging --migration matchauto --target d1:remote:<accountId>/<databaseId> --evidence",
    );
  });

  it("exits 0 when everything matches, and checks a sample", async () => {
    const r = await runValidate(["--source", pg.url, "--target", target, "--tables", "ChatMessage"]);
    expect(r.stdout).toContain(
      "ChatMessage: OK (rows 200 = 200; content equal by checksums over key ranges)",
    );
    expect(r.code).toBe(0);
    const s = await runValidate([
      "--source",
      pg.url,
      "--target",
      target,
      "--tables",
      "ChatMessage",
      "--sample",
      "20",
    ]);
    expect(s.stdout).toContain("ChatMessage: OK (rows 200 = 200; content equal by sample of 20 rows)");
    expect(s.code).toBe(0);
  });

  it("opens the local database the cutover commands wrote, and says so when the one named is empty", async () => {
    // Written as cutover data d1-schema and data backfill write it: their own config (id local-<name>).
    const state = path.join(dir, "commands-state");
    const config = writeWranglerConfig(path.join(dir, "commands"), [{ name: "edge", binding: "EDGE_DB" }]);
    await promisify(execFile)(
      path.resolve(__dirname, "../../node_modules/.bin/wrangler"),
      [
        "d1",
        "execute",
        "edge",
        "--local",
        "--persist-to",
        state,
        "--config",
        config,
        "--file",
        path.join(dir, "seed.sql"),
      ],
      { cwd: dir },
    );
    const r = await runValidate([
      ...["--source", pg.url, "--target", `d1:local:edge?persist=${state}`, "--tables", "Shop", "--json"],
    ]);
    expect(JSON.parse(r.stdout).tables[0].counts).toEqual({ source: 3000, target: 3000 });
    // The state this file's own config wrote is keyed by another id: by name alone, an empty database.
    const other = await runValidate([
      ...[
        "--source",
        pg.url,
        "--target",
        `d1:local:edge?persist=${path.join(dir, "state")}`,
        "--tables",
        "Shop",
      ],
    ]);
    expect(other.code).toBe(2);
    expect(other.stdout).toContain("has no tables: nothing wrote it there");
  });

  it("refuses a local D1 path without state, and a remote D1 without a token", async () => {
    const r = await runValidate([
      "--source",
      pg.url,
      "--target",
      `d1:local:edge?persist=${dir}/nowhere`,
      "--tables",
      "cities",
    ]);
    expect(r.stdout).toContain(`no local D1 state under ${dir}/nowhere`);
    expect(r.code).toBe(2);
    const remote = await runValidate([
      "--source",
      pg.url,
      "--target",
      "d1:remote:0123456789abcdef0123456789abcdef/0b1e0c1a-2222-4333-8444-555566667777",
      "--tables",
      "cities",
    ]);
    expect(remote.stdout).toContain("CLOUDFLARE_API_TOKEN is not set");
    expect(remote.code).toBe(2);
  });
});
