/**
 * The dual-write stand-in's door into workerd (ops/rehearse/dual-write/gateway.ts), on a real Miniflare
 * with local D1 and KV: statements and batches with their parameters, a blob read back as bytes, a SQL
 * error as the statement's own error, KV both ways, and a scheduled run's outcome — "exception" when the
 * Worker throws, so the stand-in never judges the previous run's summary as this one's.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Miniflare as MiniflareType } from "miniflare";
import { gatewayClient, gatewayWorker, type Gateway } from "../../../ops/rehearse/dual-write/gateway";

jest.setTimeout(60_000);

let mf: MiniflareType;
let gateway: Gateway;
let dir: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "cutover-gateway-"));
  const { Miniflare } = await import("miniflare");
  mf = new Miniflare({
    d1Persist: path.join(dir, "d1"),
    kvPersist: path.join(dir, "kv"),
    workers: [
      {
        name: "api",
        modules: true,
        script: "export default { fetch: () => new Response('api') };",
        compatibilityDate: "2025-01-01",
      },
      {
        name: "failing",
        modules: true,
        script: "export default { async scheduled() { throw new Error('planted'); } };",
        compatibilityDate: "2025-01-01",
      },
      {
        name: "fine",
        modules: true,
        script:
          "export default { async scheduled(c, env) { await env.RESULTS.put('ran', String(c.cron)); } };",
        compatibilityDate: "2025-01-01",
        kvNamespaces: { RESULTS: "results" },
      },
      gatewayWorker({
        d1Databases: { DB: "local-db" },
        kvNamespaces: { RESULTS: "results" },
        serviceBindings: { FAILING: "failing", FINE: "fine" },
        compatibilityDate: "2025-01-01",
      }),
    ],
  });
  await mf.ready;
  gateway = gatewayClient(mf);
});

afterAll(async () => {
  await mf?.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

it("runs statements and batches with their parameters, and reads a blob back as bytes", async () => {
  await gateway.batch("DB", [
    { sql: "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, raw BLOB)", params: [] },
    { sql: "INSERT INTO t (id, name, raw) VALUES (?, ?, X'00ff10')", params: ["1", "one"] },
    { sql: "INSERT INTO t (id, name) VALUES (?, ?)", params: ["2", "two"] },
  ]);
  expect(await gateway.all("DB", "SELECT id, name, raw FROM t WHERE id >= ? ORDER BY id", ["1"])).toEqual([
    { id: 1, name: "one", raw: [0, 255, 16] },
    { id: 2, name: "two", raw: null },
  ]);
});

it("fails with the statement's own error", async () => {
  await expect(gateway.all("DB", "SELECT nope FROM t", [])).rejects.toThrow(/no such column: nope/);
});

it("writes and reads KV", async () => {
  await gateway.kvPut("RESULTS", "k", "v");
  expect(await gateway.kvGet("RESULTS", "k")).toBe("v");
  expect(await gateway.kvGet("RESULTS", "absent")).toBeNull();
});

it("runs a bound Worker's scheduled handler, and says when it threw", async () => {
  expect(await gateway.scheduled("FINE", "* * * * *")).toBe("ok");
  expect(await gateway.kvGet("RESULTS", "ran")).toBe("* * * * *");
  expect(await gateway.scheduled("FAILING", "* * * * *")).toBe("exception");
});
