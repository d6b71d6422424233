/**
 * `cutover workers sync`: what the pipeline does to the Workers after each `pulumi up` of staging's
 * matchauto, decided from the stack outputs the real program gives (Pulumi's mock runtime) before and
 * after the up. The actions run through a recording stand-in for the wrangler command line (no
 * Cloudflare account here); `--dry-run` bundles the comparison Worker with the real wrangler, offline.
 */
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { CONFIG_KEY } from "../../infra/config/common";
import { parseMigrations } from "../../infra/config/load";
import type { DualWriteMigration } from "../../infra/config/schema";
import { program } from "../../stacks/program";
import { atPosition, loadStack, readStackConfig } from "../../tooling/stack-file";
import { synthesize } from "../../tooling/synth";
import {
  actionsAfterUp,
  actionsBeforeUp,
  FLOOR_BINDING,
  runWorkerActions,
  type WorkerAction,
} from "../../ops/workers/sync";
import { ROOT, runCutover } from "../support/cli";
import { NOW } from "../support/stack";
import { scratchDir } from "../support/scratch";

type Pos = { phase: string; percent?: number; rollbackFrom?: string };

/** `pulumi stack output --json` of staging with matchauto at `p`, from the real program. */
const outputsCache = new Map<string, Record<string, unknown>>();
async function outputsAt(p: Pos): Promise<Record<string, unknown>> {
  const key = JSON.stringify(p);
  if (!outputsCache.has(key)) {
    const file = atPosition(readStackConfig("staging", ROOT), "matchauto", { ...p, attempt: 1 });
    const s = await synthesize(() => program(NOW), {
      stack: "staging",
      config: file.config,
      secretKeys: file.secretKeys,
    });
    // As `pulumi stack output --json` prints them: plain JSON.
    outputsCache.set(key, JSON.parse(JSON.stringify(s.outputs)));
  }
  return outputsCache.get(key)!;
}

const specs = () => {
  const m = loadStack("staging", { dir: ROOT }).migrations.matchauto as DualWriteMigration;
  return { matchauto: m };
};
const dirOf = (role: string, m: string) => path.join("/tmp/cutover-workers", m, role);

async function actionsFor(before: Pos | undefined, after: Pos, extra: { all?: boolean } = {}) {
  return actionsAfterUp({
    stack: "staging",
    specs: specs(),
    ...(before ? { before: await outputsAt(before) } : {}),
    after: await outputsAt(after),
    afterFile: "after.json",
    configDir: dirOf,
    ...extra,
  });
}
const kinds = (a: readonly WorkerAction[]) => a.map((x) => `${x.kind} ${x.worker}`);

describe("the actions an up implies, from the outputs before and after it", () => {
  it("sets the floor on each step and deploys the comparison Worker where its state turns on", async () => {
    expect(kinds(await actionsFor({ phase: "baseline" }, { phase: "shadow" }))).toEqual([
      "floor matchauto-api-staging",
    ]);
    const toDual = await actionsFor({ phase: "backfill" }, { phase: "dual-write" });
    expect(kinds(toDual)).toEqual([
      "floor matchauto-api-staging",
      "deploy cutover-compare-staging-matchauto",
    ]);
    // The capture Worker starts with the backfill, bound to the same Hyperdrive configs.
    const toBackfill = await actionsFor({ phase: "shadow" }, { phase: "backfill" });
    expect(kinds(toBackfill)).toEqual([
      "floor matchauto-api-staging",
      "deploy cutover-capture-staging-matchauto",
    ]);
    const capture = toBackfill[1];
    expect(capture.kind === "deploy" && JSON.parse((capture.config.vars as any).CAPTURE_SPEC)).toMatchObject({
      migration: "matchauto",
      afterCut: false,
    });
    const floor = toDual.find((a) => a.kind === "floor")!;
    expect(floor.kind === "floor" && JSON.parse(floor.value)).toEqual({
      matchauto: expect.objectContaining({ phase: "dual-write", writeMode: "legacy", readPercent: 0 }),
    });
    const deploy = toDual.find((a) => a.kind === "deploy")!;
    // Bound to what the up declared: the KV namespace and the Hyperdrive configs in the outputs.
    const after = (await outputsAt({ phase: "dual-write" })).matchauto as Record<string, any>;
    expect(deploy.kind === "deploy" && deploy.config).toMatchObject({
      name: "cutover-compare-staging-matchauto",
      kv_namespaces: [{ binding: "RESULTS", id: after.kvNamespaceId }],
      hyperdrive: expect.arrayContaining([{ binding: "LEGACY_DB", id: after.hyperdriveIds.legacy }]),
    });
  });

  it("leaves the comparison Worker alone while its config is unchanged; the final cut sets the new floor", async () => {
    expect(kinds(await actionsFor({ phase: "dual-write" }, { phase: "read-switch", percent: 10 }))).toEqual([
      "floor matchauto-api-staging",
    ]);
    // After the final cut's up: the floor only (the comparison Worker was deleted before it).
    const cut = await actionsFor({ phase: "read-switch", percent: 100 }, { phase: "final-cut" });
    expect(kinds(cut)).toEqual(["floor matchauto-api-staging"]);
    const floor = cut[0];
    expect(floor.kind === "floor" && JSON.parse(floor.value).matchauto).toMatchObject({
      writeMode: "new",
      readPercent: 100,
    });
  });

  it("does nothing when the up changed nothing, and everything again with --all", async () => {
    const same = { phase: "read-switch", percent: 50 };
    expect(await actionsFor(same, same)).toEqual([]);
    expect(kinds(await actionsFor(same, same, { all: true }))).toEqual([
      "floor matchauto-api-staging",
      "deploy cutover-compare-staging-matchauto",
      "deploy cutover-capture-staging-matchauto",
    ]);
    // Baseline declares no flags: no floor to set.
    expect(await actionsFor(undefined, { phase: "baseline" })).toEqual([]);
  });

  it("gives a Worker reading two migrations one floor holding both", async () => {
    const m = specs().matchauto;
    const after = await outputsAt({ phase: "shadow" });
    const actions = actionsAfterUp({
      stack: "staging",
      specs: { matchauto: m, second: m },
      after: { ...after, second: after.matchauto },
      afterFile: "after.json",
      configDir: dirOf,
    });
    expect(actions).toHaveLength(1);
    expect(actions[0].kind === "floor" && Object.keys(JSON.parse(actions[0].value))).toEqual([
      "matchauto",
      "second",
    ]);
  });
});

