/**
 * Over 300 lines: one benchmark, and every figure in it is measured in the same run (servers, data,
 * the baseline, the runs and the report), so that ratios compare like with like.
 *
 * `cutover bench validate [--rows N] [--runs R] [--json]`: how fast `validate` proves two PostgreSQL
 * tables equal, and how fast it locates 10 planted differences, beside what bounds it — all measured in
 * this one run, on two real PostgreSQL servers started here (the machine's PostgreSQL, loopback only):
 *
 * - floor: one native 64-bit checksum aggregate of every row per side, `sum(hashtextextended(t::text, 0))`,
 *   both sides at once — the least any checksum comparison must do;
 * - pg_comparator (Debian's `postgresql-comparator`, its C checksum `ck` loaded in both servers);
 * - streaming: both tables read out in key order and compared row by row in Node;
 * - validate (the CLI, as an operator runs it), identical, then with 10 differences (changed, missing,
 *   extra, at both ends of the key space): wall time, statements per side, peak RSS.
 *
 * `--runs` paired rounds (default 3), each measuring every contender back to back; medians, and ratios
 * to the floor and to pg_comparator as medians of per-round ratios.
 */
import { PROJECT_ROOT as ROOT } from "../../tooling/root";
import { execFile, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Client } from "pg";
import { startPostgres, type PgServer } from "../../tooling/local-postgres";
import { UsageError, newCommand, type Leaf, wholeNumber } from "../shell";

const TABLE = "chat_message";
const PG_COMPARATOR = "/usr/bin/pg_comparator";

/** A ChatMessage-like table (bigint key, foreign key, ~100-char text, timestamptz, jsonb, boolean), seeded. */
const SCHEMA = `
CREATE TABLE chat_conversation (id bigint PRIMARY KEY, title text NOT NULL);
CREATE TABLE ${TABLE} (
  id bigint PRIMARY KEY,
  conversation_id bigint NOT NULL REFERENCES chat_conversation (id),
  body text NOT NULL,
  created_at timestamptz NOT NULL,
  meta jsonb NOT NULL,
  read boolean NOT NULL
);`;
const load = (rows: number) => `
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
const plant = (rows: number) => `
UPDATE ${TABLE} SET body = body || '!' WHERE id IN (1, ${Math.floor(rows / 2)}, ${rows});
UPDATE ${TABLE} SET read = NOT read WHERE id = ${Math.floor(rows / 3)};
DELETE FROM ${TABLE} WHERE id IN (2, ${Math.floor(rows / 4)}, ${rows - 1});
INSERT INTO ${TABLE} SELECT id + ${rows} + 10, conversation_id, body, created_at, meta, read FROM ${TABLE} WHERE id IN (3, 4, 5);
VACUUM ANALYZE ${TABLE};`;

/** Runs the statements one by one (VACUUM cannot run inside the transaction a multi-statement query is). */
async function sql(server: PgServer, text: string): Promise<void> {
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

const seconds = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e9;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function floor(a: PgServer, b: PgServer): Promise<number> {
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
async function streaming(a: PgServer, b: PgServer): Promise<number> {
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

function pgComparator(a: PgServer, b: PgServer): Promise<{ seconds: number; differences: number }> {
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

interface ValidateRun {
  readonly seconds: number;
  readonly identical: boolean;
  readonly differences: number;
  readonly statements: { source: number; target: number };
  readonly peakRssMiB: number;
  /** Connect to verdict, inside the process (without Node and tsx start-up). */
  readonly inProcess: number;
}

/** The compiled `cutover`, as a user runs it: its start-up is part of every figure. */
const COMPILED = join(ROOT, "dist/cli/main.js");

/** Median wall time of a node process, `times` runs: start-up as a user meets it. */
function startup(args: readonly string[], times = 7): number {
  const walls: number[] = [];
  for (let i = 0; i < times; i++) {
    const start = process.hrtime.bigint();
    const r = spawnSync(process.execPath, [...args], { cwd: ROOT, encoding: "utf8" });
    walls.push(seconds(start));
    if (r.status !== 0) throw new Error(`node ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  }
  return median(walls);
}

