/**
 * Sharded validation: slices that cover every key exactly once, merged into the verdict an unsharded
 * run gives; and merges refused when a shard is missing, doubled, or the slices leave a gap.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Client } from "pg";
import type { RunReport } from "../../../ops/validate/report";
import type { TableReport } from "../../../ops/validate/run";
import { mergeShardReports, parseShard, parseShardReports } from "../../../ops/validate/shards";
import { startPostgres, type PgServer } from "../../support/postgres";
import { scratchDir } from "../../support/scratch";
import { runValidate } from "../validate-cli";

jest.setTimeout(240_000);

const table = (over: Partial<TableReport>): TableReport => ({
  table: "t",
  identical: true,
  method: "native-checksum",
  counts: { source: 10, target: 10 },
  primaryKey: ["id"],
  columnsOnlyInSource: [],
  columnsOnlyInTarget: [],
  differences: { missing: [], extra: [], changed: [] },
  totals: { missing: 0, extra: 0, changed: 0 },
  truncated: false,
  notes: [],
  ...over,
});
const report = (index: number, count: number, t: TableReport): RunReport => ({
  source: "s",
  target: "t",
  identical: t.identical,
  tables: [t],
  shard: { index, count },
});
const range = (index: number, count: number, lo?: string, hi?: string) =>
  ({ kind: "range", index, count, lo, hi }) as const;

describe("merging shard reports", () => {
  const tiled = [
    report(0, 3, table({ slice: range(0, 3, undefined, "100") })),
    report(
      1,
      3,
      table({
        slice: range(1, 3, "100", "200"),
        identical: false,
        differences: { missing: ["id=150"], extra: [], changed: [] },
        totals: { missing: 1, extra: 0, changed: 0 },
        counts: { source: 10, target: 9 },
      }),
    ),
    report(2, 3, table({ slice: range(2, 3, "200", undefined) })),
  ];

  it("sums counts and differences of slices that tile the key space", () => {
    const merged = mergeShardReports(tiled);
    expect(merged.identical).toBe(false);
    expect(merged.tables[0]).toMatchObject({
      counts: { source: 30, target: 29 },
      differences: { missing: ["id=150"], extra: [], changed: [] },
      totals: { missing: 1, extra: 0, changed: 0 },
    });
    expect(merged.tables[0].notes).toContain("merged from 3 shards");
  });

  it("keeps the servers every shard read, for the evidence", () => {
    const endpoints = [
      {
        role: "source" as const,
        host: "db.x.supabase.co",
        port: 5432,
        database: "postgres",
        systemIdentifier: "1",
      },
      { role: "target" as const, host: "10.20.0.3", port: 5432, database: "postgres", systemIdentifier: "2" },
    ];
    expect(mergeShardReports(tiled.map((r) => ({ ...r, endpoints }))).endpoints).toEqual(endpoints);
  });

  it.each([
    ["a missing shard", [tiled[0], tiled[2]], "no report from shard(s) 1/3: the key space is not covered"],
    ["a doubled shard", [...tiled, tiled[1]], "shard 1/3 reported twice"],
    [
      "a gap between ranges",
      [tiled[0], report(1, 3, table({ slice: range(1, 3, "101", "200") })), tiled[2]],
      "the shards' key ranges do not tile the key space (at shard 1)",
    ],
    [
      "shards of another run",
      [...tiled.slice(0, 2), report(2, 4, table({ slice: range(2, 4, "200") }))],
      "the reports are not the shards of one run",
    ],
    [
      "shards taken against different servers",
      [
        tiled[0],
        {
          ...tiled[1],
          endpoints: [{ role: "source" as const, host: "10.0.0.9", port: 5432, database: "db" }],
        },
        tiled[2],
      ],
      "the shard reports were taken against different servers",
    ],
  ])("refuses %s", (_, reports, message) => {
    expect(() => mergeShardReports(reports)).toThrow(message);
  });

  it("reads Cloud Logging entries and JSON lines", () => {
    const lines = tiled.map((r) => JSON.stringify(r)).join("\n");
    const logging = JSON.stringify(tiled.map((r) => ({ jsonPayload: r, severity: "DEFAULT" })));
    expect(parseShardReports([{ name: "a", text: lines }])).toHaveLength(3);
    expect(parseShardReports([{ name: "b", text: logging }])).toHaveLength(3);
  });

  it("takes the Cloud Run task's index and count with --shard auto", () => {
    expect(parseShard("auto", { CLOUD_RUN_TASK_INDEX: "2", CLOUD_RUN_TASK_COUNT: "5" })).toEqual({
      index: 2,
      count: 5,
    });
    expect(() => parseShard("auto", {})).toThrow("--shard auto needs CLOUD_RUN_TASK_INDEX");
    expect(() => parseShard("4/4", {})).toThrow("the index must be 0 … count-1");
  });
});

describe("validate --shards / --shard / --merge on real servers", () => {
  let source: PgServer;
  let target: PgServer;
  const SEED = `
    CREATE TABLE msg (id bigint PRIMARY KEY, body text, at timestamptz);
    INSERT INTO msg SELECT g, 'message ' || g, timestamptz '2026-01-01 00:00+00' + g * interval '1 s' FROM generate_series(1, 30000) g;
    CREATE TABLE tag (name text PRIMARY KEY, n int);
    INSERT INTO tag SELECT 'tag-' || md5(g::text), g FROM generate_series(1, 5000) g;
    ANALYZE msg; ANALYZE tag;`;

  beforeAll(async () => {
    [source, target] = await Promise.all([startPostgres(), startPostgres()]);
    for (const [s, extra] of [
      [source, ""],
      [
        target,
        `UPDATE msg SET body = 'x' WHERE id IN (1, 15000, 30000); DELETE FROM msg WHERE id = 7777;
         INSERT INTO msg VALUES (40000, 'extra', now()); UPDATE tag SET n = 0 WHERE name = 'tag-' || md5('42');`,
      ],
    ] as const) {
      const c = new Client({ connectionString: s.url });
      await c.connect();
      await c.query(SEED + extra);
      await c.end();
    }
  });
  afterAll(async () => {
    await Promise.all([source?.stop(), target?.stop()]);
  });

  const args = () => ["--source", source.url, "--target", target.url, "--tables", "msg,tag", "--json"];
  const found = (stdout: string) =>
    (JSON.parse(stdout) as RunReport).tables.map((t) => ({
      table: t.table,
      counts: t.counts,
      differences: t.differences,
    }));

  it("--shards 3 finds what one process finds", async () => {
    const [whole, sharded] = await Promise.all([
      runValidate(args()),
      runValidate([...args(), "--shards", "3"]),
    ]);
    expect(whole.code).toBe(1);
    expect(sharded.code).toBe(1);
    expect(found(sharded.stdout)).toEqual(found(whole.stdout));
    expect(found(whole.stdout)[0].differences).toEqual({
      missing: ["id=7777"],
      extra: ["id=40000"],
      changed: ["id=1", "id=15000", "id=30000"],
    });
    expect(found(whole.stdout)[1].differences.changed).toEqual([
      `name=tag-${"a1d0c6e83f027327d8461063f4ac58a6"}`,
    ]);
  });

  it("--shard i/n writes reports that --merge joins; a missing one is refused", async () => {
    const dir = scratchDir("shards");
    const files: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await runValidate([...args(), "--shard", `${i}/3`]);
      expect([0, 1]).toContain(r.code);
      const report = JSON.parse(r.stdout) as RunReport;
      expect(report.shard).toEqual({ index: i, count: 3 });
      files.push(join(dir, `shard-${i}.json`));
      writeFileSync(files[i], r.stdout);
    }
    const merged = await runValidate(["--merge", ...files, "--json"]);
    expect(merged.code).toBe(1);
    expect(found(merged.stdout)[0].differences.missing).toEqual(["id=7777"]);
    const partial = await runValidate(["--merge", files[0], files[2]]);
    expect(partial.code).toBe(2);
    expect(partial.stderr).toContain("msg: no report from shard(s) 1/3: the key space is not covered");
    const evidence = await runValidate([
      ...args(),
      "--shard",
      "0/3",
      "--evidence",
      "--stack",
      "x",
      "--migration",
      "y",
    ]);
    expect(evidence.code).toBe(2);
    expect(evidence.stderr).toContain("--evidence records a whole verdict, not one shard's");
  });
});
