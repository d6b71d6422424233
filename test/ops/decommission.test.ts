/**
 * Decommission's `detached` gate: `cutover check decommission` asks the Cloudflare account what still
 * reads the stores being turned off. Cloudflare's API cannot be reached from tests, so a stand-in answers
 * the routes the official client calls (KV, Hyperdrive, D1 and Workers scripts), holding an account whose
 * Workers still bind legacy in every way the check knows; then the account is cleaned and the gate opens.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { applyStep } from "../../ops/phase/apply";
import { readEvidence } from "../../infra/evidence";
import { recordScoped } from "../support/evidence";
import { runCutover } from "../support/cli";
import { scratchMatchauto } from "../support/stack";

jest.setTimeout(120_000);

const ACCOUNT = "5f2c8e1a9b7d4c3e8a6f0b1d2e9c7a4b";
const TOKEN = "cf-token-never-printed-7e1";
const LEGACY_HOST = "db.kwmfyzrtbnqhlpcx.supabase.co";
const KV_ID = "0f2ac74b498b48028cb68387c421e279";
const D1_IDS = { "matchauto-edge-staging": "d1-edge-0001", "matchauto-old-staging": "d1-old-0002" };

interface Binding {
  type: string;
  name: string;
  id?: string;
  database_id?: string;
  text?: string;
}
/** The stand-in account: mutable between runs. */
const account = {
  flags: {
    phase: "final-cut",
    writeMode: "new",
    readPercent: 100,
    updatedAt: "2026-03-01T12:00:00Z",
  } as Record<string, unknown>,
  hyperdrive: [
    { id: "hd-legacy", name: "legacy", origin: { host: LEGACY_HOST, database: "postgres", port: 5432 } },
    {
      id: "hd-other",
      name: "other",
      origin: { host: "db.other.supabase.co", database: "postgres", port: 5432 },
    },
  ],
  scripts: {} as Record<string, Binding[]>,
};

const envelope = (result: unknown, page = false) => ({
  success: true,
  errors: [],
  messages: [],
  result,
  ...(page
    ? {
        result_info: {
          page: 1,
          per_page: 100,
          count: (result as unknown[]).length,
          total_count: (result as unknown[]).length,
        },
      }
    : {}),
});

function handle(req: http.IncomingMessage): [number, unknown, string?] {
  if (req.headers.authorization !== `Bearer ${TOKEN}`)
    return [401, { success: false, errors: [{ code: 10000, message: "Authentication error" }] }];
  const url = new URL(req.url!, "http://x");
  const p = decodeURIComponent(url.pathname).replace(`/client/v4/accounts/${ACCOUNT}`, "");
  const page = Number(url.searchParams.get("page") ?? "1");
  // One page of everything: later pages are empty.
  const list = (items: unknown[]) => [200, envelope(page > 1 ? [] : items, true)] as [number, unknown];
  if (p === "/storage/kv/namespaces")
    return list([{ id: KV_ID, title: "matchauto-staging-migration-flags" }]);
  if (p === `/storage/kv/namespaces/${KV_ID}/values/cutover:flags:matchauto`)
    return [200, null, JSON.stringify(account.flags)];
  if (p === "/hyperdrive/configs") return list(account.hyperdrive);
  if (p === "/d1/database") {
    const name = url.searchParams.get("name");
    return list(
      Object.entries(D1_IDS)
        .filter(([n]) => n === name)
        .map(([n, uuid]) => ({ name: n, uuid })),
    );
  }
  if (p === "/workers/scripts") return [200, envelope(Object.keys(account.scripts).map((id) => ({ id })))];
  const settings = /^\/workers\/scripts\/([^/]+)\/settings$/.exec(p);
  if (settings && account.scripts[settings[1]])
    return [200, envelope({ bindings: account.scripts[settings[1]], compatibility_date: "2025-09-15" })];
  return [404, { success: false, errors: [{ code: 10007, message: `no route ${p}` }] }];
}

/** A D1 binding as the settings API returns it. */
const d1Binding = (name: string, database: keyof typeof D1_IDS): Binding => ({
  type: "d1",
  name,
  id: D1_IDS[database],
  database_id: D1_IDS[database],
});

let api: http.Server;
let dir: string;

beforeAll(async () => {
  api = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const [status, json, raw] = handle(req);
      res.writeHead(status, {
        "content-type": raw === undefined ? "application/json" : "application/octet-stream",
      });
      res.end(raw ?? JSON.stringify(json));
    });
  });
  await new Promise<void>((r) => api.listen(0, "127.0.0.1", r));
  // At final-cut, with a second D1 database that the decommission change is about to retire.
  dir = scratchMatchauto(
    "decommission",
    "final-cut",
    ['flagsUpdatedAt: "2026-03-01T12:00:00Z"'],
    [
      [
        "        workers: [matchauto-api-staging]\n",
        "        workers: [matchauto-api-staging]\n        legacyBindings: [LEGACY_DATABASE_URL]\n",
      ],
      [
        "      d1:\n",
        "      d1:\n        - { name: matchauto-old-staging, binding: OLD_DB, locationHint: wnam, readReplication: disabled }\n",
      ],
    ],
  );
});

afterAll(() => {
  api?.closeAllConnections();
  api?.close();
});

const check = (...extra: string[]) =>
  runCutover(
    [
      "check",
      "decommission",
      "--stack",
      "staging",
      "--migration",
      "matchauto",
      "--retire",
      "matchauto-old-staging",
      ...extra,
    ],
    {
      CLOUDFLARE_API_TOKEN: TOKEN,
      CLOUDFLARE_BASE_URL: `http://127.0.0.1:${(api.address() as AddressInfo).port}/client/v4`,
    },
    dir,
  );

