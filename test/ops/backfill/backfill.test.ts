/**
 * Backfill from a real PostgreSQL (test/support/postgres) into a real local D1 (workerd through
 * wrangler's getPlatformProxy), in-process so statements can be observed on their way to D1.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Client } from "pg";
import { startPostgres, type PgServer } from "../../support/postgres";
import {
  backfillTable,
  readCheckpoint,
  type BackfillOptions,
  type TableSpec,
} from "../../../ops/backfill/run";
import { connectSource } from "../../../ops/backfill/source";
import { D1_LIMITS, statementBytes, type Statement } from "../../../ops/backfill/statements";
import { openLocalTarget, type D1Target } from "../../../ops/backfill/targets";
import { applyD1Migrations, insertCategories, insertCities, LEGACY_SCHEMA } from "./legacy-fixture";

jest.setTimeout(120_000);

let server: PgServer;
let pg: Client;
let source: Client;
let d1: D1Target;
let workDir: string;
const sent: Statement[][] = [];

const cities: TableSpec = {
  name: "cities",
  schema: "public",
  primaryKey: ["id"],
  updatedAtColumn: "updated_at",
};
const categories: TableSpec = { ...cities, name: "categories" };
const opts: BackfillOptions = { batchRows: 500, settleSeconds: 0 };

/** The real target, recording every batch it is given. */
const recording: D1Target = {
  get description() {
    return d1.description;
  },
  batch: (statements) => (sent.push([...statements]), d1.batch(statements)),
  all: (sql, params) => d1.all(sql, params),
  close: async () => undefined,
};

const d1Count = async (table: string) => Number((await d1.all(`SELECT count(*) AS n FROM ${table}`))[0].n);
const pgCount = async (table: string) =>
  Number((await pg.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);

beforeAll(async () => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), "cutover-backfill-"));
  process.chdir(workDir); // the generated wrangler config goes under ./.cutover
  server = await startPostgres();
  pg = new Client({ connectionString: server.url });
  await pg.connect();
  await pg.query(LEGACY_SCHEMA);
  await insertCities(pg, 1, 300);
  await insertCategories(pg, 40);
  source = await connectSource(server.url);
  d1 = await openLocalTarget({ name: "matchauto-edge", binding: "EDGE_DB" }, path.join(workDir, "state"));
  await applyD1Migrations(d1);
});

afterAll(async () => {
  await d1?.close();
  await source?.end();
  await pg?.end();
  await server?.stop();
  process.chdir(path.resolve(__dirname, "../../.."));
  fs.rmSync(workDir, { recursive: true, force: true });
});

it("copies every row and maps each type", async () => {
  const result = await backfillTable(source, recording, cities, opts);
  expect(result).toMatchObject({ copied: 300, pending: 0 });
  expect(await backfillTable(source, recording, categories, opts)).toMatchObject({ copied: 40 });
  expect(await d1Count("cities")).toBe(300);
  expect(await d1Count("categories")).toBe(40);

  const [city] = await d1.all("SELECT * FROM cities WHERE id = 35");
  expect(city).toEqual({
    id: 35,
    slug: "city-35",
    name: "Zürich 🚗 35",
    state_code: null,
    country_code: "BR",
    latitude: -23.550465,
    longitude: -46.6333,
    population: null,
    is_active: 1,
    delivery_fee: "35.0035",
    metadata: '{"ddd": 35, "pad": "", "tags": ["ñ", 35]}',
    created_at: "2025-01-01T00:00:35.000000Z",
    updated_at: "2026-01-01T00:00:00.003000Z",
  });
  const [types] = await d1.all(
    "SELECT typeof(id) AS id, typeof(latitude) AS lat, typeof(is_active) AS active, typeof(delivery_fee) AS fee, json_extract(metadata, '$.tags[0]') AS tag FROM cities WHERE id = 1",
  );
  expect(types).toEqual({ id: "integer", lat: "real", active: "integer", fee: "text", tag: "ñ" });
  const [category] = await d1.all("SELECT * FROM categories WHERE id = 10");
  expect(category).toMatchObject({
    parent_id: 2,
    name_i18n: '{"es" : "Camionetas", "pt" : "Caminhonetes", "ja" : "ピックアップ"}',
    description: null,
    is_visible: 1,
    commission_rate: "0.0825",
    created_at: "2025-02-01T10:00:00.000000",
    updated_at: null,
  });
  // char(2) 'D' is stored padded by PostgreSQL; it reaches D1 without the blank, as char → text gives it.
  expect(await d1.all("SELECT state_code FROM cities WHERE id IN (36, 37) ORDER BY id")).toEqual([
    { state_code: "D" },
    { state_code: "SP" },
  ]);
  const [unicode] = await d1.all("SELECT name FROM cities WHERE id = 7");
  expect(unicode.name).toBe("🏎️‍🔥 x̃ 7");
  const [multiline] = await d1.all("SELECT description FROM categories WHERE id = 3");
  expect(multiline.description).toBe('línea 1\nlínea 2\t"quoted"');
});

it("a second run copies zero rows", async () => {
  const result = await backfillTable(source, recording, cities, opts);
  expect(result.copied).toBe(0);
  expect(result.resumedFrom).toEqual(result.watermark);
});

