/**
 * Exactness of `validate` between two real PostgreSQL servers whose sessions differ in every setting
 * that changes how a value prints (TimeZone, DateStyle, IntervalStyle, extra_float_digits) and whose
 * text keys use different collations. One table per class of difference: each must be found (no silent
 * miss), and equal values must compare equal (no false alarm), on both comparison paths: the databases'
 * own checksums (same column types) and the normalized row text (types differ, as with D1).
 */
import { Client } from "pg";
import { openDatabase, type Database } from "../../../ops/validate/database";
import { parseEndpoint } from "../../../ops/validate/endpoint";
import { compareTable, type TableReport } from "../../../ops/validate/run";
import { startPostgres, type PgServer } from "../../support/postgres";

jest.setTimeout(180_000);

const SOURCE_SESSION = {
  TimeZone: "Asia/Kolkata",
  DateStyle: "SQL, DMY",
  IntervalStyle: "iso_8601",
  extra_float_digits: "-3",
};
const TARGET_SESSION = {
  TimeZone: "America/Los_Angeles",
  DateStyle: "German, DMY",
  IntervalStyle: "sql_standard",
  extra_float_digits: "0",
};

/** A class of difference: columns, the source rows, the target rows, and what must be reported. */
interface Case {
  readonly name: string;
  readonly columns: string;
  /** Target columns when they differ (the normalized path); else the same as the source. */
  readonly targetColumns?: string;
  readonly source: string;
  readonly target: string;
  readonly changed?: readonly string[];
  readonly missing?: readonly string[];
  readonly extra?: readonly string[];
}

