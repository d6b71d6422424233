/**
 * Runbook 2's data path with awkward but legal data, judged from outside: every store is read back
 * with its own SQL (not the copy's mapping) and compared row by row with legacy. Real PostgreSQL
 * (legacy and the new schema) and a real local D1. Each defect of issue 21 has its own case; then a
 * randomised run applies random inserts, updates (keys and timestamps included), deletes, key swaps and
 * re-inserts to legacy while the backfill and the change capture run in random interleavings, some of
 * them killed half-way, and checks that both stores equal legacy afterwards.
 */
import * as path from "node:path";
import fc from "fast-check";
import { Client } from "pg";
import { startPostgres, type PgServer } from "../support/postgres";
import { scratchDir } from "../support/scratch";
import { applyD1Migrations } from "./backfill/legacy-fixture";
import { migrateSchema } from "../../ops/schema/run";
import { connectSource } from "../../ops/backfill/source";
import { openLocalTarget, type D1Target } from "../../ops/backfill/targets";
import { backfillTable, planTable, type TableSpec } from "../../ops/backfill/run";
import { backfillPgTable, planPgTable, type PgTableSpec } from "../../ops/backfill/pg-target";
import { applyRound, backlog, type CaptureSink } from "../../ops/capture/applier";
import { installCapture } from "../../ops/capture/install";
import { compareTable } from "../../ops/validate/run";
import { d1Database, postgresDatabase } from "../../ops/validate/sides";
import { PgConnection } from "../../ops/validate/postgres";
import type { Database } from "../../ops/validate/database";

jest.setTimeout(600_000);

let server: PgServer;
let admin: Client; // the test's own view of legacy
let legacy: Client; // the copy's connection (connectSource)
let target: Client; // the new schema
let d1: D1Target;

const D1_TABLE = "plates_d1";
const PG_TABLE = "plates_pg";
const LEGACY_DDL = (t: string) =>
  `CREATE TABLE ${t} (region char(2) NOT NULL, id int NOT NULL, code char(4), note text, updated_at timestamptz, PRIMARY KEY (region, id))`;
const d1Spec: TableSpec = {
  name: D1_TABLE,
  schema: "public",
  primaryKey: ["region", "id"],
  updatedAtColumn: "updated_at",
};
const pgSpec: PgTableSpec = {
  ...d1Spec,
  name: PG_TABLE,
  targetSchema: "matchauto",
  targetName: PG_TABLE,
};

beforeAll(async () => {
  server = await startPostgres();
  admin = new Client({ connectionString: server.url });
  await admin.connect();
  await admin.query("SET TIME ZONE 'UTC'; SET statement_timeout = 10000");
  await admin.query("CREATE DATABASE target");
  await migrateSchema({ url: server.urlFor("target"), schema: "matchauto" });
  target = await connectSource(server.urlFor("target"));
  // The new schema keeps char(2) in the key but widens code to text: the canonical text must fit both.
  await target.query(
    `CREATE TABLE matchauto.${PG_TABLE} (region char(2) NOT NULL, id bigint NOT NULL, code text, note text, updated_at timestamptz, PRIMARY KEY (region, id))`,
  );
  legacy = await connectSource(server.url);
  const dir = scratchDir("correctness");
  process.chdir(dir); // the generated wrangler config goes under ./.cutover
  d1 = await openLocalTarget({ name: "matchauto-edge", binding: "EDGE_DB" }, path.join(dir, "state"));
  await applyD1Migrations(d1);
  await d1.batch([
    {
      sql: `CREATE TABLE ${D1_TABLE} (region TEXT NOT NULL, id INTEGER NOT NULL, code TEXT, note TEXT, updated_at TEXT, PRIMARY KEY (region, id))`,
      params: [],
    },
  ]);
});

afterAll(async () => {
  await d1?.close();
  await legacy?.end();
  await target?.end();
  await admin?.end();
  await server?.stop();
  process.chdir(path.resolve(__dirname, "../.."));
});

