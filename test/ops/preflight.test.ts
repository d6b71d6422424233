/**
 * `cutover check preflight` as a user runs it: a child process against real PostgreSQL and Redis
 * servers started here. Asserts the seed's lines, exit codes, and that no password is ever printed.
 */
import * as net from "node:net";
import { checkPostgresConnectivity } from "../../ops/preflight/postgres";
import { checkRedis } from "../../ops/preflight/redis";
import { runCutover } from "../support/cli";
import { freePort, startPostgres, type PgServer } from "../support/postgres";
import { startRedis, type RedisServer } from "../support/redis";

jest.setTimeout(180_000);

const DB_PASSWORD = "pg-Secret-4711";
const REDIS_PASSWORD = "redis-Secret-0815";

const preflight = (args: string[], env: NodeJS.ProcessEnv) =>
  runCutover(["check", "preflight", ...args], env);

/** Accepts TCP connections and never answers: the "firewall eats packets" case, locally. */
async function silentServer(): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets: net.Socket[] = [];
  const server = net.createServer((s) => sockets.push(s));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise((r) => {
        sockets.forEach((s) => s.destroy());
        server.close(() => r());
      }),
  };
}

let pg: PgServer;
let redis: RedisServer;
let redisTls: RedisServer;

beforeAll(async () => {
  [pg, redis, redisTls] = await Promise.all([
    startPostgres({ password: DB_PASSWORD }),
    startRedis({ password: REDIS_PASSWORD }),
    startRedis({ password: REDIS_PASSWORD, tls: true }),
  ]);
});

afterAll(async () => {
  await Promise.all([pg?.stop(), redis?.stop(), redisTls?.stop()]);
});

describe("preflight:cloud (CLI)", () => {
  it("prints the seed's lines and exits 0 when everything connects", async () => {
    const run = await preflight([], { DATABASE_URL: pg.url, DIRECT_URL: pg.url, REDIS_URL: redis.url });
    expect(run.stdout).toBe("DB connectivity: OK\nDIRECT_URL connectivity: OK\nRedis connectivity: OK\n");
    expect(run.code).toBe(0);
  });

  it("reports Redis as SKIP and still exits 0 when REDIS_URL is unset", async () => {
    const run = await preflight([], { DATABASE_URL: pg.url });
    expect(run.stdout).toContain("Redis connectivity: SKIP (REDIS_URL is not set");
    expect(run.stdout).toContain("DIRECT_URL connectivity: SKIP (DIRECT_URL is not set");
    expect(run.code).toBe(0);
  });

  it("fails on wrong passwords without printing any password", async () => {
    const wrongDb = "Wrong-Db-Pass-1";
    const wrongRedis = "Wrong-Redis-Pass-2";
    const run = await preflight([], {
      DATABASE_URL: pg.url.replace(DB_PASSWORD, wrongDb),
      REDIS_URL: redis.url.replace(REDIS_PASSWORD, wrongRedis),
    });
    expect(run.stdout).toContain(
      `DB connectivity: FAIL: authentication failed at 127.0.0.1:${pg.port}/postgres`,
    );
    expect(run.stdout).toContain(
      `Redis connectivity: FAIL: authentication failed at 127.0.0.1:${redis.port}`,
    );
    expect(run.code).toBe(1);
    for (const secret of [wrongDb, wrongRedis, DB_PASSWORD, REDIS_PASSWORD]) {
      expect(run.stdout + run.stderr).not.toContain(secret);
    }
  });

  it("fails within the timeout when the port is closed", async () => {
    const closed = await freePort();
    const run = await preflight(["--timeout", "2"], {
      DATABASE_URL: `postgres://postgres:${DB_PASSWORD}@127.0.0.1:${closed}/postgres`,
      REDIS_URL: `redis://:${REDIS_PASSWORD}@127.0.0.1:${closed}`,
    });
    expect(run.stdout).toContain(`DB connectivity: FAIL: connection refused by 127.0.0.1:${closed}/postgres`);
    expect(run.stdout).toContain(`Redis connectivity: FAIL: connection refused by 127.0.0.1:${closed}`);
    expect(run.code).toBe(1);
    expect(run.stdout + run.stderr).not.toContain(DB_PASSWORD);
  });

  it("fails with a clear reason when DATABASE_URL is missing or the host does not resolve", async () => {
    const missing = await preflight([], {});
    expect(missing.stdout).toContain("DB connectivity: FAIL: DATABASE_URL is not set");
    expect(missing.code).toBe(1);
    const dns = await preflight([], {
      DATABASE_URL: "postgres://u:p4ssw0rd@db.nothing-here.invalid:5432/postgres",
    });
    expect(dns.stdout).toContain(
      "DB connectivity: FAIL: host of db.nothing-here.invalid:5432/postgres not found (DNS)",
    );
    expect(dns.stdout + dns.stderr).not.toContain("p4ssw0rd");
  });

  it("checks rediss:// with the server CA, and explains an untrusted certificate", async () => {
    const trusted = await preflight(["--redis-ca", redisTls.caFile as string], {
      DATABASE_URL: pg.url,
      REDIS_URL: redisTls.url,
    });
    expect(trusted.stdout).toContain("Redis connectivity: OK");
    expect(trusted.code).toBe(0);
    const untrusted = await preflight([], { DATABASE_URL: pg.url, REDIS_URL: redisTls.url });
    expect(untrusted.stdout).toContain(
      `Redis connectivity: FAIL: TLS certificate of 127.0.0.1:${redisTls.port} not trusted (pass the server CA with --redis-ca or REDIS_CA_FILE)`,
    );
    expect(untrusted.code).toBe(1);
    expect(untrusted.stdout + untrusted.stderr).not.toContain(REDIS_PASSWORD);
  });

  it("prints one JSON document with --json, masked", async () => {
    const run = await preflight(["--json"], { DATABASE_URL: pg.url.replace(DB_PASSWORD, "nope-nope") });
    const report = JSON.parse(run.stdout);
    expect(report.command).toBe("check preflight");
    expect(report.passed).toBe(false);
    expect(report.ok).toBe(false);
    expect(report.checks.map((c: { name: string; status: string }) => `${c.name}=${c.status}`)).toEqual([
      "DB connectivity=FAIL",
      "DIRECT_URL connectivity=SKIP",
      "Redis connectivity=SKIP",
    ]);
    expect(run.stdout).not.toContain("nope-nope");
    expect(run.code).toBe(1);
  });

  it("rejects a bad --timeout with a hint and prints --help", async () => {
    const bad = await preflight(["--timeout", "soon"], {});
    expect(bad.stderr).toContain(
      "option '--timeout <s>' argument 'soon' is invalid. expected seconds, e.g. 5",
    );
    expect(bad.code).toBe(2);
    const help = await preflight(["--help"], {});
    expect(help.stdout).toContain("Usage: cutover check preflight [options]");
    expect(help.stdout).toContain("--migration <name>");
    expect(help.code).toBe(0);
  });
});

