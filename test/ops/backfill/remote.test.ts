/**
 * The remote target through the official `cloudflare` client. Cloudflare's API cannot be reached from
 * tests, so a stand-in answers its D1 routes (list, query with batch) by running each statement on a
 * real local D1: the requests the client builds are checked end to end against real SQL semantics.
 */
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { Client } from "pg";
import { startPostgres, type PgServer } from "../../support/postgres";
import { backfillTable } from "../../../ops/backfill/run";
import { connectSource } from "../../../ops/backfill/source";
import { resolveTarget } from "../../../ops/backfill/target-options";
import { openLocalTarget, openRemoteTarget, type D1Target } from "../../../ops/backfill/targets";
import { applyD1Migrations, insertCities, LEGACY_SCHEMA } from "./legacy-fixture";

jest.setTimeout(120_000);

const ACCOUNT = "5f2c8e1a9b7d4c3e8a6f0b1d2e9c7a4b";
const TOKEN = "test-token-5d1c";
const DB_ID = "0b6f7a0e-1111-4222-8333-944455556666";
let server: PgServer;
let source: Client;
let backing: D1Target;
let api: http.Server;
let workDir: string;
const batchSizes: number[] = [];

type QueryBody = { sql?: string; params?: string[]; batch?: { sql: string; params?: string[] }[] };

async function handle(req: http.IncomingMessage, body: string): Promise<[number, unknown]> {
  if (req.headers.authorization !== `Bearer ${TOKEN}`)
    return [401, { success: false, errors: [{ code: 10000, message: "Authentication error" }] }];
  const url = new URL(req.url!, "http://x");
  const base = `/client/v4/accounts/${ACCOUNT}/d1/database`;
  if (req.method === "GET" && url.pathname === base) {
    const all = [{ uuid: DB_ID, name: "matchauto-edge-staging" }];
    const result = all.filter((d) => d.name === url.searchParams.get("name"));
    return [
      200,
      {
        success: true,
        errors: [],
        messages: [],
        result,
        result_info: { page: 1, per_page: 20, count: result.length, total_count: result.length },
      },
    ];
  }
  if (req.method === "POST" && url.pathname === `${base}/${DB_ID}/query`) {
    const q = JSON.parse(body) as QueryBody;
    const queries = q.batch ?? [{ sql: q.sql!, params: q.params }];
    if (q.batch) batchSizes.push(q.batch.length);
    const result = [];
    if (queries.some((one) => one.sql.includes("/* reject */"))) {
      return [
        200,
        { success: true, errors: [], messages: [], result: [{ success: false, results: [], meta: {} }] },
      ];
    }
    for (const one of queries) {
      try {
        result.push({ results: await backing.all(one.sql, one.params ?? []), success: true, meta: {} });
      } catch (error) {
        return [
          400,
          { success: false, errors: [{ code: 7500, message: String(error) }], messages: [], result: [] },
        ];
      }
    }
    return [200, { success: true, errors: [], messages: [], result }];
  }
  return [404, { success: false, errors: [{ code: 7003, message: "no route" }] }];
}

beforeAll(async () => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), "cutover-remote-"));
  process.chdir(workDir);
  server = await startPostgres();
  const pg = new Client({ connectionString: server.url });
  await pg.connect();
  await pg.query(LEGACY_SCHEMA);
  await insertCities(pg, 1, 120);
  await pg.end();
  source = await connectSource(server.url);
  backing = await openLocalTarget({ name: "stand-in", binding: "EDGE_DB" }, path.join(workDir, "state"));
  await applyD1Migrations(backing);
  api = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      handle(req, body).then(([status, json]) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(json));
      });
    });
  });
  await new Promise<void>((r) => api.listen(0, "127.0.0.1", r));
  process.env.CLOUDFLARE_BASE_URL = `http://127.0.0.1:${(api.address() as AddressInfo).port}/client/v4`;
});

afterAll(async () => {
  delete process.env.CLOUDFLARE_BASE_URL;
  api?.closeAllConnections();
  api?.close();
  await backing?.close();
  await source?.end();
  await server?.stop();
  process.chdir(path.resolve(__dirname, "../../.."));
  fs.rmSync(workDir, { recursive: true, force: true });
});

const remoteOpts = {
  migration: "matchauto",
  binding: "EDGE_DB",
  persistTo: "",
  remote: true,
  accountId: ACCOUNT,
};

it("looks the database up by name and copies through the HTTP API in batches", async () => {
  const target = await resolveTarget(
    { ...remoteOpts, database: "matchauto-edge-staging" },
    { CLOUDFLARE_API_TOKEN: TOKEN },
  );
  expect(target.databases[0].databaseId).toBe(DB_ID);
  const d1 = openRemoteTarget(target.client!, ACCOUNT, target.databases[0]);
  const spec = { name: "cities", schema: "public", primaryKey: ["id"], updatedAtColumn: "updated_at" };
  const result = await backfillTable(source, d1, spec, { batchRows: 50, settleSeconds: 0 });
  expect(result.copied).toBe(120);
  expect(batchSizes.length).toBe(3); // 50 + 50 + 20 rows: one HTTP request each, checkpoint included
  const [row] = await backing.all("SELECT count(*) AS n, max(updated_at) AS u FROM cities");
  expect(row).toEqual({ n: 120, u: "2026-01-01T00:00:00.012000Z" });
  expect((await backfillTable(source, d1, spec, { batchRows: 50, settleSeconds: 0 })).copied).toBe(0);
});

it("says when the database does not exist in the account", async () => {
  await expect(
    resolveTarget({ ...remoteOpts, database: "ghost" }, { CLOUDFLARE_API_TOKEN: TOKEN }),
  ).rejects.toThrow(
    `D1 database "ghost" not found in account ${ACCOUNT}; hint: create it with pulumi up (phase shadow) or pass --database-id`,
  );
});

it("surfaces a rejected token without printing it", async () => {
  const target = await resolveTarget(
    { ...remoteOpts, database: "x", databaseId: DB_ID },
    { CLOUDFLARE_API_TOKEN: "wrong-token-9f" },
  );
  const d1 = openRemoteTarget(target.client!, ACCOUNT, target.databases[0]);
  const error = await d1.all("SELECT 1").catch((e: unknown) => e);
  expect(String(error)).toContain("Authentication error");
  expect(String(error)).not.toContain("wrong-token-9f");
});

it("needs a database id", () => {
  expect(() => openRemoteTarget({} as never, ACCOUNT, { name: "edge", binding: "EDGE_DB" })).toThrow(
    "no database id for remote D1 edge",
  );
});

it("fails when the API reports a statement of the batch as failed", async () => {
  const target = await resolveTarget(
    { ...remoteOpts, database: "x", databaseId: DB_ID },
    { CLOUDFLARE_API_TOKEN: TOKEN },
  );
  const d1 = openRemoteTarget(target.client!, ACCOUNT, target.databases[0]);
  await expect(d1.batch([{ sql: "SELECT 1 /* reject */", params: [] }])).rejects.toThrow(
    "remote D1 x rejected a statement of the batch",
  );
});