/** Both legacy tables and both stores emptied; legacy seeded by `seed` before capture is installed. */
async function reset(seed: string = ""): Promise<void> {
  for (const t of [D1_TABLE, PG_TABLE]) {
    await admin.query(`DROP TABLE IF EXISTS ${t}; ${LEGACY_DDL(t)}`);
    if (seed) await admin.query(seed.replaceAll("$T", t));
  }
  await installCapture(admin, [
    { schema: "public", name: D1_TABLE, primaryKey: ["region", "id"] },
    { schema: "public", name: PG_TABLE, primaryKey: ["region", "id"] },
  ]);
  await admin.query("DELETE FROM cutover_capture.changes");
  await d1.batch([
    { sql: `DELETE FROM ${D1_TABLE}`, params: [] },
    { sql: "DELETE FROM _cutover_backfill", params: [] },
  ]);
  await target.query(`TRUNCATE matchauto.${PG_TABLE}; DELETE FROM matchauto._cutover_backfill`);
}

/** The same statement on both legacy tables ($T is the table). */
const write = async (sql: string) => {
  for (const t of [D1_TABLE, PG_TABLE]) await admin.query(sql.replaceAll("$T", t));
};

const sinks = async (d1Target: D1Target = d1, pg: Client = target) =>
  new Map<string, CaptureSink>([
    [D1_TABLE, { store: "d1", query: await planTable(legacy, d1Target, d1Spec), target: d1Target }],
    [PG_TABLE, { store: "supabase", plan: await planPgTable(legacy, pg, pgSpec), client: pg }],
  ]);

/** Applies rounds until the log is empty (fails the test if a round leaves a table failing). */
async function drain(): Promise<void> {
  const s = await sinks();
  for (let i = 0; i < 100; i++) {
    const r = await applyRound(legacy, s, 50);
    expect(r.failed).toEqual([]);
    if ((await backlog(legacy)).pending === 0) return;
  }
  throw new Error("the change log did not drain");
}

/** validate's own settings (cli/commands/validate.ts). */
const NONE = { missing: 0, extra: 0, changed: 0 };
const CMP = { maxDifferences: 10, factor: 16, segmentRows: 200_000, leafRows: 256 };