const CASES: readonly Case[] = [
  {
    name: "infinite_timestamps",
    columns: "id int PRIMARY KEY, at timestamptz, ts timestamp, d date",
    source: `(1, 'infinity', '2026-01-01', '2026-01-01'), (2, '2026-01-01 00:00+00', '-infinity', '2026-01-01'),
             (3, '2026-01-01 00:00+00', '2026-01-01', 'infinity'), (4, 'infinity', '-infinity', '-infinity')`,
    target: `(1, '-infinity', '2026-01-01', '2026-01-01'), (2, '2026-01-01 00:00+00', '2026-01-01', '2026-01-01'),
             (3, '2026-01-01 00:00+00', '2026-01-01', '2026-01-02'), (4, 'infinity', '-infinity', '-infinity')`,
    changed: ["id=1", "id=2", "id=3"],
  },
  {
    name: "bc_dates",
    columns: "id int PRIMARY KEY, d date, ts timestamptz",
    source: `(1, '0044-03-15 BC', '2026-01-01 00:00+00'), (2, '2026-01-01', '0001-01-01 00:00+00 BC'), (3, '0044-03-15 BC', '2026-01-01 00:00+00')`,
    target: `(1, '0044-03-15', '2026-01-01 00:00+00'), (2, '2026-01-01', '0001-01-01 00:00+00'), (3, '0044-03-15 BC', '2026-01-01 00:00+00')`,
    changed: ["id=1", "id=2"],
  },
  {
    name: "session_dependent_text",
    columns: "id int PRIMARY KEY, iv interval, tsa timestamptz[], j jsonb, t timestamptz",
    // Intervals built by make_interval: their input text would be read by each server's IntervalStyle.
    source: `(1, make_interval(days => 1, hours => 2, mins => 3, secs => 4.5), ARRAY['2026-01-01 10:00+00'::timestamptz, NULL], '{"at": 1}', '2026-06-01 12:00+00'),
             (2, make_interval(months => -3, secs => 1), '{}', '{"b": [1, 2], "a": null}', '1999-12-31 23:59:59.999999+00')`,
    target: `(1, make_interval(days => 1, hours => 2, mins => 3, secs => 4.5), ARRAY['2026-01-01 10:00+00'::timestamptz, NULL], '{"at": 1}', '2026-06-01 12:00+00'),
             (2, make_interval(months => -3, secs => 1), '{}', '{"a": null, "b": [1, 2]}', '1999-12-31 23:59:59.999999+00')`,
  },
  {
    name: "floats",
    columns: "id int PRIMARY KEY, r real, d double precision",
    source: `(1, 1.2345678, 0.1), (2, 1, 0.1), (3, 'NaN', 'NaN'), (4, '-0', '-0'), (5, 'Infinity', '-Infinity'), (6, 3.4028235e38, 1e-300)`,
    target: `(1, 1.2345679, 0.1), (2, 1, 0.10000000000000002), (3, 'NaN', 'NaN'), (4, '0', '0'), (5, 'Infinity', '-Infinity'), (6, 3.4028235e38, 1e-300)`,
    changed: ["id=1", "id=2"],
  },
  {
    name: "arrays_and_composites",
    columns: "id int PRIMARY KEY, a int[], t text[], p point, r int4range",
    source: `(1, ARRAY[1, NULL, 3], '{x}', '(1,2)', '[1,5)'), (2, '{NULL}', '{""}', '(1,2)', '[1,5)'),
             (3, '{1,2}', ARRAY[NULL::text], '(1,2)', '[1,5)'), (4, '{1,2}', '{x}', '(1,2)', '[1,5)'), (5, '{}', '{}', NULL, 'empty')`,
    target: `(1, ARRAY[1, 3], '{x}', '(1,2)', '[1,5)'), (2, '{}', '{""}', '(1,2)', '[1,5)'),
             (3, '{1,2}', '{""}', '(1,2)', '[1,5)'), (4, '{1,2}', '{x}', '(1,2.0000001)', '[1,5)'), (5, '{}', '{}', NULL, 'empty')`,
    changed: ["id=1", "id=2", "id=3", "id=4"],
  },
  {
    name: "swapped_values",
    columns: "id int PRIMARY KEY, a text, b int",
    source: `(1, 'alpha', 10), (2, 'beta', 20), (3, 'gamma', 30)`,
    target: `(1, 'beta', 10), (2, 'alpha', 20), (3, 'gamma', 30)`,
    changed: ["id=1", "id=2"],
  },
  {
    name: "nulls_and_empties",
    columns: "id int PRIMARY KEY, a text, b text",
    source: `(1, NULL, 'x'), (2, '', 'x'), (3, 'a,b', NULL), (4, 'NULL', 'x')`,
    target: `(1, '', 'x'), (2, NULL, 'x'), (3, 'a', 'b'), (4, NULL, 'x')`,
    changed: ["id=1", "id=2", "id=3", "id=4"],
  },
  {
    name: "numeric_scale",
    columns: "id int PRIMARY KEY, n numeric, m numeric(10,2)",
    source: `(1, 1.0, 1.5), (2, 2, 2), (3, 3.10, 3)`,
    target: `(1, 1.00, 1.50), (2, 2.000, 2.0), (3, 3.11, 3)`,
    changed: ["id=3"],
  },
  // The same dates and timestamps through the normalized path: another column's type differs.
  {
    name: "normalized_path",
    columns: "id int PRIMARY KEY, w int4, d date, at timestamptz, r real",
    targetColumns: "id int PRIMARY KEY, w int8, d date, at timestamptz, r real",
    source: `(1, 1, 'infinity', '2026-01-01 00:00+00', 1), (2, 1, '0044-03-15 BC', '2026-01-01 00:00+00', 1), (3, 1, '2026-01-01', '2026-01-01 00:00+00', 1.2345678),
             (4, 1, '-infinity', 'infinity', 0.1), (5, 1, '2026-01-01', '2026-01-01 00:00+00', 1)`,
    target: `(1, 1, '-infinity', '2026-01-01 00:00+00', 1), (2, 1, '0044-03-15', '2026-01-01 00:00+00', 1), (3, 1, '2026-01-01', '2026-01-01 00:00+00', 1.2345679),
             (4, 1, '-infinity', 'infinity', 0.1), (5, 1, '2026-01-01', '2026-01-01 00:00+00', 1)`,
    changed: ["id=1", "id=2", "id=3"],
  },
];

