import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import Redis from "ioredis";
import { Client } from "pg";
import { EMBEDDED_DIR, reachableBy, serverAccount, startPostgres } from "./postgres";
import { randomPassword, startRedis } from "./redis";
import { newRegistry, reapSurvivors } from "./servers";

jest.setTimeout(60_000);

async function query(url: string, sql: string): Promise<Record<string, unknown>[]> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

describe("startPostgres", () => {
  it("serves scram-authenticated TCP on 127.0.0.1 and cleans up its data dir on stop", async () => {
    const server = await startPostgres({ password: "p@ss:w/rd" });
    try {
      expect(server.url).toBe(`postgres://postgres:p%40ss%3Aw%2Frd@127.0.0.1:${server.port}/postgres`);
      const [row] = await query(server.url, "show wal_level");
      expect(row.wal_level).toBe("replica");
      const wrong = server.url.replace("p%40ss", "nope");
      await expect(query(wrong, "select 1")).rejects.toThrow(/password authentication failed/);
    } finally {
      await server.stop();
    }
    expect(fs.existsSync(server.dataDir)).toBe(false);
    await server.stop(); // idempotent
  });

  it("sets wal_level=logical and slots when asked, and applies extraConf", async () => {
    const server = await startPostgres({ logical: true, extraConf: { max_connections: "37" } });
    try {
      const rows = await query(
        server.url,
        "select name, setting from pg_settings where name in ('wal_level','max_replication_slots','max_connections')",
      );
      const settings = Object.fromEntries(rows.map((r) => [r.name, r.setting]));
      expect(settings).toEqual({ wal_level: "logical", max_replication_slots: "10", max_connections: "37" });
    } finally {
      await server.stop();
    }
  });

  it("preloads pglogical from the machine's PostgreSQL when asked", async () => {
    const server = await startPostgres({ pglogical: true });
    try {
      const [row] = await query(server.url, "show shared_preload_libraries");
      expect(row.shared_preload_libraries).toBe("pglogical");
      await query(server.url, "create extension pglogical");
    } finally {
      await server.stop();
    }
  });

  it("kill() drops open connections", async () => {
    const server = await startPostgres();
    const client = new Client({ connectionString: server.url });
    client.on("error", () => undefined);
    await client.connect();
    try {
      await server.kill();
      await expect(client.query("select 1")).rejects.toThrow();
    } finally {
      await client.end().catch(() => undefined);
      await server.stop();
    }
  });
});

describe("startRedis", () => {
  it("requires the password when one is set", async () => {
    const password = randomPassword();
    const server = await startRedis({ password });
    try {
      expect(server.url).toBe(`redis://:${password}@127.0.0.1:${server.port}`);
      const client = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 0 });
      await client.connect();
      expect(await client.ping()).toBe("PONG");
      client.disconnect();
      const anonymous = new Redis({
        port: server.port,
        lazyConnect: true,
        enableReadyCheck: false,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      anonymous.on("error", () => undefined);
      await anonymous.connect();
      await expect(anonymous.get("k")).rejects.toThrow(/NOAUTH/);
      anonymous.disconnect();
    } finally {
      await server.stop();
    }
  });

  it("serves rediss:// with a CA the client can trust", async () => {
    const server = await startRedis({ password: randomPassword(), tls: true });
    try {
      expect(server.url.startsWith("rediss://")).toBe(true);
      const client = new Redis(server.url, {
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        tls: { ca: fs.readFileSync(server.caFile as string) },
      });
      await client.connect();
      expect(await client.ping()).toBe("PONG");
      client.disconnect();
    } finally {
      await server.stop();
    }
  });
});

describe("the harness from a clone other users cannot enter", () => {
  it("runs the server from a readable copy of the embedded binaries when root's account cannot reach them", () => {
    const account = serverAccount();
    // A folder only its owner may enter (as mkdtemp makes it), holding the binaries through a link.
    const hidden = fs.mkdtempSync(path.join(os.tmpdir(), "cutover-hidden-"));
    try {
      fs.symlinkSync(EMBEDDED_DIR, path.join(hidden, "native"));
      const given = {
        binDir: path.join(hidden, "native", "bin"),
        libDir: path.join(hidden, "native", "lib"),
      };
      const used = reachableBy(account, given);
      if (account === undefined) {
        // Not root: the server runs as this user, who can reach its own clone.
        expect(used).toBe(given);
        return;
      }
      expect(used.binDir).not.toBe(given.binDir);
      const run = spawnSync(path.join(used.binDir, "postgres"), ["--version"], {
        uid: account.uid,
        gid: account.gid,
        env: { ...process.env, LD_LIBRARY_PATH: used.libDir },
        encoding: "utf8",
      });
      expect(run.stdout).toMatch(/^postgres \(PostgreSQL\) \d+/);
    } finally {
      fs.rmSync(hidden, { recursive: true, force: true });
    }
  });
});

describe("the ledger of test servers", () => {
  it("finds a recorded server that outlived its test, kills it, and lets a stopped one be", async () => {
    const file = newRegistry();
    const leaked = spawn("sleep", ["60"], { stdio: "ignore" });
    const stopped = spawn("sleep", ["60"], { stdio: "ignore" });
    fs.appendFileSync(file, JSON.stringify({ pid: leaked.pid, kind: "sleep", by: "leaky.test.ts" }) + "\n");
    fs.appendFileSync(file, JSON.stringify({ pid: stopped.pid, kind: "sleep", by: "tidy.test.ts" }) + "\n");
    stopped.kill();
    await new Promise((r) => stopped.once("exit", r));
    const exit = new Promise((r) => leaked.once("exit", (_code, signal) => r(signal)));
    expect(reapSurvivors(file)).toEqual([{ pid: leaked.pid, kind: "sleep", by: "leaky.test.ts" }]);
    expect(await exit).toBe("SIGKILL");
    expect(fs.existsSync(file)).toBe(false);
  });
});
