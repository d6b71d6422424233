/**
 * What `cutover bench validate` measures, each contender as a function of the two servers: the floor
 * (one native checksum aggregate per side), pg_comparator, a streaming comparison in Node, and the
 * compiled `cutover check validate` as a user runs it; the seeded table and the planted differences.
 */
import { execFile, spawnSync } from "node:child_process";
import { join } from "node:path";
import { Client } from "pg";
import type { PgServer } from "../../tooling/local-postgres";
import { PROJECT_ROOT as ROOT } from "../../tooling/root";

export const TABLE = "chat_message";
export const PG_COMPARATOR = "/usr/bin/pg_comparator";

/** A ChatMessage-like table (bigint key, foreign key, ~100-char text, timestamptz, jsonb, boolean), seeded. */
export const SCHEMA = `
CREATE TABLE chat_conversation (id bigint PRIMARY KEY, title text NOT NULL);
CREATE TABLE ${TABLE} (
  id bigint PRIMARY KEY,
  conversation_id bigint NOT NULL REFERENCES chat_conversation (id),
  body text NOT NULL,
  created_at timestamptz NOT NULL,
  meta jsonb NOT NULL,
  read boolean NOT NULL
);`;
export const load = (rows: number) => `
INSERT INTO chat_conversation SELECT c, 'conversation ' || c FROM generate_series(1, ${Math.max(1, Math.ceil(rows / 50))}) c;
INSERT INTO ${TABLE}
SELECT g, 1 + (g - 1) / 50,
       rpad('message ' || g || ' ' || md5(g::text), 100, ' lorem ipsum dolor sit amet'),
       timestamptz '2026-01-01 00:00:00+00' + g * interval '1 second',
       jsonb_build_object('client', 'web', 'seq', g, 'tags', jsonb_build_array('a', g % 7)),
       g % 3 = 0
FROM generate_series(1, ${rows}) g;
VACUUM ANALYZE chat_conversation, ${TABLE};`;

/** Ten differences at both ends of the key space and in the middle. */
export const plant = (rows: number) => `
UPDATE ${TABLE} SET body = body || '!' WHERE id IN (1, ${Math.floor(rows / 2)}, ${rows});
UPDATE ${TABLE} SET read = NOT read WHERE id = ${Math.floor(rows / 3)};
DELETE FROM ${TABLE} WHERE id IN (2, ${Math.floor(rows / 4)}, ${rows - 1});
INSERT INTO ${TABLE} SELECT id + ${rows} + 10, conversation_id, body, created_at, meta, read FROM ${TABLE} WHERE id IN (3, 4, 5);
VACUUM ANALYZE ${TABLE};`;

/** Runs the statements one by one (VACUUM cannot run inside the transaction a multi-statement query is). */
export async function sql(server: PgServer, text: string): Promise<void> {
  const c = new Client({ connectionString: server.url });
  await c.connect();
  try {
    for (const statement of text
      .split(";")
      .map((x) => x.trim())
      .filter(Boolean))
      await c.query(statement);
  } finally {
    await c.end();
  }
}

export const seconds = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e9;
export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function floor(a: PgServer, b: PgServer): Promise<number> {
  const start = process.hrtime.bigint();
  await Promise.all(
    [a, b].map(async (s) => {
      const c = new Client({ connectionString: s.url });
      await c.connect();
      await c.query(`SELECT count(*), sum(hashtextextended(t::text, 0)) FROM ${TABLE} t`);
      await c.end();
    }),
  );
  return seconds(start);
}