/** The stack file's specs with matchauto at `p` (what the up is about to apply). */
function specsAt(p: Pos) {
  const file = atPosition(readStackConfig("staging", ROOT), "matchauto", { ...p, attempt: 1 });
  return {
    matchauto: parseMigrations(file.config[CONFIG_KEY], { now: NOW }).matchauto as DualWriteMigration,
  };
}

describe("before the up", () => {
  const beforeUp = async (from: Pos, to: Pos | undefined) =>
    actionsBeforeUp({
      stack: "staging",
      specs: specsAt(to ?? from),
      ...(to ? { before: await outputsAt(from) } : {}),
      configDir: dirOf,
    });

  it("at the final cut: deletes the comparison Worker and turns the capture Worker to the after-cut rule", async () => {
    const actions = await beforeUp({ phase: "read-switch", percent: 100 }, { phase: "final-cut" });
    expect(kinds(actions)).toEqual([
      "delete cutover-compare-staging-matchauto",
      "deploy cutover-capture-staging-matchauto",
    ]);
    const capture = actions[1];
    expect(capture.kind === "deploy" && JSON.parse((capture.config.vars as any).CAPTURE_SPEC).afterCut).toBe(
      true,
    );
  });

  it("at decommission: deletes the capture Worker, whose Hyperdrive configs that up deletes", async () => {
    expect(kinds(await beforeUp({ phase: "final-cut" }, { phase: "decommission" }))).toEqual([
      "delete cutover-capture-staging-matchauto",
    ]);
  });

  it("nothing where both Workers keep running (a rollback), or nothing is deployed yet", async () => {
    const rollback = { phase: "rollback", rollbackFrom: "read-switch" };
    expect(await beforeUp({ phase: "read-switch", percent: 50 }, rollback)).toEqual([]);
    expect(await beforeUp({ phase: "final-cut" }, undefined)).toEqual([]);
  });
});