it("names every Worker binding and script that still reads legacy or the database being retired", async () => {
  account.scripts = {
    "matchauto-api-staging": [
      d1Binding("EDGE_DB", "matchauto-edge-staging"),
      d1Binding("OLD_DB", "matchauto-old-staging"),
      { type: "hyperdrive", name: "LEGACY_PG", id: "hd-legacy" },
      { type: "secret_text", name: "LEGACY_DATABASE_URL" },
      { type: "plain_text", name: "LEGACY_HOST_NOTE", text: `postgres host ${LEGACY_HOST}` },
      { type: "kv_namespace", name: "FLAGS", id: KV_ID },
    ],
    "cutover-compare-staging-matchauto": [{ type: "hyperdrive", name: "LEGACY_DB", id: "hd-legacy" }],
    "unrelated-worker": [{ type: "hyperdrive", name: "OTHER", id: "hd-other" }],
  };
  const r = await check("--evidence");
  expect(r.code).toBe(1);
  expect(r.stdout).toContain("still reading what decommission turns off (6):");
  for (const line of [
    "Worker matchauto-api-staging, binding OLD_DB: binds D1 database matchauto-old-staging, which decommission deletes",
    `Worker matchauto-api-staging, binding LEGACY_PG: reaches the legacy database ${LEGACY_HOST} through Hyperdrive`,
    "Worker matchauto-api-staging, binding LEGACY_DATABASE_URL: is named in cloudflare.legacyBindings: it reaches legacy",
    `Worker matchauto-api-staging, binding LEGACY_HOST_NOTE: a variable naming the legacy host ${LEGACY_HOST}`,
    "Worker cutover-compare-staging-matchauto: the comparison Worker still runs: it reads legacy on its cron",
    `Worker cutover-compare-staging-matchauto, binding LEGACY_DB: reaches the legacy database ${LEGACY_HOST} through Hyperdrive`,
  ])
    expect(r.stdout).toContain(line);
  expect(r.stdout).toContain("hint: npx wrangler delete --name cutover-compare-staging-matchauto");
  expect(r.stdout).not.toContain("EDGE_DB");
  expect(r.stdout).not.toContain("unrelated-worker");
  expect(r.stdout + r.stderr).not.toContain(TOKEN);
  expect(readEvidence(dir, "staging", "matchauto", "detached")).toMatchObject({
    evidence: { passed: false, position: "final-cut" },
  });

  // The gate: decommission is refused on this evidence, even with the export done.
  // The other gate of the step, as `d1:export --remote --evidence` writes it (tested on its own).
  recordScoped(dir, "staging", "matchauto", "export", { summary: "2 D1 databases exported" });
  const refused = applyStep("staging", "matchauto", "next", undefined, {
    dir,
    now: new Date("2026-04-01T00:00:00Z"),
  });
  expect(refused.code).toBe(1);
  expect(refused.out).toContain(
    "final-cut → decommission needs passing detached evidence taken at final-cut: the last detached did not pass",
  );
  expect(refused.out).toContain(
    "hint: cutover check decommission --stack staging --migration matchauto --evidence",
  );
});

it("a flags entry that still reads legacy is a finding too", async () => {
  account.scripts = {};
  account.flags = { ...account.flags, writeMode: "dual", readPercent: 100 };
  const r = await check("--json");
  expect(r.code).toBe(1);
  expect(JSON.parse(r.stdout)).toMatchObject({
    passed: false,
    scripts: 0,
    findings: [
      {
        where: "flags entry cutover:flags:matchauto (KV matchauto-staging-migration-flags)",
        what: "it still says writeMode dual, readPercent 100: legacy is still read or written",
      },
    ],
  });
});

it("once nothing reads them, the check passes and the gate opens", async () => {
  account.flags = { ...account.flags, writeMode: "new", readPercent: 100 };
  account.scripts = {
    "matchauto-api-staging": [
      d1Binding("EDGE_DB", "matchauto-edge-staging"),
      { type: "kv_namespace", name: "FLAGS", id: KV_ID },
    ],
    "unrelated-worker": [{ type: "hyperdrive", name: "OTHER", id: "hd-other" }],
  };
  const r = await check("--evidence");
  expect([r.code, r.stdout]).toEqual([
    0,
    `nothing reads legacy (${LEGACY_HOST}) or matchauto-old-staging: flags entry on the new stores, 2 Worker script(s) checked\n`,
  ]);
  expect(readEvidence(dir, "staging", "matchauto", "detached")).toMatchObject({
    evidence: {
      passed: true,
      endpoints: [{ role: "target", host: `cloudflare:${ACCOUNT}`, database: "workers" }],
    },
  });
  const allowed = applyStep("staging", "matchauto", "next", undefined, { dir, now: new Date() });
  expect([allowed.code, allowed.out]).toEqual([0, expect.stringContaining("final-cut → decommission")]);
});

it("refuses what it cannot check, without printing the token", async () => {
  const unknown = await check("--retire", "matchauto-nope");
  expect([unknown.code, unknown.stderr]).toEqual([
    2,
    expect.stringContaining(
      "--retire matchauto-nope: not a D1 database of matchauto; hint: one of matchauto-old-staging, matchauto-edge-staging",
    ),
  ]);
  const noToken = await runCutover(
    ["check", "decommission", "--stack", "staging", "--migration", "matchauto"],
    {},
    dir,
  );
  expect([noToken.code, noToken.stderr]).toEqual([
    2,
    expect.stringContaining("CLOUDFLARE_API_TOKEN is not set"),
  ]);
});
