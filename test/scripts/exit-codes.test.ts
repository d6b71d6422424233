/**
 * One exit-code convention across the commands — 0 done, 1 the answer is no, 2 could not run as asked
 * (nothing changed) — and bad input that says what is wrong: the flag, the config path or the file,
 * what was expected, and a hint. Each case runs the real command in its own process, as a user would.
 */
import { runScript } from "../support/cli";

jest.setTimeout(120_000);

type Case = [script: string, args: string[], stderr: RegExp];

const cases: Case[] = [
  [
    "scripts/plan.ts",
    ["nosuchstack"],
    /stack file .*Pulumi\.nosuchstack\.yaml not found; hint: stacks in .* are prod, staging/,
  ],
  [
    "scripts/plan.ts",
    ["staging", "--base", "nosuchref"],
    /--base nosuchref: not a commit in the git repository/,
  ],
  [
    "scripts/plan.ts",
    ["staging", "--deployed", "/nonexistent.json"],
    /--deployed \/nonexistent\.json: no such file; hint: pulumi stack output --json/,
  ],
  [
    "scripts/phase.ts",
    ["staging", "avvivo"],
    /expected an action after the migration: next, set <phase> or rollback/,
  ],
  [
    "scripts/phase.ts",
    ["staging", "nosuch", "next"],
    /Pulumi\.staging\.yaml has no migration "nosuch"; hint: migrations here are avvivo, matchauto/,
  ],
  ["scripts/phase.ts", ["staging", "avvivo", "set", "warp"], /warp/],
  ["scripts/advance.ts", ["staging", "avvivo"], /required option '--deployed <file>' not specified/],
  ["scripts/smoke.ts", [], /missing required argument 'base-url'/],
  [
    "scripts/preflight.ts",
    ["--source", "notaurl"],
    /--source is not a URL; expected postgres:\/\/… with user, password, host, port and database/,
  ],
  [
    "scripts/validate.ts",
    ["--source", "x", "--target", "y", "--tables", "a"],
    /--source: cannot read "x"\n {2}hint: expected postgres:\/\/user:\*\*\*@host:5432\/database/,
  ],
  [
    "scripts/validate.ts",
    ["--tables", "a"],
    /--source is missing\n {2}hint: pass --source <connection string> or set SOURCE_DATABASE_URL/,
  ],
  [
    "scripts/validate.ts",
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
  ["scripts/backfill.ts", [], /choose exactly one of --local \(local D1 on workerd, offline\) or --remote/],
  [
    "scripts/backfill.ts",
    ["--stack", "staging", "--migration", "avvivo", "--local"],
    /migration "avvivo" is of kind cloudsql; hint: backfill works on dual-write migrations/,
  ],
  [
    "scripts/schema-migrate.ts",
    ["--stack", "staging", "--migration", "avvivo"],
    /migration "avvivo" is of kind cloudsql; hint: schema:migrate works on dual-write migrations/,
  ],
  [
    "scripts/schema-migrate.ts",
    [],
    /no schema; hint: pass --stack <stack> --migration <name>, or --schema <name>/,
  ],
  [
    "scripts/capture.ts",
    ["warp", "--stack", "staging", "--migration", "matchauto"],
    /unknown action "warp"; hint: one of install, run, status, remove/,
  ],
  [
    "scripts/capture.ts",
    ["status", "--stack", "staging", "--migration", "matchauto", "--connect-timeout", "x"],
    /option '--connect-timeout <s>' argument 'x' is invalid\. expected seconds/,
  ],
  [
    "scripts/compare.ts",
    ["status", "--stack", "staging", "--migration", "matchauto"],
    /choose exactly one of --local \(local KV state\) or --remote/,
  ],
  [
    "scripts/compare.ts",
    ["config", "--stack", "staging", "--migration", "matchauto", "--outputs", "/nonexistent"],
    /\/nonexistent not found; hint: pulumi stack output --json > \/nonexistent/,
  ],
  ["scripts/decommission.ts", ["check"], /decommission needs --stack <stack> --migration <name>/],
  [
    "scripts/d1-export.ts",
    ["--stack", "staging", "--migration", "avvivo", "--local"],
    /hint: d1:export works on dual-write migrations/,
  ],
  [
    "scripts/d1-migrate.ts",
    ["--stack", "staging", "--migration", "avvivo", "--local"],
    /hint: d1:migrate works on dual-write migrations/,
  ],
  ["scripts/replication.ts", ["start"], /start needs --name\n {2}hint: e\.g\. --name cutover_avvivo_a1/],
  [
    "scripts/replication.ts",
    ["status", "--name", "x", "--source", "notaurl", "--target", "postgres://a@b/c"],
    /--source must be a postgres:\/\/ URL/,
  ],
  [
    "scripts/rehearse.ts",
    ["--replication", "warp"],
    /--replication warp: not a replication path\n {2}hint: one of dms, logical/,
  ],
  ["scripts/rehearse.ts", ["--drill", "nosuch"], /--drill nosuch: not a phase a rollback can leave/],
  ["scripts/rehearse.ts", ["--rows", "-5"], /option '--rows <n>' argument '-5' is invalid/],
];

it.concurrent.each(cases)("%s %j: exit 2 with what is wrong", async (script, args, stderr) => {
  const run = await runScript(script, args, {});
  expect(run.stderr).toMatch(stderr);
  expect(run.code).toBe(2);
  // Nothing was done: no verdict on stdout.
  expect(run.stdout).not.toMatch(/verdict: pass|IDENTICAL|evidence written/);
});