/** Cloudflare's API as far as these actions use it: records each request, answers as told. */
async function fakeApi(answer: (method: string, url: string) => [number, unknown] = () => [200, {}]) {
  const requests: { method: string; url: string; body: any; auth?: string }[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      requests.push({
        method: req.method!,
        url: req.url!,
        body: body ? JSON.parse(body) : undefined,
        auth: req.headers.authorization,
      });
      const [status, result] = answer(req.method!, req.url!);
      res.writeHead(status, { "content-type": "application/json" });
      res.end(
        JSON.stringify(
          status < 400
            ? { success: true, errors: [], messages: [], result }
            : { success: false, errors: [result], messages: [], result: null },
        ),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/client/v4`;
  return { base, requests, close: () => new Promise((r) => server.close(r)) };
}

describe("running them", () => {
  const account = () => specs().matchauto.cloudflare.accountId;
  let saved: string | undefined;
  beforeEach(() => (saved = process.env.CLOUDFLARE_BASE_URL));
  afterEach(() => {
    if (saved === undefined) delete process.env.CLOUDFLARE_BASE_URL;
    else process.env.CLOUDFLARE_BASE_URL = saved;
  });

  /** A wrangler stand-in that records its arguments and account. */
  function recorder(dir: string) {
    const log = path.join(dir, "calls.jsonl");
    const script = path.join(dir, "wrangler.js");
    fs.writeFileSync(
      script,
      `require("node:fs").appendFileSync(${JSON.stringify(log)}, JSON.stringify({ args: process.argv.slice(2), account: process.env.CLOUDFLARE_ACCOUNT_ID }) + "\\n");`,
    );
    const calls = () =>
      fs.existsSync(log)
        ? fs
            .readFileSync(log, "utf8")
            .trim()
            .split("\n")
            .map((l) => JSON.parse(l))
        : [];
    return { wrangler: [process.execPath, script], calls };
  }

  it("puts the floor as a Worker secret, deploys with wrangler, and deletes, in the stack's account", async () => {
    const api = await fakeApi();
    process.env.CLOUDFLARE_BASE_URL = api.base;
    const dir = scratchDir("workers-sync");
    const r = recorder(dir);
    const configFile = path.join(dir, "compare/wrangler.json");
    const after = (await actionsFor({ phase: "backfill" }, { phase: "dual-write" })).map((a) =>
      a.kind === "deploy" ? { ...a, configFile } : a,
    );
    const before = actionsBeforeUp({
      stack: "staging",
      specs: specsAt({ phase: "final-cut" }),
      before: await outputsAt({ phase: "read-switch", percent: 100 }),
      configDir: dirOf,
    }).filter((a) => a.kind === "delete");
    try {
      await runWorkerActions([...after, ...before], {
        wrangler: r.wrangler,
        env: { CLOUDFLARE_API_TOKEN: "t0ken-value" },
      });
    } finally {
      await api.close();
    }
    expect(api.requests.map((q) => `${q.method} ${q.url}`)).toEqual([
      `PUT /client/v4/accounts/${account()}/workers/scripts/matchauto-api-staging/secrets`,
      `DELETE /client/v4/accounts/${account()}/workers/scripts/cutover-compare-staging-matchauto?force=true`,
    ]);
    const put = api.requests[0];
    expect(put.body).toMatchObject({ name: FLOOR_BINDING, type: "secret_text" });
    expect(JSON.parse(put.body.text).matchauto).toMatchObject({ phase: "dual-write", writeMode: "legacy" });
    expect(put.auth).toBe("Bearer t0ken-value");
    expect(r.calls()).toEqual([{ args: ["deploy", "-c", configFile], account: account() }]);
    expect(JSON.parse(fs.readFileSync(configFile, "utf8")).name).toBe("cutover-compare-staging-matchauto");
  });

  it("takes a comparison Worker already gone as deleted, and names a Worker that does not exist", async () => {
    const notFound: [number, unknown] = [404, { code: 10007, message: "workers.api.error.script_not_found" }];
    const api = await fakeApi(() => notFound);
    process.env.CLOUDFLARE_BASE_URL = api.base;
    const env = { CLOUDFLARE_API_TOKEN: "t0ken-value" };
    const lines: string[] = [];
    try {
      const gone = actionsBeforeUp({
        stack: "staging",
        specs: specsAt({ phase: "decommission" }),
        before: await outputsAt({ phase: "final-cut" }),
        configDir: dirOf,
      });
      await runWorkerActions(gone, { env, log: (l) => lines.push(l) });
      expect(lines).toContain("cutover-capture-staging-matchauto: already deleted");
      const floor = await actionsFor({ phase: "baseline" }, { phase: "shadow" });
      await expect(runWorkerActions(floor, { env })).rejects.toMatchObject({
        message: `matchauto-api-staging: no such Worker in account ${account()}`,
        hint: expect.stringContaining("cloudflare.workers"),
      });
    } finally {
      await api.close();
    }
  });

  it("says to take the floor out of the Worker's vars when it is bound there", async () => {
    const api = await fakeApi(() => [
      400,
      { code: 10053, message: "Binding name 'CUTOVER_FLAGS_FLOOR' already in use" },
    ]);
    process.env.CLOUDFLARE_BASE_URL = api.base;
    try {
      const floor = await actionsFor({ phase: "baseline" }, { phase: "shadow" });
      await expect(
        runWorkerActions(floor, { env: { CLOUDFLARE_API_TOKEN: "t0ken-value" } }),
      ).rejects.toMatchObject({
        hint: expect.stringContaining(`remove ${FLOOR_BINDING} from the Worker's vars`),
      });
    } finally {
      await api.close();
    }
  });

  it("refuses to run without CLOUDFLARE_API_TOKEN", async () => {
    const actions = await actionsFor({ phase: "baseline" }, { phase: "shadow" });
    await expect(runWorkerActions(actions, { env: {} })).rejects.toThrow(/CLOUDFLARE_API_TOKEN is not set/);
  });
});

