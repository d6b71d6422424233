/**
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
import { existsSync } from "node:fs";
import { startPostgres } from "../../tooling/local-postgres";
import {
  PG_COMPARATOR,
  SCHEMA,
  load,
  plant,
  sql,
  seconds,
  median,
  floor,
  streaming,
  pgComparator,
  type ValidateRun,
  COMPILED,
  startup,
  validate,
} from "../../ops/bench/validate-contenders";
import { UsageError, newCommand, type Leaf, wholeNumber } from "../shell";

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