function validate(a: PgServer, b: PgServer): ValidateRun {
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

async function main(argv: readonly string[]): Promise<number> {
  const program = newCommand("cutover bench validate")
    .option("--rows <n>", "rows in the table", wholeNumber("a whole number of rows", 1000), 1_000_000)
    .option(
      "--runs <n>",
      "runs per measure (the median is reported)",
      wholeNumber("a whole number of runs", 1),
      3,
    )
    .option("--json", "one JSON document");
  program.parse(argv, { from: "user" });
  const opts = program.opts<{ rows: number; runs: number; json?: boolean }>();
  if (!existsSync(COMPILED))
    throw new UsageError(`${COMPILED} is missing`, "npm run build (npm ci runs it) compiles cutover first");
  if (!existsSync(PG_COMPARATOR))
    throw new Error(
      `${PG_COMPARATOR} is missing; hint: apt-get install postgresql-comparator (.ci/run does)`,
    );
  const log = (m: string) => !opts.json && process.stderr.write(`${m}\n`);
  // Start-up before the servers load the machine: node alone (the baseline), then the bin.
  const starts = {
    node: startup(["-e", "0"]),
    help: startup([COMPILED, "--help"]),
    validateHelp: startup([COMPILED, "check", "validate", "--help"]),
  };
  const conf = { shared_buffers: "1GB", max_parallel_workers_per_gather: "0", jit: "off" };
  const [a, b] = await Promise.all([
    startPostgres({ system: true, extraConf: conf }),
    startPostgres({ system: true, extraConf: conf }),
  ]);
  try {
    log(`loading ${opts.rows} rows into both servers…`);
    let t = process.hrtime.bigint();
    await Promise.all([a, b].map((s) => sql(s, SCHEMA + load(opts.rows) + "CREATE EXTENSION pgcmp;")));
    log(`  loaded in ${seconds(t).toFixed(1)} s`);
    await floor(a, b); // warm both caches
    // Paired runs: each round measures every contender back to back, so a machine that speeds up or
    // slows down during the run moves them together; the ratios are medians of per-round ratios.
    const floors1: number[] = [];
    const cmps1: number[] = [];
    const streams: number[] = [];
    const v1: ValidateRun[] = [];
    for (let i = 0; i < opts.runs; i++) {
      floors1.push(await floor(a, b));
      cmps1.push((await pgComparator(a, b)).seconds);
      v1.push(validate(a, b));
      streams.push(await streaming(a, b));
      log(
        `  round ${i + 1}: floor ${floors1[i].toFixed(2)} s, pg_comparator ${cmps1[i].toFixed(2)} s, validate ${v1[i].seconds.toFixed(2)} s, streaming ${streams[i].toFixed(2)} s`,
      );
    }
    if (!v1.every((v) => v.identical)) throw new Error("validate found differences between identical tables");

    t = process.hrtime.bigint();
    await sql(b, plant(opts.rows));
    log(`planted 10 differences (${seconds(t).toFixed(1)} s)`);
    await floor(a, b);
    const floors2: number[] = [];
    const cmps2: number[] = [];
    const v2: ValidateRun[] = [];
    let cmp = { seconds: 0, differences: 0 };
    for (let i = 0; i < opts.runs; i++) {
      floors2.push(await floor(a, b));
      cmp = await pgComparator(a, b);
      cmps2.push(cmp.seconds);
      v2.push(validate(a, b));
      log(
        `  round ${i + 1}: floor ${floors2[i].toFixed(2)} s, pg_comparator ${cmps2[i].toFixed(2)} s, validate ${v2[i].seconds.toFixed(2)} s`,
      );
    }
    if (!v2.every((v) => v.differences === 10))
      throw new Error(`validate found ${v2.map((v) => v.differences).join(", ")} differences, not 10`);
    const ratio = (xs: number[], ys: number[]) => median(xs.map((x, i) => x / ys[i]));
    const floorIdentical = median(floors1);
    const floorDiff = median(floors2);
    const cmpIdentical = median(cmps1);
    const cmpDiff = median(cmps2);
    const streamIdentical = median(streams);
    const validateIdentical = median(v1.map((v) => v.seconds));
    const validateDiff = median(v2.map((v) => v.seconds));
    const last = v2[v2.length - 1];
    const result = {
      rows: opts.rows,
      runs: opts.runs,
      startupSeconds: starts,
      seconds: {
        floor: floorIdentical,
        floorWithDifferences: floorDiff,
        pgComparatorIdentical: cmpIdentical,
        pgComparatorDifferences: cmpDiff,
        streamingIdentical: streamIdentical,
        validateIdentical,
        validateIdenticalInProcess: median(v1.map((v) => v.inProcess)),
        validateDifferences: validateDiff,
        validateDifferencesInProcess: median(v2.map((v) => v.inProcess)),
      },
      ratios: {
        validateIdenticalToFloor: ratio(
          v1.map((v) => v.seconds),
          floors1,
        ),
        validateIdenticalToPgComparator: ratio(
          v1.map((v) => v.seconds),
          cmps1,
        ),
        validateIdenticalInProcessToFloor: ratio(
          v1.map((v) => v.inProcess),
          floors1,
        ),
        validateDifferencesToFloor: ratio(
          v2.map((v) => v.seconds),
          floors2,
        ),
        validateDifferencesToPgComparator: ratio(
          v2.map((v) => v.seconds),
          cmps2,
        ),
        validateDifferencesInProcessToFloor: ratio(
          v2.map((v) => v.inProcess),
          floors2,
        ),
        pgComparatorToFloor: ratio(cmps1, floors1),
        pgComparatorDifferencesToFloor: ratio(cmps2, floors2),
        streamingToFloor: ratio(streams, floors1),
      },
      pgComparatorDifferencesFound: cmp.differences,
      statementsPerSide: { identical: v1[0].statements, differences: last.statements },
      peakRssMiB: Math.max(...v1.map((v) => v.peakRssMiB), ...v2.map((v) => v.peakRssMiB)),
    };
    if (opts.json) console.log(JSON.stringify(result, null, 2));
    else {
      const s = result.seconds;
      const f = (x: number) => `${x.toFixed(2)} s`;
      const r = (x: number) => `${x.toFixed(2)}×`;
      const rt = result.ratios;
      const rows = [
        ["", "wall", "÷ floor", "÷ pg_comparator"],
        [
          "floor: sum(hashtextextended(t::text, 0)), both sides",
          f(s.floor),
          "1.00×",
          r(1 / rt.pgComparatorToFloor),
        ],
        ["pg_comparator (ck), identical", f(s.pgComparatorIdentical), r(rt.pgComparatorToFloor), "1.00×"],
        [
          "streaming (both read in key order, compared in Node)",
          f(s.streamingIdentical),
          r(rt.streamingToFloor),
          r(rt.streamingToFloor / rt.pgComparatorToFloor),
        ],
        [
          "validate, identical",
          f(s.validateIdentical),
          r(rt.validateIdenticalToFloor),
          r(rt.validateIdenticalToPgComparator),
        ],
        [
          "  of which in-process (connect → verdict)",
          f(s.validateIdenticalInProcess),
          r(rt.validateIdenticalInProcessToFloor),
          "",
        ],
        [
          "floor, with the 10 differences planted",
          f(s.floorWithDifferences),
          "1.00×",
          r(1 / rt.pgComparatorDifferencesToFloor),
        ],
        [
          "pg_comparator (ck), 10 differences",
          f(s.pgComparatorDifferences),
          r(rt.pgComparatorDifferencesToFloor),
          "1.00×",
        ],
        [
          "validate, 10 differences located",
          f(s.validateDifferences),
          r(rt.validateDifferencesToFloor),
          r(rt.validateDifferencesToPgComparator),
        ],
        [
          "  of which in-process",
          f(s.validateDifferencesInProcess),
          r(rt.validateDifferencesInProcessToFloor),
          "",
        ],
      ];
      const w = rows[0].map((_, i) => Math.max(...rows.map((x) => x[i].length)));
      console.log(
        `cutover bench validate — ${opts.rows} rows (~199 bytes each), two PostgreSQL servers on loopback; medians of ${opts.runs} paired rounds (ratios: medians of per-round ratios)`,
      );
      for (const x of rows)
        console.log(x.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join("  "));
      console.log(
        `start-up (medians of 7): node -e 0 ${f(starts.node)}; cutover --help ${f(starts.help)} (${r(starts.help / starts.node)} node's); ` +
          `cutover check validate --help ${f(starts.validateHelp)} (${r(starts.validateHelp / starts.node)})`,
      );
      console.log(
        `statements per side: identical ${result.statementsPerSide.identical.source}/${result.statementsPerSide.identical.target}, ` +
          `10 differences ${result.statementsPerSide.differences.source}/${result.statementsPerSide.differences.target}; ` +
          `validate peak RSS ${result.peakRssMiB} MiB; pg_comparator reported ${cmp.differences} differences`,
      );
    }
    return 0;
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
}

export const leaf: Leaf = {
  main,
};
