/**
 * The benchmarks run, at a small size: each ends with exit 0 and prints its figures beside the baseline
 * it measured in the same run. (Their figures are for the notes, not asserted: timing on a shared
 * machine flakes; what is asserted is that a benchmark still works after a change.)
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "../support/cli";

jest.setTimeout(600_000);

const bench = (...args: string[]) =>
  spawnSync(process.execPath, [join(ROOT, "dist/cli/main.js"), "bench", ...args], {
    cwd: ROOT,
    encoding: "utf8",
    env: { PATH: process.env.PATH, HOME: process.env.HOME, WRANGLER_SEND_METRICS: "false" },
    timeout: 600_000,
  });

it("bench plan synthesizes every phase of the migrations' routes, beside a one-resource baseline", () => {
  const r = bench("plan");
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  expect(r.stdout).toMatch(/^staging avvivo canary:100 +\d+ ms$/m);
  expect(r.stdout).toMatch(/^prod matchauto read-switch:50 +\d+ ms$/m);
  expect(r.stdout).toMatch(/^ratio cutover \/ baseline: +[0-9.]+x$/m);
});

it("bench validate compares validate with the floor and pg_comparator, start-up included", () => {
  const r = bench("validate", "--rows", "2000", "--runs", "1", "--json");
  expect(r.status).toBe(0);
  const out = JSON.parse(r.stdout);
  expect(out.rows).toBe(2000);
  expect(out.pgComparatorDifferencesFound).toBe(10);
  for (const k of ["node", "help", "validateHelp"]) expect(out.startupSeconds[k]).toBeGreaterThan(0);
  expect(out.ratios.validateIdenticalToPgComparator).toBeGreaterThan(0);
});

it("bench backfill and bench capture run at a small size", () => {
  const backfill = bench("backfill", "--rows", "2000", "--baseline-rows", "100");
  expect(backfill.status).toBe(0);
  expect(backfill.stdout).toMatch(/rows\/s/);
  const capture = bench("capture", "--rows", "2000", "--baseline-rows", "100", "--load-seconds", "1");
  expect(capture.status).toBe(0);
  expect(capture.stdout).toMatch(/rows\/s|rows per second|lag/i);
});