/** Both tables read out in key order and merge-compared in Node (cursor batches of 10k rows). */
export async function streaming(a: PgServer, b: PgServer): Promise<number> {
  const start = process.hrtime.bigint();
  const open = async (s: PgServer) => {
    const c = new Client({ connectionString: s.url });
    await c.connect();
    await c.query("BEGIN");
    await c.query(`DECLARE cur NO SCROLL CURSOR FOR SELECT id, t::text AS r FROM ${TABLE} t ORDER BY id`);
    return c;
  };
  const [x, y] = await Promise.all([open(a), open(b)]);
  const fetch = (c: Client) => c.query<{ id: string; r: string }>("FETCH 10000 FROM cur").then((r) => r.rows);
  let [ra, rb] = await Promise.all([fetch(x), fetch(y)]);
  let [i, j] = [0, 0];
  let differences = 0;
  while (ra.length || rb.length) {
    if (i === ra.length && ra.length) [ra, i] = [await fetch(x), 0];
    if (j === rb.length && rb.length) [rb, j] = [await fetch(y), 0];
    if (!ra.length && !rb.length) break;
    const order =
      i >= ra.length ? 1 : j >= rb.length ? -1 : Math.sign(Number(BigInt(ra[i].id) - BigInt(rb[j].id)));
    if (order === 0) {
      if (ra[i].r !== rb[j].r) differences++;
      i++;
      j++;
    } else {
      differences++;
      if (order < 0) i++;
      else j++;
    }
  }
  await Promise.all([x, y].map((c) => c.end()));
  if (differences !== 0)
    throw new Error(`streaming found ${differences} differences between identical tables`);
  return seconds(start);
}

export function pgComparator(a: PgServer, b: PgServer): Promise<{ seconds: number; differences: number }> {
  const conn = (s: PgServer) =>
    `pgsql://${s.user}:${encodeURIComponent(s.password)}@${s.host}:${s.port}/postgres/public.${TABLE}?id:conversation_id,body,created_at,meta,read`;
  const start = process.hrtime.bigint();
  return new Promise((resolve, reject) =>
    execFile(
      PG_COMPARATOR,
      ["--use-key", "--checksum-function=ck", "--max-ratio=2.0", conn(a), conn(b)],
      { maxBuffer: 64 << 20 },
      (error, stdout, stderr) => {
        const out = `${stdout}`.trim();
        // pg_comparator prints one line per difference (UPDATE / INSERT / DELETE) and exits 1 when there are some.
        if (error && (error as { code?: number }).code !== 1)
          return reject(new Error(`pg_comparator: ${stderr || error.message}`));
        resolve({ seconds: seconds(start), differences: out ? out.split("\n").length : 0 });
      },
    ),
  );
}

export interface ValidateRun {
  readonly seconds: number;
  readonly identical: boolean;
  readonly differences: number;
  readonly statements: { source: number; target: number };
  readonly peakRssMiB: number;
  /** Connect to verdict, inside the process (without Node and tsx start-up). */
  readonly inProcess: number;
}

/** The compiled `cutover`, as a user runs it: its start-up is part of every figure. */
export const COMPILED = join(ROOT, "dist/cli/main.js");

/** Median wall time of a node process, `times` runs: start-up as a user meets it. */
export function startup(args: readonly string[], times = 7): number {
  const walls: number[] = [];
  for (let i = 0; i < times; i++) {
    const start = process.hrtime.bigint();
    const r = spawnSync(process.execPath, [...args], { cwd: ROOT, encoding: "utf8" });
    walls.push(seconds(start));
    if (r.status !== 0) throw new Error(`node ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  }
  return median(walls);
}

export function validate(a: PgServer, b: PgServer): ValidateRun {
  const start = process.hrtime.bigint();
  const r = spawnSync(
    process.execPath,
    [
      COMPILED,
      "check",
      "validate",
      "--source",
      a.url,
      "--target",
      b.url,
      "--tables",
      TABLE,
      "--json",
      "--no-progress",
    ],
    { cwd: ROOT, encoding: "utf8", maxBuffer: 64 << 20 },
  );
  const wall = seconds(start);
  if (r.status !== 0 && r.status !== 1) throw new Error(`validate exited ${r.status}: ${r.stderr}`);
  const report = JSON.parse(r.stdout);
  const t = report.tables[0].totals;
  return {
    seconds: wall,
    identical: report.identical,
    differences: t.missing + t.extra + t.changed,
    statements: report.stats.statements,
    peakRssMiB: report.stats.peakRssMiB,
    inProcess: report.stats.seconds,
  };
}
