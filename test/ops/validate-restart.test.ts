/**
 * The comparison loop rides out a restart of either server: `validate` keeps the tables it has compared,
 * reconnects with backoff (announced on stderr) and compares the table in flight again from its start;
 * a server that stays down past --give-up-after ends the run with exit 2, naming what it could not reach.
 *
 * The restart lands mid-run for certain: a transaction holds a lock on the second table, validate waits
 * on it (seen in pg_stat_activity), and the server is restarted while it waits.
 */
import { Client } from "pg";
import { query, startPostgres, type PgServer } from "../support/postgres";
import { type CliRun, runCutover } from "../support/cli";

jest.setTimeout(180_000);

let source: PgServer;
let target: PgServer;
const TABLES = ["t1", "t2", "t3"];

async function seed(url: string): Promise<void> {
  for (const t of TABLES)
    await query(
      url,
      `CREATE TABLE ${t} (id int PRIMARY KEY, name text NOT NULL, amount numeric(12,2));
       INSERT INTO ${t} SELECT g, 'row ' || g, g * 1.25 FROM generate_series(1, 20000) g`,
    );
}

beforeAll(async () => {
  [source, target] = await Promise.all([startPostgres(), startPostgres()]);
  await Promise.all([seed(source.url), seed(target.url)]);
});

afterAll(async () => {
  await Promise.all([source?.stop(), target?.stop()]);
});

/** A transaction on `server` holding an exclusive lock on t2 until the server goes down. */
async function lockT2(server: PgServer): Promise<Client> {
  const locker = new Client({ connectionString: server.url });
  locker.on("error", () => undefined); // the restart ends this session
  await locker.connect();
  await locker.query("BEGIN");
  await locker.query("LOCK TABLE t2 IN ACCESS EXCLUSIVE MODE");
  return locker;
}

/** Resolves once validate's session on `server` waits for a lock (it is past t1, inside t2). */
async function validateWaitingOnLock(server: PgServer): Promise<void> {
  for (const started = Date.now(); Date.now() - started < 60_000;) {
    const rows = await query(
      server.url,
      "SELECT 1 FROM pg_stat_activity WHERE application_name = 'cutover-validate' AND wait_event_type = 'Lock'",
    );
    if (rows.length) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("validate never waited on the lock");
}

function validate(extra: string[] = []): Promise<CliRun> {
  return runCutover(
    [
      "check",
      "validate",
      "--source",
      source.url,
      "--target",
      target.url,
      "--tables",
      TABLES.join(","),
      "--no-progress",
      ...extra,
    ],
    {},
  );
}

it("reconnects after the source restarts mid-table, keeps the tables done, and compares the rest", async () => {
  const locker = await lockT2(source);
  const run = validate();
  await validateWaitingOnLock(source);
  await source.restart(1500);
  const result = await run;
  await locker.end().catch(() => undefined);

  expect(result.stderr).toMatch(
    /validate: connection to .* lost \(.+\); reconnecting in \d+ ms \(attempt 1\)/,
  );
  expect(result.stderr).toContain("t2 is compared again from its start (1 table(s) done are kept)");
  expect(result.stderr).toMatch(/reconnected to .* after \d+\.\d s/);
  expect(result.stdout).toMatch(/^t1: OK \(rows 20000 = 20000/m);
  expect(result.stdout).toMatch(/^t2: OK \(rows 20000 = 20000/m);
  expect(result.stdout).toMatch(/^t3: OK \(rows 20000 = 20000/m);
  expect(result.stdout).toContain("reconnected 1 time after a lost connection");
  expect(result.stdout).toContain("Result: IDENTICAL (3 tables)");
  expect(result.code).toBe(0);
  // The password of either server appears nowhere.
  expect(result.stdout + result.stderr).not.toContain(source.password);
});

it("a run that reconnected still reports the differences it finds, and counts the reconnection (--json)", async () => {
  const locker = await lockT2(target);
  const run = validate(["--json"]);
  await validateWaitingOnLock(target);
  // Committed while validate waits inside t2: t3 is compared after the reconnection and must show it.
  await query(target.url, "UPDATE t3 SET name = 'drifted' WHERE id = 7");
  await target.restart(0);
  await locker.end().catch(() => undefined);
  const result = await run;
  await query(target.url, "UPDATE t3 SET name = 'row 7' WHERE id = 7");

  const report = JSON.parse(result.stdout) as {
    identical: boolean;
    tables: { table: string; identical: boolean; differences: { changed: string[] } }[];
    stats: { reconnects?: number };
  };
  expect(report.stats.reconnects).toBe(1);
  expect(report.tables.map((t) => [t.table, t.identical])).toEqual([
    ["t1", true],
    ["t2", true],
    ["t3", false],
  ]);
  expect(report.tables[2].differences.changed).toEqual(["id=7"]);
  expect(result.code).toBe(1);
});

it("gives up after --give-up-after when the server stays down: exit 2, the sides named, no verdict", async () => {
  const locker = await lockT2(target);
  const run = validate(["--give-up-after", "2"]);
  await validateWaitingOnLock(target);
  const restarted = target.restart(6000);
  const result = await run;
  await restarted;
  await locker.end().catch(() => undefined);

  expect(result.stdout).toMatch(/ERROR: gave up reconnecting to .*127\.0\.0\.1.* after [23] s: .+/);
  expect(result.stdout).toContain("--give-up-after sets how long it waits");
  expect(result.stdout).toContain("Result: FAILED (validation did not finish)");
  expect(result.code).toBe(2);
  expect(result.stdout + result.stderr).not.toContain(target.password);
});

it("a server that goes silent mid-run ends the statement within its bound, naming --statement-timeout (exit 2)", async () => {
  const locker = await lockT2(source);
  const run = validate(["--statement-timeout", "2", "--connect-timeout", "1"]);
  await validateWaitingOnLock(source);
  source.pause(); // SIGSTOP: the connection stays open, nothing answers
  let result: CliRun;
  try {
    result = await run;
  } finally {
    source.resume();
  }
  await locker.end().catch(() => undefined);
  expect(result.stdout).toMatch(
    /ERROR: .* failed while .*: no reply to a statement within --statement-timeout \(the server went silent\)/,
  );
  expect(result.stdout).toContain(
    "hint: check the server (frozen, overloaded, failing over), or raise --statement-timeout",
  );
  expect(result.code).toBe(2);
});
