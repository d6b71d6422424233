/**
 * The flags module inside a real local Workers runtime (workerd via wrangler's startWorker), with real
 * Workers KV and two real local D1 databases standing for the legacy and the new store.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { readStore, type MigrationFlags } from "../../workers/flags/flags";

type Worker = { fetch(url: string, init?: RequestInit): Promise<Response>; dispose(): Promise<void> };

const FIXTURE = path.resolve(__dirname, "../../workers/flags/fixture/wrangler.json");
let worker: Worker;
let persistDir: string;

async function call<T = Record<string, unknown>>(method: string, route: string, body?: unknown): Promise<T> {
  const init: RequestInit = { method };
  if (body !== undefined) init.body = typeof body === "string" ? body : JSON.stringify(body);
  const response = await worker.fetch(`http://fixture${route}`, init);
  if (!response.ok) throw new Error(`${method} ${route}: HTTP ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

const setFlags = (f: Partial<MigrationFlags>) =>
  call("PUT", "/__flags", { phase: "test", updatedAt: "2026-03-01T12:00:00Z", readPercent: 0, ...f });

beforeAll(async () => {
  process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";
  process.env.WRANGLER_SEND_METRICS = "false";
  persistDir = fs.mkdtempSync(path.join(os.tmpdir(), "cutover-flags-"));
  // Wrangler's "file missing" check uses `instanceof Error`, which fails inside jest's sandbox: give it
  // the files it looks for, beside a copy of the fixture config that points at the real worker.
  const config = JSON.parse(fs.readFileSync(FIXTURE, "utf8"));
  config.main = path.resolve(path.dirname(FIXTURE), config.main);
  fs.writeFileSync(path.join(persistDir, "wrangler.json"), JSON.stringify(config));
  fs.writeFileSync(path.join(persistDir, ".dev.vars"), "");
  // Loaded lazily: wrangler is large and only this suite needs it.
  const { unstable_startWorker } = await import("wrangler");
  worker = (await unstable_startWorker({
    config: path.join(persistDir, "wrangler.json"),
    dev: {
      server: { port: 0 },
      inspector: false,
      persist: path.join(persistDir, "state"),
      logLevel: "error",
      watch: false,
    },
  })) as unknown as Worker;
  await call("POST", "/__setup");
}, 60_000);

afterAll(async () => {
  await worker?.dispose();
  fs.rmSync(persistDir, { recursive: true, force: true });
});

it("without a flags entry, reads and writes go to legacy only", async () => {
  expect(await call("GET", "/flags")).toMatchObject({ source: "floor legacy (flags entry missing)" });
  await call("POST", "/city", { id: 1, name: "Zaragoza" });
  expect(await call("GET", "/stores?id=1")).toEqual({ legacy: { name: "Zaragoza" }, new: null });
});

it("a malformed entry falls back to legacy", async () => {
  await call("PUT", "/__flags", "{ writeMode: dual");
  expect(await call("GET", "/flags")).toMatchObject({
    flags: { writeMode: "legacy", readPercent: 0 },
    source: "floor legacy (flags entry is not JSON)",
  });
});

it("dual mode writes both stores, legacy and D1", async () => {
  await setFlags({ writeMode: "dual" });
  await call("POST", "/city", { id: 2, name: "São Paulo 🚗" });
  expect(await call("GET", "/stores?id=2")).toEqual({
    legacy: { name: "São Paulo 🚗" },
    new: { name: "São Paulo 🚗" },
  });
});

it("readPercent 0 and 100 send every user to one store", async () => {
  // City 1 exists only in legacy, so the answer tells which store served the read.
  await setFlags({ writeMode: "dual", readPercent: 0 });
  for (const user of ["ana", "bruno", "carla"]) {
    expect(await call("GET", `/city?id=1&user=${user}`)).toMatchObject({ city: { name: "Zaragoza" } });
  }
  await setFlags({ writeMode: "dual", readPercent: 100 });
  for (const user of ["ana", "bruno", "carla"]) {
    expect(await call("GET", `/city?id=1&user=${user}`)).toMatchObject({ city: null });
  }
});

it("at 50% each user sticks to the store of their bucket", async () => {
  const flags: MigrationFlags = { phase: "read-switch", writeMode: "dual", readPercent: 50, updatedAt: "x" };
  await setFlags(flags);
  const users = Array.from({ length: 12 }, (_, i) => `user-${i}`);
  const served = [];
  for (const user of users) {
    const first = await call<{ city: unknown }>("GET", `/city?id=1&user=${user}`);
    const again = await call<{ city: unknown }>("GET", `/city?id=1&user=${user}`);
    expect(again).toEqual(first);
    served.push(first.city === null ? "new" : "legacy");
  }
  expect(served).toEqual(users.map((u) => readStore(flags, u)));
  expect(new Set(served)).toEqual(new Set(["legacy", "new"]));
});

it("new mode writes D1 only", async () => {
  await setFlags({ writeMode: "new", readPercent: 100 });
  await call("POST", "/city", { id: 3, name: "Bogotá" });
  expect(await call("GET", "/stores?id=3")).toEqual({ legacy: null, new: { name: "Bogotá" } });
});

it("after the final cut, the deployed floor keeps every write on the new stores, whatever KV says", async () => {
  // No entry for matchauto-cut yet: the floor (final-cut, from the binding) decides.
  await call("POST", "/city?migration=matchauto-cut", { id: 10, name: "Lima" });
  expect(await call("GET", "/stores?id=10")).toEqual({ legacy: null, new: { name: "Lima" } });
  // An entry sending writes back to legacy is refused as below the floor.
  await call("PUT", "/__flags?migration=matchauto-cut", {
    phase: "shadow",
    writeMode: "legacy",
    readPercent: 0,
    updatedAt: "2026-03-03T00:00:00Z",
  });
  await call("POST", "/city?migration=matchauto-cut", { id: 11, name: "Quito" });
  expect(await call("GET", "/stores?id=11")).toEqual({ legacy: null, new: { name: "Quito" } });
  expect(await call("GET", "/flags?migration=matchauto-cut")).toMatchObject({
    flags: { writeMode: "new", readPercent: 100 },
    source: "floor new (entry (legacy, 0%) is below the deployed floor (new, 100%))",
  });
  const counts = await call<Record<string, number>>("GET", "/fallbacks");
  expect(counts["flags entry missing"]).toBeGreaterThanOrEqual(1);
  expect(counts["entry (legacy, 0%) is below the deployed floor (new, 100%)"]).toBeGreaterThanOrEqual(1);
});
