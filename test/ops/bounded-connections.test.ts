/**
 * Every database connection of the long-running commands is bounded: a host that accepts TCP and never
 * answers ends the command within --connect-timeout (exit 2, naming the side and the flag), and a server
 * that goes silent mid-run ends a statement within --query-timeout. The silent server is a real
 * PostgreSQL frozen with SIGSTOP, and a bare TCP listener that never speaks.
 */
import * as net from "node:net";
import { connectSource } from "../../ops/backfill/source";
import { runCutover } from "../support/cli";
import { startPostgres, type PgServer } from "../support/postgres";

jest.setTimeout(120_000);

let blackHole: net.Server;
let port: number;
const sockets: net.Socket[] = [];
let server: PgServer;

beforeAll(async () => {
  blackHole = net.createServer((socket) => sockets.push(socket)); // accepts, never answers
  await new Promise<void>((r) => blackHole.listen(0, "127.0.0.1", () => r()));
  port = (blackHole.address() as net.AddressInfo).port;
  server = await startPostgres();
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((r) => blackHole.close(r));
  server?.resume();
  await server?.stop();
});

const silentUrl = () => `postgres://app:Silent-Pass-88@127.0.0.1:${port}/legacy`;

it.each([
  [
    "backfill",
    [
      "data backfill",
      [
        ...["--stack", "staging", "--migration", "matchauto", "--store", "supabase"],
        "--connect-timeout",
        "1",
      ],
    ],
  ],
  [
    "capture status",
    ["data capture", ["status", "--stack", "staging", "--migration", "matchauto", "--connect-timeout", "1"]],
  ],
  [
    "schema:migrate",
    ["data schema", ["--stack", "staging", "--migration", "matchauto", "--connect-timeout", "1"]],
  ],
] as const)(
  "%s against a host that never answers: exit 2 within the bound, naming the side and the flag",
  async (_name, [script, args]) => {
    const started = Date.now();
    const r = await runCutover([...script.split(" "), ...args], {
      LEGACY_DATABASE_URL: silentUrl(),
      SOURCE_DATABASE_URL: silentUrl(),
      TARGET_DATABASE_URL: silentUrl(),
    });
    expect(r.code).toBe(2);
    const side = script.includes("schema") ? "target" : "legacy";
    expect(r.stderr).toContain(
      `the ${side} database at 127.0.0.1:${port} did not answer within 1 s (connect timeout; --connect-timeout)`,
    );
    expect(r.stderr).not.toContain("Silent-Pass-88");
    // tsx start-up plus the 1 s bound, well below what a hang would take.
    expect(Date.now() - started).toBeLessThan(20_000);
  },
);

it("a server that goes silent mid-run: the statement ends within --query-timeout, naming the side", async () => {
  const client = await connectSource(server.url, { side: "target", queryTimeoutMs: 1500 });
  try {
    server.pause();
    const started = Date.now();
    await expect(client.query("SELECT 1")).rejects.toThrow(
      `the target database at 127.0.0.1:${server.port} gave no reply within 1.5 s (query timeout; --query-timeout)`,
    );
    expect(Date.now() - started).toBeLessThan(5000);
  } finally {
    server.resume();
    await client.end().catch(() => undefined);
  }
  // The paused server answers again once resumed.
  const again = await connectSource(server.url, { side: "target" });
  expect((await again.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
  await again.end();
});

it("bad endpoints say which side and what is wrong, exit 2, and never mask ordinary words", async () => {
  const cases: [NodeJS.ProcessEnv, string][] = [
    [{ LEGACY_DATABASE_URL: "base" }, "the legacy database URL is not a postgres:// URL"],
    [
      { LEGACY_DATABASE_URL: "postgres://app:Nope-Pass-77@no-such-host.invalid:5432/legacy" },
      "the legacy database host no-such-host.invalid was not found (DNS); check the legacy URL",
    ],
    [
      { LEGACY_DATABASE_URL: server.url.replace(/:[^:@/]+@/, ":Wrong-Pass-77@") },
      `the legacy database at 127.0.0.1:${server.port} refused the password of user postgres`,
    ],
  ];
  for (const [env, message] of cases) {
    const r = await runCutover(
      ["data", "backfill", "--stack", "staging", "--migration", "matchauto", "--store", "supabase"],
      { ...env, TARGET_DATABASE_URL: server.urlFor("target") },
    );
    expect([r.code, r.stderr]).toEqual([2, expect.stringContaining(message)]);
    expect(r.stderr).not.toMatch(/Nope-Pass-77|Wrong-Pass-77|data\*\*\*/);
  }
});

it("replication and freeze-source against a host that never answers: exit 2 within the bounds, no password", async () => {
  const env = { SOURCE_DATABASE_URL: silentUrl(), TARGET_DATABASE_URL: silentUrl() };
  const status = await runCutover(
    ["replication", "status", "--name", "cutover_x_a1", "--connect-timeout", "1", "--give-up-after", "2"],
    env,
  );
  expect(status.stderr).toContain(
    "replication status: cannot connect to the source: no answer within 1 s (--connect-timeout)\n  hint: check that the source host is reachable from here (firewall, allow-list, IPv6), or raise --connect-timeout",
  );
  expect(status.code).toBe(2);
  expect(status.elapsedMs).toBeLessThan(20_000);
  const freeze = await runCutover(
    ["replication", "freeze-source", "--role", "app", "--connect-timeout", "1"],
    env,
  );
  expect(freeze.stderr).toContain(
    "replication freeze-source: cannot connect to the source: no answer within 1 s (--connect-timeout)",
  );
  expect(freeze.code).toBe(2);
  for (const r of [status, freeze]) expect(r.stdout + r.stderr).not.toContain("Silent-Pass-88");
});

it("validate against a host that never answers: exit 2 within --connect-timeout, naming the side", async () => {
  const r = await runCutover(
    [
      "check",
      "validate",
      "--source",
      silentUrl(),
      "--target",
      silentUrl(),
      "--tables",
      "a",
      "--connect-timeout",
      "1",
    ],
    {},
  );
  expect(r.stdout).toMatch(
    /ERROR: cannot connect to postgres:\/\/app:\*\*\*@127\.0\.0\.1:\d+\/legacy: timed out/,
  );
  expect(r.stdout).toContain("raise --connect-timeout");
  expect(r.code).toBe(2);
  expect(r.elapsedMs).toBeLessThan(20_000);
  expect(r.stdout + r.stderr).not.toContain("Silent-Pass-88");
});
