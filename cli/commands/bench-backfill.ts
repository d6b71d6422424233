/**
 * `cutover bench backfill`: rows per second into local D1 for 100k city rows, written the backfill's
 * way (multi-row upserts sized to D1's limits, 1,000 rows per D1 batch) beside the baseline of one
 * INSERT per row, one call each, measured on a sample in the same run and extrapolated (a 100k-row
 * baseline takes many minutes). Source reads are left out: only the D1 side is compared.
 */
import { newCommand, wholeNumber, type Leaf } from "../shell";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { buildUpserts, type Statement } from "../../ops/backfill/statements";
import { openLocalTarget, type D1Target } from "../../ops/backfill/targets";

let ROWS = 100_000;
let BASELINE_SAMPLE = 2_000;
const PAGE = 1000;

const COLUMNS = [
  "id",
  "slug",
  "name",
  "country_code",
  "latitude",
  "population",
  "is_active",
  "delivery_fee",
  "metadata",
  "created_at",
  "updated_at",
];
const SCHEMA = `CREATE TABLE cities (id INTEGER PRIMARY KEY, slug TEXT NOT NULL, name TEXT NOT NULL, country_code TEXT NOT NULL,
  latitude REAL, population INTEGER, is_active INTEGER NOT NULL, delivery_fee TEXT, metadata TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)`;

function row(i: number): string[] {
  const ts = new Date(Date.UTC(2026, 0, 1) + i).toISOString().replace("Z", "000Z");
  return [
    String(i),
    `city-${i}`,
    `São José ${i}`,
    "BR",
    String(-23.5 + i / 1e6),
    String(i * 10),
    String(i % 2),
    "12.5000",
    `{"ddd":${i % 100}}`,
    ts,
    ts,
  ];
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

async function freshTable(d1: D1Target, table: string): Promise<void> {
  await d1.batch([
    { sql: `DROP TABLE IF EXISTS ${table}`, params: [] },
    { sql: SCHEMA.replace("cities", table), params: [] },
  ]);
}

async function main(argv: readonly string[]): Promise<void> {
  const o = newCommand("cutover bench backfill")
    .description("rows per second into local D1, the backfill's batched upserts beside one INSERT per row")
    .option("--rows <n>", "rows written the backfill's way", wholeNumber("rows, e.g. 100000"), ROWS)
    .option(
      "--baseline-rows <n>",
      "rows of the one-INSERT-per-row sample",
      wholeNumber("rows, e.g. 2000"),
      BASELINE_SAMPLE,
    )
    .parse(argv, { from: "user" })
    .opts<{ rows: number; baselineRows: number }>();
  ROWS = o.rows;
  BASELINE_SAMPLE = o.baselineRows;

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cutover-bench-"));
  process.chdir(dir);
  const d1 = await openLocalTarget({ name: "bench-edge", binding: "EDGE_DB" }, path.join(dir, "state"));
  try {
    await freshTable(d1, "batched");
    const shape = { table: "batched", columns: COLUMNS, primaryKey: ["id"], updatedAtColumn: "updated_at" };
    let statements = 0;
    const batchedSeconds = await timed(async () => {
      for (let first = 0; first < ROWS; first += PAGE) {
        const rows = Array.from({ length: Math.min(PAGE, ROWS - first) }, (_, k) => row(first + k));
        const upserts = buildUpserts(shape, rows);
        statements += upserts.length;
        await d1.batch(upserts);
      }
    });

    await freshTable(d1, "single");
    const insert = `INSERT INTO single (${COLUMNS.join(", ")}) VALUES (${COLUMNS.map(() => "?").join(", ")})`;
    const singleSeconds = await timed(async () => {
      for (let i = 0; i < BASELINE_SAMPLE; i++) {
        const s: Statement = { sql: insert, params: row(i) };
        await d1.batch([s]);
      }
    });

    const [check] = await d1.all(
      "SELECT (SELECT count(*) FROM batched) AS b, (SELECT count(*) FROM single) AS s",
    );
    if (Number(check.b) !== ROWS || Number(check.s) !== BASELINE_SAMPLE)
      throw new Error(`row counts off: ${JSON.stringify(check)}`);
    const batchedRate = ROWS / batchedSeconds;
    const singleRate = BASELINE_SAMPLE / singleSeconds;
    const out = (s: string) => process.stdout.write(s + "\n");
    out(`bench:backfill — local D1 (workerd via getPlatformProxy), ${COLUMNS.length} columns per row`);
    out(
      `  batched upserts : ${ROWS} rows in ${batchedSeconds.toFixed(2)} s = ${Math.round(batchedRate)} rows/s (${statements} statements, ${Math.ceil(ROWS / PAGE)} D1 batches)`,
    );
    out(
      `  one row per call: ${BASELINE_SAMPLE} rows in ${singleSeconds.toFixed(2)} s = ${Math.round(singleRate)} rows/s (sample; ${ROWS} rows ≈ ${Math.round(ROWS / singleRate)} s extrapolated)`,
    );
    out(`  ratio           : ${(batchedRate / singleRate).toFixed(1)}× faster batched`);
  } finally {
    await d1.close();
    process.chdir(os.tmpdir());
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export const leaf: Leaf = { main };