it("rows changed between runs (including ties on updated_at) are copied by the next run", async () => {
  // Five rows get the same updated_at: the (updated_at, id) keyset must take all of them.
  await pg.query(
    "UPDATE cities SET name = name || ' (editado)', updated_at = '2026-02-01 00:00:00+00' WHERE id IN (3, 50, 51, 52, 299)",
  );
  await insertCities(pg, 1001, 2);
  const result = await backfillTable(source, recording, { ...cities }, { ...opts, batchRows: 2 });
  expect(result.copied).toBe(7);
  expect(await d1Count("cities")).toBe(302);
  const edited = await d1.all("SELECT id FROM cities WHERE name LIKE '% (editado)' ORDER BY id");
  expect(edited.map((r) => r.id)).toEqual([3, 50, 51, 52, 299]);
  expect((await backfillTable(source, recording, cities, opts)).copied).toBe(0);
});

it("5,000 rows with long text stay within D1's statement limits", async () => {
  await insertCities(pg, 10_001, 5000, 1500, 90_000);
  await pg.query("UPDATE cities SET updated_at = clock_timestamp() WHERE id > 10000");
  sent.length = 0;
  const result = await backfillTable(source, recording, cities, { ...opts, batchRows: 1000 });
  expect(result.copied).toBe(5000);
  const statements = sent.flat();
  // 11 columns: the parameter limit allows 9 rows per statement; the 90 kB rows force smaller ones.
  expect(statements.length).toBeGreaterThan(Math.ceil(5000 / 9));
  expect(statements.length).toBeLessThan(1000);
  for (const s of statements) {
    expect(s.params.length).toBeLessThanOrEqual(D1_LIMITS.maxParams);
    expect(statementBytes(s)).toBeLessThanOrEqual(D1_LIMITS.maxBytes);
  }
  const [longest] = await d1.all("SELECT max(length(metadata)) AS n FROM cities");
  expect(Number(longest.n)).toBeGreaterThan(45_000);
  expect(await d1Count("cities")).toBe(await pgCount("cities"));
});

it("an interrupted run resumes from its checkpoint without gaps or repeats", async () => {
  // 801 rows share one updated_at: the resume point sits inside a tie, which the key breaks.
  await pg.query(
    "UPDATE cities SET population = coalesce(population, 0) + 1, updated_at = now() WHERE id < 10500",
  );
  let batches = 0;
  const failing: D1Target = {
    ...recording,
    batch: async (statements) => {
      if (++batches === 4) throw new Error("connection reset by peer");
      await d1.batch(statements);
    },
  };
  await expect(backfillTable(source, failing, cities, { ...opts, batchRows: 100 })).rejects.toThrow(
    "connection reset",
  );
  const checkpoint = await readCheckpoint(d1, "cities");
  expect(checkpoint).toBeDefined();

  const resumed = await backfillTable(source, recording, cities, { ...opts, batchRows: 100 });
  expect(resumed.resumedFrom).toEqual(checkpoint);
  expect(resumed.copied).toBe(801 - 3 * 100);
  expect(await d1Count("cities")).toBe(await pgCount("cities"));
  const [d1Sum] = await d1.all("SELECT sum(population) AS n FROM cities WHERE id < 10500");
  const pgSum = await pg.query("SELECT sum(population) AS n FROM cities WHERE id < 10500");
  expect(String(d1Sum.n)).toBe(pgSum.rows[0].n);
});

describe("refuses, naming the table and the fix", () => {
  beforeAll(async () => {
    await pg.query(`CREATE TABLE regions (id int PRIMARY KEY, updated_at timestamptz NOT NULL);
                    CREATE TABLE models (id int PRIMARY KEY, code text, name text, updated_at timestamptz)`);
    await d1.batch(
      [
        "CREATE TABLE brands (id INTEGER PRIMARY KEY, updated_at TEXT)",
        "CREATE TABLE regions (id INTEGER PRIMARY KEY, name TEXT, updated_at TEXT)",
        "CREATE TABLE models (id INTEGER PRIMARY KEY, name TEXT, updated_at TEXT)",
      ].map((sql) => ({ sql, params: [] })),
    );
  });

  it.each([
    {
      spec: { name: "vehicles" },
      message: /D1 table vehicles does not exist in local D1 matchauto-edge .*; hint: cutover data d1-schema/,
    },
    {
      spec: { name: "brands" },
      message:
        "table public.brands not found in the source PostgreSQL; hint: check tables[].name and legacy.schema",
    },
    {
      spec: { name: "regions" },
      message:
        "D1 table regions has columns the source lacks: name; hint: the D1 schema (d1/migrations) decides",
    },
    {
      spec: { name: "models", primaryKey: ["code"] },
      message: "column code of models (primaryKey/updatedAtColumn) is not in the D1 table",
    },
    {
      spec: { name: "cities", updatedAtColumn: "population" },
      message: "cities.population is integer; hint: the watermark column must be a timestamp",
    },
  ])("$spec.name", async ({ spec, message }) => {
    await expect(backfillTable(source, d1, { ...cities, ...spec }, opts)).rejects.toThrow(message);
  });

  it("a D1 database without the checkpoint table", async () => {
    await d1.batch([{ sql: "DROP TABLE _cutover_backfill", params: [] }]);
    await expect(backfillTable(source, d1, cities, opts)).rejects.toThrow(
      /local D1 matchauto-edge .* has no _cutover_backfill table; hint: cutover data d1-schema applies d1\/migrations/,
    );
  });
});