describe("bounded time per check (in process)", () => {
  it("gives up on a PostgreSQL server that never answers", async () => {
    const silent = await silentServer();
    try {
      const started = Date.now();
      const result = await checkPostgresConnectivity(
        "DB connectivity",
        { url: `postgres://u:secretpw@127.0.0.1:${silent.port}/postgres` },
        800,
      );
      expect(result.status).toBe("FAIL");
      expect(result.detail).toBe(`no answer from 127.0.0.1:${silent.port}/postgres within 800 ms`);
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      await silent.close();
    }
  });

  it("refuses a DATABASE_URL that is not a postgres:// URL", async () => {
    for (const url of ["mysql://u:p@h/db", "host=h dbname=db", "postgres://u:p@h /db"]) {
      const result = await checkPostgresConnectivity("DB connectivity", { url }, 1000);
      expect(result.detail).toBe("not a postgres:// URL (expected postgres://user:…@host:5432/database)");
    }
  });

  it("gives up on a Redis server that never answers", async () => {
    const silent = await silentServer();
    try {
      const started = Date.now();
      const result = await checkRedis(`redis://:secretpw@127.0.0.1:${silent.port}`, 800);
      expect(result.status).toBe("FAIL");
      expect(result.detail).toBe(`no answer from 127.0.0.1:${silent.port} within 800 ms`);
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      await silent.close();
    }
  });

  it("explains a server that needs AUTH when the URL has no password", async () => {
    const result = await checkRedis(`redis://127.0.0.1:${redis.port}`, 2000);
    expect(result).toMatchObject({
      status: "FAIL",
      detail: `127.0.0.1:${redis.port} requires a password but REDIS_URL has none`,
    });
  });

  it("refuses a REDIS_URL that is not redis:// and an unreadable CA file", async () => {
    expect((await checkRedis("http://127.0.0.1:6379", 1000)).detail).toBe(
      "REDIS_URL must start with redis:// or rediss://",
    );
    expect((await checkRedis(redisTls.url, 1000, "/nonexistent/ca.pem")).detail).toBe(
      "cannot read the Redis CA file /nonexistent/ca.pem (--redis-ca / REDIS_CA_FILE)",
    );
  });

  it("explains rediss:// against a plain server", async () => {
    const result = await checkRedis(`rediss://:${REDIS_PASSWORD}@127.0.0.1:${redis.port}`, 1500);
    expect(result.status).toBe("FAIL");
    expect(result.detail).toBe(
      `no answer from 127.0.0.1:${redis.port} within 1500 ms (firewall, allow-list or wrong host?); if the server does not speak TLS, use redis://`,
    );
  });
});
