/**
 * `cutover check decommission --local`: the same rules as the account check, read from the Workers'
 * wrangler configs and the local flags entry (wrangler's local KV state, real, through workerd). Never
 * gate evidence.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { runCutover, ROOT } from "../support/cli";
import { scratchDir } from "../support/scratch";

jest.setTimeout(120_000);

const LEGACY_HOST = "db.kwmfyzrtbnqhlpcx.supabase.co"; // staging's matchauto legacy.host
let dir: string;
let persist: string;

/** A Worker's wrangler config: the flags namespace, the edge D1 database, and `vars`. */
function workerConfig(name: string, vars: Record<string, string>): string {
  const file = path.join(dir, `${name}.json`);
  fs.writeFileSync(
    file,
    JSON.stringify({
      name,
      main: "worker.js",
      compatibility_date: "2025-01-01",
      vars,
      kv_namespaces: [{ binding: "FLAGS", id: "local-flags" }],
      d1_databases: [{ binding: "EDGE_DB", database_name: "matchauto-edge-staging" }],
    }),
  );
  return file;
}

/** Writes the flags entry into the local KV state, as the program's entry would be read. */
async function putFlags(writeMode: string, readPercent: number): Promise<void> {
  const config = path.join(dir, "kv.json");
  fs.writeFileSync(
    config,
    JSON.stringify({
      name: "kv",
      compatibility_date: "2025-01-01",
      kv_namespaces: [{ binding: "FLAGS", id: "local-flags" }],
    }),
  );
  const { getPlatformProxy } = await import("wrangler");
  const proxy = await getPlatformProxy<{ FLAGS: { put(k: string, v: string): Promise<void> } }>({
    configPath: config,
    persist: { path: path.join(persist, "v3") },
  });
  await proxy.env.FLAGS.put(
    "cutover:flags:matchauto",
    JSON.stringify({ phase: "x", writeMode, readPercent, updatedAt: "2026-12-01T00:00:00Z" }),
  );
  await proxy.dispose();
}

const check = (...args: string[]) =>
  runCutover(
    [
      "check",
      "decommission",
      "-s",
      "staging",
      "-m",
      "matchauto",
      "--local",
      "--persist-to",
      persist,
      ...args,
    ],
    {},
    ROOT,
  );

beforeAll(() => {
  dir = scratchDir("detached-local");
  persist = path.join(dir, "state");
  fs.writeFileSync(path.join(dir, "worker.js"), "export default { fetch() { return new Response('') } }");
  fs.writeFileSync(path.join(dir, ".dev.vars"), ""); // keeps wrangler from looking further (and tripping jest)
});

it("finds what still reads legacy or a retired D1 database in the Worker configs and the local flags", async () => {
  await putFlags("dual", 100);
  const config = workerConfig("matchauto-api-staging", {
    LEGACY_URL: `postgres://app@${LEGACY_HOST}:5432/postgres`,
  });
  const r = await check("--worker-config", config, "--retire", "matchauto-edge-staging");
  expect(r.code).toBe(1);
  expect(r.stdout).toContain("still reading what decommission turns off (3):");
  expect(r.stdout).toContain(
    "flags entry cutover:flags:matchauto (local KV under " +
      persist +
      "), binding FLAGS: it still says writeMode dual, readPercent 100",
  );
  expect(r.stdout).toContain(
    "Worker matchauto-api-staging, binding EDGE_DB: binds D1 database matchauto-edge-staging, which decommission deletes",
  );
  expect(r.stdout).toContain(
    `Worker matchauto-api-staging, binding LEGACY_URL: a variable naming the legacy host ${LEGACY_HOST}`,
  );
});

it("passes once the flags are the final cut's and nothing binds what is turned off", async () => {
  await putFlags("new", 100);
  const config = workerConfig("matchauto-api-clean", { REGION: "wnam" });
  const r = await check("--worker-config", config, "--json");
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout)).toEqual({ passed: true, scripts: 1, findings: [] });
});

it("is never evidence, and needs the Worker configs", async () => {
  const config = workerConfig("matchauto-api-clean", {});
  const evidence = await check("--worker-config", config, "--evidence");
  expect([evidence.code, evidence.stderr]).toEqual([
    2,
    expect.stringContaining("--evidence with --local: the gate needs what the Cloudflare account says"),
  ]);
  const none = await check();
  expect([none.code, none.stderr]).toEqual([
    2,
    expect.stringContaining("--local needs --worker-config <file...>"),
  ]);
  const missing = await check("--worker-config", path.join(dir, "nope.json"));
  expect([missing.code, missing.stderr]).toEqual([2, expect.stringContaining("nope.json: no such file")]);
});