describe("cutover workers sync", () => {
  const write = (dir: string, name: string, value: unknown) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, JSON.stringify(value));
    return file;
  };

  it("--dry-run prints the actions and bundles the comparison Worker with wrangler, offline", async () => {
    const dir = scratchDir("workers-sync-cli");
    for (const f of ["Pulumi.yaml", "Pulumi.staging.yaml"])
      fs.copyFileSync(path.join(ROOT, f), path.join(dir, f));
    const before = write(dir, "before.json", await outputsAt({ phase: "backfill" }));
    const after = write(dir, "after.json", await outputsAt({ phase: "dual-write" }));
    const r = await runCutover(
      ["workers", "sync", "-s", "staging", "--deployed", after, "--before", before, "--dry-run"],
      {},
      dir,
    );
    expect(r.stderr).toContain(
      "(dry run) matchauto-api-staging: CUTOVER_FLAGS_FLOOR ← the floor of matchauto",
    );
    expect(r.stderr).toContain("(dry run) cutover-compare-staging-matchauto: deploy the comparison Worker");
    expect(r.stderr).not.toContain("cutover-capture-staging-matchauto");
    expect(r.code).toBe(0);
    // wrangler bundled the Worker from the config written for it.
    const out = path.join(dir, ".cutover/workers/staging/matchauto/compare");
    expect(fs.existsSync(path.join(out, "wrangler.json"))).toBe(true);
    expect(fs.readdirSync(path.join(out, "dist")).some((f) => f.endsWith(".js"))).toBe(true);
  }, 120_000);

  it("refuses outputs it cannot read, naming the flag and how to make the file (exit 2)", async () => {
    const dir = scratchDir("workers-sync-bad");
    const bad = path.join(dir, "after.json");
    fs.writeFileSync(bad, "[1, 2]");
    const notJson = await runCutover(["workers", "sync", "-s", "staging", "--deployed", bad], {});
    expect(notJson.code).toBe(2);
    expect(notJson.stderr).toContain(
      `--deployed ${bad}: expected the JSON object \`pulumi stack output --json\` prints`,
    );
    expect(notJson.stderr).toContain("pulumi stack output --json --stack <stack>");
    const missing = await runCutover(
      ["workers", "sync", "-s", "staging", "--deployed", path.join(dir, "none.json")],
      {},
    );
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("no such file");
  });

  it("sets the floor through the API, and never prints the token, even where the API echoes it", async () => {
    const token = "s3cret-token-value";
    const api = await fakeApi((method) =>
      method === "PUT" ? [403, { code: 10000, message: `Authentication error for ${token}` }] : [200, {}],
    );
    const dir = scratchDir("workers-sync-token");
    for (const f of ["Pulumi.yaml", "Pulumi.staging.yaml"])
      fs.copyFileSync(path.join(ROOT, f), path.join(dir, f));
    const before = write(dir, "before.json", await outputsAt({ phase: "baseline" }));
    const after = write(dir, "after.json", await outputsAt({ phase: "shadow" }));
    const args = ["workers", "sync", "-s", "staging", "--deployed", after, "--before", before];
    try {
      const none = await runCutover(args, {}, dir);
      expect(none.code).toBe(2);
      expect(none.stderr).toContain("CLOUDFLARE_API_TOKEN is not set");
      const r = await runCutover(args, { CLOUDFLARE_API_TOKEN: token, CLOUDFLARE_BASE_URL: api.base }, dir);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("refused the token (HTTP 403)");
      expect(r.stdout + r.stderr).not.toContain(token);
      expect(api.requests.map((q) => q.method)).toEqual(["PUT"]);
    } finally {
      await api.close();
    }
  });

  it("needs one step: before the up or after it", async () => {
    const r = await runCutover(["workers", "sync", "-s", "staging"], {});
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      "choose the step: --before-up (before pulumi up) or --deployed <file> (after it)",
    );
  });
});

// The outputs are what the program exports for this key: a renamed key would make every test above vacuous.
it("reads the outputs the program writes (kind, flagsFloor, compare)", async () => {
  const o = (await outputsAt({ phase: "dual-write" })).matchauto as Record<string, any>;
  expect(o.kind).toBe("dual-write");
  expect(o.flagsFloor).toBeDefined();
  expect(o.compare.state).toBe("on");
  expect(readStackConfig("staging", ROOT).config[CONFIG_KEY]).toBeDefined();
});
