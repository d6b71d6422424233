/**
 * The compiled `cutover` (dist/, built by `npm test` before jest and by `npm ci`'s prepare): the tree
 * lists every command of the table, each command answers --help as `cutover <words>`, the exit codes
 * have their page, and a wrong command is a usage error with a hint.
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { COMMANDS } from "../../cli/table";
import { EXIT_CODES } from "../../cli/exit-codes";
import { ROOT } from "../support/cli";

const BIN = join(ROOT, "dist/cli/main.js");
const cutover = (...args: string[]) =>
  spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });

/** Newest modification time of the TypeScript the bin is compiled from. */
function newestSource(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (e.name.endsWith(".ts")) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

it("is compiled from the current sources (npm test builds it first)", () => {
  const built = statSync(BIN).mtimeMs;
  for (const dir of ["cli", "ops"])
    expect(built).toBeGreaterThanOrEqual(newestSource(join(ROOT, dir)) - 2000);
});

it("--help lists every command of the table, and the exit-code page", () => {
  const r = cutover("--help");
  expect(r.status).toBe(0);
  for (const c of COMMANDS)
    expect(r.stdout.split("\n")).toContainEqual(
      expect.stringMatching(new RegExp(`^  ${c.words.join(" ")} +`)),
    );
  for (const c of COMMANDS) expect(r.stdout).toContain(c.summary);
  expect(r.stdout).toContain("help exit-codes");
  expect(r.stdout).toContain("-s, --stack <name>");
});

it.each(COMMANDS.map((c) => [c.words.join(" ")]))("cutover %s --help: its own usage, exit 0", (words) => {
  const r = cutover(...words.split(" "), "--help");
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  const entry = COMMANDS.find((c) => c.words.join(" ") === words)!;
  // A command the table answers with another's verb (check capture is capture's status) names that one.
  const named = entry.prefix ? words.split(" ")[0] : words;
  expect(r.stdout).toMatch(
    new RegExp(`^Usage: cutover (${words}|[a-z]+ ${words.split(" ").pop()}|${named})`, "m"),
  );
});

it("help exit-codes explains every code the commands use", () => {
  const r = cutover("help", "exit-codes");
  expect(r.status).toBe(0);
  for (const e of EXIT_CODES) expect(r.stdout).toMatch(new RegExp(`^ +${e.code}  ${e.name}`, "m"));
});

it("help <command> is the command's --help", () => {
  const r = cutover("help", "check", "validate");
  expect(r.status).toBe(0);
  expect(r.stdout).toContain("Usage: cutover check validate");
});

it.each([
  [["nosuch"], /cutover: unknown command "nosuch"\n {2}hint: cutover --help lists every command\n/],
  [["check"], /cutover: check: expected one of preflight, validate, smoke, capture, compare, decommission\n/],
  [["data", "warp"], /cutover: data warp: expected one of schema, d1-schema, backfill, capture, export\n/],
])("%j: exit 2 naming what exists", (args, message) => {
  const r = cutover(...args);
  expect(r.stderr).toMatch(message);
  expect(r.status).toBe(2);
  expect(r.stdout).toBe("");
});

it("--version prints the package's version", () => {
  const r = cutover("--version");
  expect(r.status).toBe(0);
  expect(r.stdout.trim()).toBe(
    (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version,
  );
});