async function exec(server: PgServer, sql: string): Promise<void> {
  const client = new Client({ connectionString: server.url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

describe("validate is exact whatever the servers' session settings", () => {
  let source: PgServer;
  let target: PgServer;
  let src: Database;
  let tgt: Database;
  let icu: string;

  beforeAll(async () => {
    [source, target] = await Promise.all([
      startPostgres({ system: true, extraConf: SOURCE_SESSION }),
      startPostgres({ system: true, extraConf: TARGET_SESSION }),
    ]);
    const client = new Client({ connectionString: target.url });
    await client.connect();
    const { rows } = await client.query<{ collname: string }>(
      `SELECT collname FROM pg_collation WHERE collprovider = 'i' AND collname LIKE 'en-%' ORDER BY collname LIMIT 1`,
    );
    await client.end();
    icu = rows[0]?.collname ?? "POSIX";
    for (const c of CASES) {
      await exec(source, `CREATE TABLE ${c.name} (${c.columns}); INSERT INTO ${c.name} VALUES ${c.source};`);
      await exec(
        target,
        `CREATE TABLE ${c.name} (${c.targetColumns ?? c.columns}); INSERT INTO ${c.name} VALUES ${c.target};`,
      );
    }
    // Text keys: byte order on one side, a linguistic collation on the other; one extra key on the target.
    const keys = `SELECT k || g FROM unnest(ARRAY['a', 'B', 'é', 'Z', '_x', 'ß', 'ab', 'Ab', '10', '9']) k, generate_series(1, 60) g`;
    await exec(
      source,
      `CREATE TABLE text_keys (k text COLLATE "C" PRIMARY KEY, v int); INSERT INTO text_keys SELECT k, length(k) FROM (${keys}) s(k); ANALYZE text_keys;`,
    );
    await exec(
      target,
      `CREATE TABLE text_keys (k text COLLATE "${icu}" PRIMARY KEY, v int); INSERT INTO text_keys SELECT k, length(k) FROM (${keys}) s(k); INSERT INTO text_keys VALUES ('é999', 1); UPDATE text_keys SET v = 0 WHERE k = 'Z7'; ANALYZE text_keys;`,
    );
    const open = (s: PgServer) =>
      openDatabase(parseEndpoint(s.url, "url"), {
        schema: "public",
        timeouts: { connectMs: 10_000, statementMs: 60_000 },
        env: {},
      });
    [src, tgt] = await Promise.all([open(source), open(target)]);
  });

  afterAll(async () => {
    await Promise.all([src?.close(), tgt?.close()]);
    await Promise.all([source?.stop(), target?.stop()]);
  });

  const compare = (table: string, leaf = 4096): Promise<TableReport> =>
    compareTable(table, src, tgt, {
      maxDifferences: 100,
      factor: 16,
      segmentRows: 200_000,
      leafRows: 256,
      nativeLeafRows: leaf,
    });

  it("the servers really print differently by default", async () => {
    const c = new Client({ connectionString: source.url });
    await c.connect();
    const { rows } = await c.query(`SELECT '1 day'::interval::text AS iv, current_setting('TimeZone') AS tz`);
    await c.end();
    expect(rows[0]).toEqual({ iv: "P1D", tz: "Asia/Kolkata" });
  });

  it.each(CASES.map((c) => [c.name, c] as const))("%s", async (_, c) => {
    const report = await compare(c.name);
    expect(report.method).toBe(c.targetColumns ? "checksum-bisection" : "native-checksum");
    expect(report.differences).toEqual({
      missing: c.missing ?? [],
      extra: c.extra ?? [],
      changed: c.changed ?? [],
    });
    expect(report.identical).toBe(!c.changed && !c.missing && !c.extra);
  });

  it("text keys in different collations: bucketed by byte order on both sides, only the real differences", async () => {
    const report = await compare("text_keys", 16);
    expect(report.method).toBe("native-checksum");
    expect(report.counts).toEqual({ source: 600, target: 601 });
    expect(report.differences).toEqual({ missing: [], extra: ["k=é999"], changed: ["k=Z7"] });
  });
});
