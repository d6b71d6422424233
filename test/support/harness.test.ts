import * as fs from "node:fs";
import Redis from "ioredis";
import { Client } from "pg";
import { startPostgres } from "./postgres";
import { randomPassword, startRedis } from "./redis";

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
