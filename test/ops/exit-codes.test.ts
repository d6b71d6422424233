/**
 * One exit-code convention across the commands — 0 done, 1 the answer is no, 2 could not run as asked
 * (nothing changed) — and bad input that says what is wrong: the flag, the config path or the file,
 * what was expected, and a hint. Each case runs the real command in its own process, as a user would.
 */
import { runCutover } from "../support/cli";

jest.setTimeout(120_000);

type Case = [command: string, args: string[], stderr: RegExp];

const cases: Case[] = [
  [
    "plan",
    ["-s", "nosuchstack"],
    /stack file .*Pulumi\.nosuchstack\.yaml not found; hint: stacks in .* are prod, staging/,
  ],
  ["plan", ["-s", "staging", "--base", "nosuchref"], /--base nosuchref: not a commit in the git repository/],
  [
    "plan",
    ["-s", "staging", "--deployed", "/nonexistent.json"],
    /--deployed \/nonexistent\.json: no such file; hint: pulumi stack output --json/,
  ],
  [
    "phase next",
    ["-s", "staging"],
    /phase next needs the migration it moves\n {2}hint: cutover phase next -s staging -m <migration>/,
  ],
  [
    "phase next",
    ["-s", "staging", "-m", "nosuch"],
    /Pulumi\.staging\.yaml has no migration "nosuch"; hint: migrations here are avvivo, matchauto/,
  ],
  ["phase set", ["warp", "-s", "staging", "-m", "avvivo"], /warp/],
  ["phase", [], /phase: expected one of status, next, set, rollback\n {2}hint: cutover phase status --help/],
  ["nosuch", [], /unknown command "nosuch"\n {2}hint: cutover --help lists every command/],
  ["advance", ["-s", "staging", "-m", "avvivo"], /required option '--deployed <file>' not specified/],
  ["check smoke", [], /missing required argument 'base-url'/],
  [
    "check preflight",
    ["--source", "notaurl"],
    /--source is not a URL; expected postgres:\/\/… with user, password, host, port and database/,
  ],
  [
    "check validate",
    ["--source", "x", "--target", "y", "--tables", "a"],
    /--source: cannot read "x"\n {2}hint: expected postgres:\/\/user:\*\*\*@host:5432\/database/,
  ],
  [
    "check validate",
    ["--tables", "a"],
    /--source is missing\n {2}hint: pass --source <connection string> or set SOURCE_DATABASE_URL/,
  ],
  [
    "check validate",
    [
      "--source",
      "postgres://u:p@127.0.0.1:1/db",
      "--target",
      "postgres://u:p@127.0.0.1:1/db",
      "--tables",
      "a",
      "--shard",
      "5/2",
    ],
    /--shard 5\/2: the index must be 0 … count-1/,
  ],
  ["data backfill", [], /choose exactly one of --local \(local D1 on workerd, offline\) or --remote/],
  [
    "data backfill",
    ["--stack", "staging", "--migration", "avvivo", "--local"],
    /migration "avvivo" is of kind cloudsql; hint: data backfill works on dual-write migrations/,
  ],
  [
    "data schema",
    ["--stack", "staging", "--migration", "avvivo"],
    /migration "avvivo" is of kind cloudsql; hint: data schema works on dual-write migrations/,
  ],
  ["data schema", [], /no schema; hint: pass --stack <stack> --migration <name>, or --schema <name>/],
  [
    "data capture",
    ["warp", "--stack", "staging", "--migration", "matchauto"],
    /unknown action "warp"; hint: one of install, run, status, remove/,
  ],
  [
    "data capture",
    ["status", "--stack", "staging", "--migration", "matchauto", "--connect-timeout", "x"],
    /option '--connect-timeout <s>' argument 'x' is invalid\. expected seconds/,
  ],
  [
    "check compare",
    ["status", "--stack", "staging", "--migration", "matchauto"],
    /choose exactly one of --local \(local KV state\) or --remote/,
  ],
  [
    "check compare",
    ["config", "--stack", "staging", "--migration", "matchauto", "--outputs", "/nonexistent"],
    /--outputs \/nonexistent: no such file\n {2}hint: pulumi stack output --json --stack <stack> > \/nonexistent/,
  ],
  ["check decommission", [], /check decommission needs --stack <stack> --migration <name>/],
  [
    "data export",
    ["--stack", "staging", "--migration", "avvivo", "--local"],
    /hint: data export works on dual-write migrations/,
  ],
  [
    "data d1-schema",
    ["--stack", "staging", "--migration", "avvivo", "--local"],
    /hint: data d1-schema works on dual-write migrations/,
  ],
  ["replication", ["start"], /start needs --name\n {2}hint: e\.g\. --name cutover_avvivo_a1/],
  [
    "replication",
    ["status", "--name", "x", "--source", "notaurl", "--target", "postgres://a@b/c"],
    /--source must be a postgres:\/\/ URL/,
  ],
  [
    "rehearse",
    ["--replication", "warp"],
    /--replication warp: not a replication path\n {2}hint: one of dms, logical/,
  ],
  ["rehearse", ["--drill", "nosuch"], /--drill nosuch: not a phase a rollback can leave/],
  ["rehearse", ["--rows", "-5"], /option '--rows <n>' argument '-5' is invalid/],
];

it.concurrent.each(cases)("cutover %s %j: exit 2 with what is wrong", async (command, args, stderr) => {
  const run = await runCutover([...command.split(" "), ...args], {});
  expect(run.stderr).toMatch(stderr);
  expect(run.code).toBe(2);
  // Nothing was done: no verdict on stdout.
  expect(run.stdout).not.toMatch(/verdict: pass|IDENTICAL|evidence written/);
});