const ISO = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`;
/** Legacy as D1 must hold it, written independently of the copy's mapping. */
async function expectedD1(): Promise<string[][]> {
  const { rows } = await admin.query({
    text: `SELECT rtrim(region), id::text, rtrim(code), note,
                  CASE WHEN isfinite(updated_at) THEN to_char(updated_at AT TIME ZONE 'UTC', ${ISO}) ELSE updated_at::text END
             FROM ${D1_TABLE} ORDER BY region COLLATE "C", id`,
    rowMode: "array",
  });
  return rows;
}
async function actualD1(): Promise<(string | null)[][]> {
  const rows = await d1.all(`SELECT region, id, code, note, updated_at FROM ${D1_TABLE} ORDER BY region, id`);
  return rows.map((r) => [r.region, String(r.id), r.code, r.note, r.updated_at] as (string | null)[]);
}
const pgRows = async (client: Client, table: string) =>
  (
    await client.query({
      text: `SELECT region::text, id::text, code::text, note, updated_at::text FROM ${table} ORDER BY region COLLATE "C", id`,
      rowMode: "array",
    })
  ).rows;

async function expectStoresEqualLegacy(): Promise<void> {
  expect(await actualD1()).toEqual(await expectedD1());
  expect(await pgRows(target, `matchauto.${PG_TABLE}`)).toEqual(await pgRows(admin, PG_TABLE));
}

describe("change capture makes each target row equal to legacy, whatever the timestamps say", () => {
  beforeEach(() => reset());

  it("a primary-key swap inside one transaction", async () => {
    await write(
      `INSERT INTO $T VALUES ('SP', 1, 'AAAA', 'first', '2026-05-01'), ('SP', 2, 'BB', 'second', '2024-01-01')`,
    );
    await drain();
    await write(
      `BEGIN; UPDATE $T SET id = -1 WHERE id = 1; UPDATE $T SET id = 1 WHERE id = 2; UPDATE $T SET id = 2 WHERE id = -1; COMMIT`,
    );
    await drain();
    expect((await actualD1()).map((r) => r.slice(1, 3))).toEqual([
      ["1", "BB"],
      ["2", "AAAA"],
    ]);
    await expectStoresEqualLegacy();
  });

  it("a delete then a re-insert with an older and with a NULL updated_at", async () => {
    await write(
      `INSERT INTO $T VALUES ('SP', 1, 'NEW', 'newer', '2026-05-01'), ('MG', 2, 'NEW', 'newer', '2026-05-01')`,
    );
    await drain();
    await write(
      `BEGIN; DELETE FROM $T WHERE id IN (1, 2); INSERT INTO $T VALUES ('SP', 1, 'OLD', 'older', '2020-01-01'), ('MG', 2, 'NUL', 'no time', NULL); COMMIT`,
    );
    await drain();
    expect((await actualD1()).map((r) => r[3])).toEqual(["no time", "older"]);
    await expectStoresEqualLegacy();
  });

  it("an update that moves updated_at backwards (a corrected clock, a mistyped future date)", async () => {
    await write(`INSERT INTO $T VALUES ('SP', 1, 'X', 'typo', '2099-01-01')`);
    await drain();
    await write(`UPDATE $T SET note = 'corrected', updated_at = '2026-01-01' WHERE id = 1`);
    await drain();
    expect((await actualD1())[0]).toEqual(["SP", "1", "X", "corrected", "2026-01-01T00:00:00.000000Z"]);
    await expectStoresEqualLegacy();
  });

  it("a table whose change cannot be applied keeps it in the log and the lag says so; the other table goes on", async () => {
    // A unique index the legacy table does not have: the new row cannot land in D1.
    await d1.batch([{ sql: `CREATE UNIQUE INDEX plates_code ON ${D1_TABLE} (code)`, params: [] }]);
    try {
      await write(`INSERT INTO $T VALUES ('SP', 1, 'SAME', 'a', now()), ('SP', 2, 'SAME', 'b', now())`);
      await new Promise((r) => setTimeout(r, 1100));
      const r = await applyRound(legacy, await sinks(), 50);
      expect(r.failed).toEqual([{ table: D1_TABLE, pending: 2, error: expect.stringMatching(/UNIQUE/i) }]);
      expect(r.changes).toBe(2); // the other table's two inserts
      const b = await backlog(legacy);
      expect(b.perTable).toEqual({ [D1_TABLE]: 2 });
      expect(b.lagSeconds).toBeGreaterThan(1);
      expect(await pgRows(target, `matchauto.${PG_TABLE}`)).toHaveLength(2);
    } finally {
      await d1.batch([{ sql: "DROP INDEX plates_code", params: [] }]);
    }
    await drain();
    await expectStoresEqualLegacy();
  });
});

describe("after the final cut, the drain keeps what the new stores changed since", () => {
  it("a row the new store rewrote after its legacy change is kept; the other changes are applied", async () => {
    await reset(`INSERT INTO $T VALUES ('SP', 1, 'A', 'v1', '2025-01-01'), ('SP', 2, 'B', 'v1', '2025-01-01'),
                                      ('SP', 3, 'C', 'v1', '2025-01-01'), ('SP', 4, 'D', 'v1', '2025-01-01')`);
    await backfillTable(legacy, d1, d1Spec, { batchRows: 10, settleSeconds: 0 });
    await backfillPgTable(legacy, target, pgSpec, { batchRows: 10, settleSeconds: 0 });
    // Legacy writes from just before the cut, still in the log …
    await write(
      `UPDATE $T SET note = 'legacy late', updated_at = now() WHERE id IN (1, 3); DELETE FROM $T WHERE id IN (2, 4)`,
    );
    await new Promise((r) => setTimeout(r, 20));
    // … then the Workers, writing only the new stores, rewrite rows 1 and 2.
    const now = new Date().toISOString().replace("Z", "000Z");
    await d1.batch([
      { sql: `UPDATE ${D1_TABLE} SET note = 'post-cut', updated_at = ? WHERE id IN (1, 2)`, params: [now] },
    ]);
    await target.query(
      `UPDATE matchauto.${PG_TABLE} SET note = 'post-cut', updated_at = now() WHERE id IN (1, 2)`,
    );

    const r = await applyRound(legacy, await sinks(), 50, { afterCut: true });
    expect(r).toMatchObject({ failed: [], changes: 8, kept: 4, upserts: 2, deletes: 2 });
    expect((await actualD1()).map((row) => [row[1], row[3]])).toEqual([
      ["1", "post-cut"],
      ["2", "post-cut"],
      ["3", "legacy late"],
    ]);
    expect((await pgRows(target, `matchauto.${PG_TABLE}`)).map((row) => [row[1], row[3]])).toEqual([
      ["1", "post-cut"],
      ["2", "post-cut"],
      ["3", "legacy late"],
    ]);
    expect((await backlog(legacy)).pending).toBe(0);
  });
});

describe("the backfill never hides a row", () => {
  it("rows dated in the future or still settling are copied ahead of the watermark, reported and counted as pending", async () => {
    await reset(
      `INSERT INTO $T VALUES ('SP', 1, 'A', 'past', '2025-01-01'), ('SP', 2, 'B', 'future', '2031-01-01'),
                             ('SP', 3, 'C', 'forever', 'infinity'), ('SP', 4, 'D', 'now', now()), ('SP', 5, 'E', 'no time', NULL)`,
    );
    const d1Result = await backfillTable(legacy, d1, d1Spec, { batchRows: 2, settleSeconds: 30 });
    const pgResult = await backfillPgTable(legacy, target, pgSpec, { batchRows: 2, settleSeconds: 30 });
    for (const r of [d1Result, pgResult])
      expect(r).toMatchObject({ copied: 2, ahead: 3, heldBack: { settling: 1, future: 2 }, pending: 3 });
    await expectStoresEqualLegacy();
    // The watermark stays before them: the next run reads them again (and nothing else).
    expect(await backfillTable(legacy, d1, d1Spec, { batchRows: 2, settleSeconds: 30 })).toMatchObject({
      copied: 0,
      ahead: 3,
      pending: 3,
    });
    expect(await backfillTable(legacy, d1, d1Spec, { batchRows: 2, settleSeconds: 0 })).toMatchObject({
      copied: 1,
      ahead: 2,
      heldBack: { settling: 0, future: 2 },
    });
  });
});

describe("char(n) has one canonical form on every path", () => {
  const seed = `INSERT INTO $T VALUES ('R', 1, 'AB', 'short codes', '2025-01-01'), ('SP', 2, 'ABCD', 'full', '2025-01-02'), ('R', 3, NULL, 'gone soon', '2025-01-03')`;

  const open = async (): Promise<{ pg: Database; newPg: Database; edge: Database }> => {
    const timeouts = { connectMs: 10_000, statementMs: 60_000 };
    const pg = postgresDatabase(await PgConnection.open(server.url, "legacy", timeouts), "legacy", "public");
    const newPg = postgresDatabase(
      await PgConnection.open(server.urlFor("target"), "new schema", timeouts),
      "new schema",
      "matchauto",
    );
    const edge = d1Database(
      {
        label: "local D1",
        query: async (sql, params) => (await d1.all(sql, params)) as never,
        close: async () => undefined,
      },
      "local D1",
    );
    return { pg, newPg, edge };
  };

  it("backfill and capture write it without trailing blanks, deletes find it, and validate finds equal stores equal", async () => {
    await reset(seed);
    await backfillTable(legacy, d1, d1Spec, { batchRows: 100, settleSeconds: 0 });
    await backfillPgTable(legacy, target, pgSpec, { batchRows: 100, settleSeconds: 0 });
    expect((await actualD1()).map((r) => [r[0], r[2]])).toEqual([
      ["R", "AB"],
      ["R", null],
      ["SP", "ABCD"],
    ]);
    // Capture: an update of a padded value, the delete of a row whose key is padded.
    await write(`UPDATE $T SET code = 'XY' WHERE id = 2; DELETE FROM $T WHERE id = 3`);
    await drain();
    expect(await d1.all(`SELECT region, id, code FROM ${D1_TABLE} ORDER BY id`)).toEqual([
      { region: "R", id: 1, code: "AB" },
      { region: "SP", id: 2, code: "XY" },
    ]);
    await expectStoresEqualLegacy();

    const { pg, newPg, edge } = await open();
    try {
      const toD1 = await compareTable(D1_TABLE, pg, edge, CMP);
      expect([toD1.method, toD1.identical, toD1.totals]).toEqual(["checksum-bisection", true, NONE]);
      const toPg = await compareTable(PG_TABLE, pg, newPg, CMP);
      expect([toPg.identical, toPg.totals]).toEqual([true, NONE]);

      // A planted difference in each store is still found.
      await d1.batch([{ sql: `UPDATE ${D1_TABLE} SET code = 'AB ' WHERE id = 1`, params: [] }]);
      await target.query(`UPDATE matchauto.${PG_TABLE} SET code = 'xy' WHERE id = 2`);
      const planted = await compareTable(D1_TABLE, pg, edge, CMP);
      expect(planted.identical).toBe(false);
      expect(planted.differences).toEqual({ missing: [], extra: [], changed: ["(region=R, id=1)"] });
      const plantedPg = await compareTable(PG_TABLE, pg, newPg, CMP);
      expect(plantedPg.differences).toEqual({ missing: [], extra: [], changed: ["(region=SP, id=2)"] });
    } finally {
      await Promise.all([pg.close(), newPg.close(), edge.close()]);
    }
  });

  it("validate's native checksum compares char(2) with char(3) by value, and still finds a planted difference", async () => {
    await admin.query(
      `DROP TABLE IF EXISTS codes; CREATE TABLE codes (id int PRIMARY KEY, c char(2)); INSERT INTO codes VALUES (1, 'R'), (2, 'SP'), (3, NULL)`,
    );
    await target.query(
      `DROP TABLE IF EXISTS matchauto.codes; CREATE TABLE matchauto.codes (id int PRIMARY KEY, c char(3)); INSERT INTO matchauto.codes VALUES (1, 'R'), (2, 'SP'), (3, NULL)`,
    );
    const { pg, newPg, edge } = await open();
    try {
      const equal = await compareTable("codes", pg, newPg, CMP);
      expect([equal.method, equal.identical]).toEqual(["native-checksum", true]);
      await target.query("UPDATE matchauto.codes SET c = 'RJ' WHERE id = 1");
      const planted = await compareTable("codes", pg, newPg, CMP);
      expect([planted.method, planted.identical]).toEqual(["native-checksum", false]);
      expect(planted.differences).toEqual({ missing: [], extra: [], changed: ["id=1"] });
    } finally {
      await Promise.all([pg.close(), newPg.close(), edge.close()]);
    }
  });
});

type Stamp = "now" | "past" | "older" | "null" | "future" | "infinity";
const STAMP: Record<Stamp, string> = {
  now: "now()",
  past: "'2025-06-01 12:00:00.5+00'",
  older: "'2020-01-01'",
  null: "NULL",
  future: "'2031-01-01'",
  infinity: "'infinity'",
};
type Step =
  | { t: "insert"; region: string; id: number; code: string; ts: Stamp }
  | { t: "update"; region: string; id: number; ts: Stamp }
  | { t: "rekey"; region: string; id: number; to: number }
  | { t: "swap"; region: string; a: number; b: number }
  | { t: "delete"; region: string; id: number }
  | { t: "reinsert"; region: string; id: number; ts: Stamp }
  | { t: "backfill"; store: "d1" | "pg"; settle: 0 | 30; kill?: number }
  | { t: "apply"; limit: number; kill?: number; after?: boolean };

const region = fc.constantFrom("SP", "R", "MG");
const id = fc.integer({ min: 1, max: 6 });
const stamp = fc.constantFrom<Stamp>("now", "past", "older", "null", "future", "infinity");
const kill = fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined });
const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    t: fc.constant("insert" as const),
    region,
    id,
    code: fc.constantFrom("A", "BC", "DEFG"),
    ts: stamp,
  }),
  fc.record({ t: fc.constant("update" as const), region, id, ts: stamp }),
  fc.record({ t: fc.constant("rekey" as const), region, id, to: id }),
  fc.record({ t: fc.constant("swap" as const), region, a: id, b: id }),
  fc.record({ t: fc.constant("delete" as const), region, id }),
  fc.record({ t: fc.constant("reinsert" as const), region, id, ts: stamp }),
  fc.record({
    t: fc.constant("backfill" as const),
    store: fc.constantFrom("d1" as const, "pg" as const),
    settle: fc.constantFrom(0 as const, 30 as const),
    kill,
  }),
  fc.record({
    t: fc.constant("apply" as const),
    limit: fc.integer({ min: 1, max: 20 }),
    kill,
    after: fc.boolean(),
  }),
);

class Killed extends Error {}

/** A D1 target whose `kill`-th batch dies, before or after D1 committed it. */
function dyingD1(killAt: number | undefined, after: boolean): D1Target {
  let calls = 0;
  return {
    description: d1.description,
    all: (sql, params) => d1.all(sql, params),
    close: async () => undefined,
    async batch(statements) {
      calls += 1;
      if (calls === killAt && !after) throw new Killed("killed before the batch");
      await d1.batch(statements);
      if (calls === killAt) throw new Killed("killed after the batch committed");
    },
  };
}

/** The new schema's client, dying at its `kill`-th COMMIT, before or after it ran. */
function dyingPg(killAt: number | undefined, after: boolean): Client {
  let commits = 0;
  const real = target.query.bind(target) as (...a: unknown[]) => unknown;
  const commit = async (...args: unknown[]) => {
    commits += 1;
    if (commits === killAt && !after) throw new Killed("killed before COMMIT");
    const r = await real(...args);
    if (commits === killAt) throw new Killed("killed after COMMIT");
    return r;
  };
  // Not async for the rest: query(copyFrom(…)) must hand back the stream itself.
  const query = (...args: unknown[]) => (args[0] === "COMMIT" ? commit(...args) : real(...args));
  return new Proxy(target, {
    get: (t, p) => (p === "query" ? query : Reflect.get(t, p)),
  });
}

async function play(s: Step): Promise<void> {
  const where = (i: number) =>
    `region = '${s.t === "backfill" || s.t === "apply" ? "" : s.region}' AND id = ${i}`;
  switch (s.t) {
    case "insert":
      return write(
        `INSERT INTO $T SELECT '${s.region}', ${s.id}, '${s.code}', 'v0', ${STAMP[s.ts]} WHERE NOT EXISTS (SELECT 1 FROM $T WHERE ${where(s.id)})`,
      );
    case "update":
      return write(
        `UPDATE $T SET note = coalesce(note, '') || '+', updated_at = ${STAMP[s.ts]} WHERE ${where(s.id)}`,
      );
    case "rekey":
      return write(
        `UPDATE $T SET id = ${s.to} WHERE ${where(s.id)} AND NOT EXISTS (SELECT 1 FROM $T WHERE ${where(s.to)})`,
      );
    case "swap":
      if (s.a === s.b) return;
      return write(
        `BEGIN; UPDATE $T SET id = -1 WHERE ${where(s.a)}; UPDATE $T SET id = ${s.a} WHERE ${where(s.b)}; UPDATE $T SET id = ${s.b} WHERE ${where(-1)}; COMMIT`,
      );
    case "delete":
      return write(`DELETE FROM $T WHERE ${where(s.id)}`);
    case "reinsert":
      return write(
        `BEGIN; DELETE FROM $T WHERE ${where(s.id)}; INSERT INTO $T VALUES ('${s.region}', ${s.id}, 'RE', 'again', ${STAMP[s.ts]}); COMMIT`,
      );
    case "backfill": {
      const opts = { batchRows: 2, settleSeconds: s.settle };
      const run =
        s.store === "d1"
          ? backfillTable(legacy, dyingD1(s.kill, false), d1Spec, opts)
          : backfillPgTable(legacy, dyingPg(s.kill, true), pgSpec, opts);
      await run.catch((error) => {
        if (!(error instanceof Killed)) throw error;
      });
      return;
    }
    case "apply": {
      const r = await applyRound(
        legacy,
        await sinks(dyingD1(s.kill, Boolean(s.after)), dyingPg(s.kill, Boolean(s.after))),
        s.limit,
      );
      // A killed table is a failed one: its changes stay in the log for the next round.
      for (const f of r.failed) expect(f.error).toMatch(/^killed/);
      return;
    }
  }
}

it("randomised: any interleaving of legal changes, backfills and capture rounds, some killed, leaves both stores equal to legacy", async () => {
  const seed = fc.array(fc.record({ region, id, code: fc.constantFrom("A", "BC", "DEFG"), ts: stamp }), {
    maxLength: 8,
  });
  await fc.assert(
    fc.asyncProperty(seed, fc.array(step, { minLength: 5, maxLength: 30 }), async (rows, steps) => {
      const values = [...new Map(rows.map((r) => [`${r.region}/${r.id}`, r])).values()]
        .map((r) => `('${r.region}', ${r.id}, '${r.code}', 'seed', ${STAMP[r.ts]})`)
        .join(", ");
      await reset(values ? `INSERT INTO $T VALUES ${values}` : "");
      for (const s of steps) await play(s);
      // The operator's finish: a backfill that is not killed, then the log drained.
      await backfillTable(legacy, d1, d1Spec, { batchRows: 3, settleSeconds: 0 });
      await backfillPgTable(legacy, target, pgSpec, { batchRows: 3, settleSeconds: 0 });
      await drain();
      await expectStoresEqualLegacy();
    }),
    { numRuns: Number(process.env.CORRECTNESS_RUNS ?? 60) },
  );
});
