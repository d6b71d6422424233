/**
 * `cutover check smoke` against a local HTTP server playing the app's `/system/status`. The first path
 * segment of the base URL picks how it behaves: healthy, no-redis, broken (500), slow, errors.
 */
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { expectationFor } from "../../ops/smoke/expectations";
import { parseChecklist } from "../../ops/smoke/checklist";
import { checkWriteProbe, runSmoke } from "../../ops/smoke/run";
import { CLOUDSQL_PHASES } from "../../infra/config/schema";
import { ROOT, runCutover } from "../support/cli";
import { evidenceProblem } from "../../infra/evidence";
import { scratchDir } from "../support/scratch";
import { freePort } from "../support/postgres";
import type { CheckResult } from "../../ops/lib/verdict";

jest.setTimeout(180_000);

const TOKEN = "admin-Token-5521";

const STATUS_BODIES: Record<string, unknown> = {
  healthy: { ok: true, redis: { configured: true }, chatRealtime: { effectiveMode: "redis" } },
  "no-redis": { ok: true, redis: { configured: false }, chatRealtime: { effectiveMode: "memory" } },
  errors: { ok: false, errors: ["mercadopago: token expired"], redis: { configured: true } },
};

let server: http.Server;
let base: string;
const seenAuth: string[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const [, mode, ...rest] = (req.url ?? "/").split("/");
    const route = "/" + rest.join("/");
    seenAuth.push(String(req.headers.authorization ?? req.headers["x-admin-token"] ?? ""));
    const authorized =
      req.headers.authorization === `Bearer ${TOKEN}` || req.headers["x-admin-token"] === TOKEN;
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(typeof body === "string" ? body : JSON.stringify(body));
    };
    if (mode === "slow") return void setTimeout(() => send(200, STATUS_BODIES.healthy), 3000);
    if (mode === "broken") return send(500, { error: "boom" });
    if (route === "/system/status") {
      if (!authorized) return send(401, { error: "unauthorized" });
      if (mode === "html") return send(200, "<html>login</html>");
      if (mode === "string") return send(200, '"fine"');
      if (mode === "moved") return send(302, {});
      return send(200, STATUS_BODIES[mode] ?? {});
    }
    if (route === "/system/write-probe")
      return send(mode === "frozen" ? 503 : mode === "readonly" ? 403 : 204, {});
    if (route === "/shops") return send(200, []);
    if (route === "/auth/session") return send(authorized ? 200 : 401, {});
    if (route === "/payments/health") return send(503, { mercadopago: "down" });
    return send(404, {});
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const auth = { header: "authorization", token: TOKEN };
const smoke = (mode: string, phase: (typeof CLOUDSQL_PHASES)[number], timeoutMs = 2000) =>
  runSmoke({
    baseUrl: `${base}/${mode}`,
    auth,
    tokenEnv: "SMOKE_ADMIN_TOKEN",
    timeoutMs,
    expectation: expectationFor(phase),
  });
const byName = (results: CheckResult[], name: string) => results.find((r) => r.name === name);

describe("the write probe (the app contract for the write-block flag)", () => {
  const probe = { method: "POST", path: "/system/write-probe", refusedStatus: 503 };
  const check = (mode: string, phase: (typeof CLOUDSQL_PHASES)[number]) =>
    checkWriteProbe({
      baseUrl: `${base}/${mode}`,
      auth,
      tokenEnv: "SMOKE_ADMIN_TOKEN",
      timeoutMs: 2000,
      expectation: expectationFor(phase),
      writeProbe: probe,
    });

  it("passes when the frozen revision refuses the write, and fails when it takes it", async () => {
    expect(await check("frozen", "freeze")).toMatchObject({
      status: "OK",
      detail: "POST /system/write-probe refused with HTTP 503: writes are blocked",
    });
    expect(await check("healthy", "freeze")).toMatchObject({
      status: "FAIL",
      detail:
        "POST /system/write-probe answered HTTP 204, expected 503: the frozen revision is taking writes (check the write-block flag in the app)",
    });
  });

  it("passes when the candidate takes the write in canary, and fails when it refuses it", async () => {
    expect((await check("healthy", "canary")).status).toBe("OK");
    expect(await check("readonly", "canary")).toMatchObject({
      status: "FAIL",
      detail:
        "POST /system/write-probe answered HTTP 403, expected 2xx: this revision does not take writes (phase canary)",
    });
  });

  it("without a declared probe: a FAIL where writes must be refused (freeze), a SKIP elsewhere", async () => {
    const at = (phase: "freeze" | "canary") =>
      checkWriteProbe({
        baseUrl: base,
        auth,
        tokenEnv: "SMOKE_ADMIN_TOKEN",
        timeoutMs: 2000,
        expectation: expectationFor(phase),
      });
    expect(await at("freeze")).toMatchObject({
      status: "FAIL",
      detail: expect.stringContaining(
        "no cloudRun.writeBlock.probe in the config: at freeze writes must be refused and only the probe can show it",
      ),
    });
    expect(await at("canary")).toMatchObject({
      status: "SKIP",
      detail: expect.stringContaining("declare the app's write probe"),
    });
  });
});

describe("phase expectations", () => {
  it("expects writes refused only on the frozen revision", () => {
    expect(CLOUDSQL_PHASES.filter((p) => !expectationFor(p).writes)).toEqual(["freeze"]);
  });

  it("requires Redis from stabilize on, and not before nor on rollback", () => {
    const required = CLOUDSQL_PHASES.filter((p) => expectationFor(p).redisRequired);
    expect(required).toEqual(["stabilize", "decommission"]);
  });
});

describe("runSmoke against a local /system/status", () => {
  it("passes a healthy service in stabilize", async () => {
    const results = await smoke("healthy", "stabilize");
    expect(results.map((r) => `${r.name}=${r.status}`)).toEqual([
      "GET /system/status=OK",
      "redis.configured=OK",
      "chatRealtime.effectiveMode=OK",
      "Write probe=SKIP",
      "Checklist routes=SKIP",
    ]);
    expect(seenAuth).toContain(`Bearer ${TOKEN}`);
  });

  it("fails Redis not configured in stabilize, with what was expected", async () => {
    const results = await smoke("no-redis", "stabilize");
    expect(byName(results, "redis.configured")).toMatchObject({
      status: "FAIL",
      detail: "is false; expected true (phase stabilize wires Redis: REDIS_URL on the revision)",
    });
    expect(byName(results, "chatRealtime.effectiveMode")).toMatchObject({
      status: "FAIL",
      detail: 'is "memory"; expected "redis" (phase stabilize wires Redis: CHAT_REALTIME_BUS=redis)',
    });
  });

  it("accepts Redis not configured before stabilize", async () => {
    const results = await smoke("no-redis", "canary");
    expect(results.filter((r) => r.status === "FAIL")).toEqual([]);
    expect(byName(results, "redis.configured")?.detail).toBe(
      "false; not required before stabilize, phase is canary",
    );
  });

  it("reports missing fields as missing", async () => {
    const results = await smoke("empty", "decommission");
    expect(byName(results, "redis.configured")?.detail).toBe(
      "missing from the answer; expected true (phase decommission wires Redis: REDIS_URL on the revision)",
    );
  });

  it("fails on HTTP 500", async () => {
    const results = await smoke("broken", "canary");
    expect(results[0]).toMatchObject({
      status: "FAIL",
      detail: "HTTP 500: the service failed (see its logs)",
    });
  });

  it("fails a slow service within the per-request timeout", async () => {
    const started = Date.now();
    const results = await smoke("slow", "canary", 500);
    expect(results[0]).toMatchObject({
      status: "FAIL",
      detail: expect.stringMatching(/^no answer from 127\.0\.0\.1:\d+\/slow\/system\/status within 500 ms/),
    });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it("names the errors the service reports", async () => {
    const results = await smoke("errors", "canary");
    expect(results[0]).toMatchObject({
      status: "FAIL",
      detail: "the service reports errors",
      objects: ["mercadopago: token expired"],
    });
  });

  it("explains a rejected token and a body that is not JSON", async () => {
    const rejected = await runSmoke({
      baseUrl: `${base}/healthy`,
      auth: { header: "authorization", token: "wrong" },
      tokenEnv: "SMOKE_ADMIN_TOKEN",
      timeoutMs: 2000,
      expectation: expectationFor("canary"),
    });
    expect(rejected[0].detail).toBe("HTTP 401: the admin token was rejected (check SMOKE_ADMIN_TOKEN)");
    const html = await smoke("html", "canary");
    expect(html[0].detail).toBe("HTTP 200 but the body is not JSON (is this the API's base URL?)");
  });

  it("explains a refused connection, a body that is not an object, and other statuses", async () => {
    const closed = await freePort();
    const refused = await runSmoke({
      baseUrl: `http://127.0.0.1:${closed}`,
      auth,
      tokenEnv: "SMOKE_ADMIN_TOKEN",
      timeoutMs: 2000,
      expectation: expectationFor("canary"),
      routes: [{ name: "shops", path: "/shops", method: "GET", auth: true }],
    });
    expect(refused.map((r) => r.detail)).toEqual([
      `connection refused by 127.0.0.1:${closed}/system/status (is the server running and the port right?)`,
      "no cloudRun.writeBlock.probe in the config; declare the app's write probe to check the freeze",
      `connection refused by 127.0.0.1:${closed}/shops (is the server running and the port right?)`,
    ]);
    expect((await smoke("string", "canary"))[0].detail).toBe("the body is not a JSON object");
    expect((await smoke("moved", "canary"))[0].detail).toBe("HTTP 302");
  });

  it("says what failed where fetch says only 'fetch failed': an https:// URL for an http:// server", async () => {
    const tls = await runSmoke({
      baseUrl: `${base.replace("http://", "https://")}/healthy`,
      auth,
      tokenEnv: "SMOKE_ADMIN_TOKEN",
      timeoutMs: 2000,
      expectation: expectationFor("canary"),
    });
    expect(tls[0].detail).toMatch(
      /^TLS handshake with 127\.0\.0\.1:\d+\/healthy\/system\/status failed \(ERR_SSL_WRONG_VERSION_NUMBER\): does it speak HTTPS\?/,
    );
    expect(tls.map((r) => r.detail).join("\n")).not.toContain("fetch failed");
  });

  it("checks the checklist routes with their expected statuses", async () => {
    const routes = parseChecklist(
      [
        "routes:",
        "  - { name: auth, path: /auth/session }",
        "  - { name: shops, path: /shops, auth: false }",
        "  - { name: payments, path: /payments/health }",
        "  - { name: chat, path: /chat/rooms, expect: [200, 204] }",
      ].join("\n"),
      "checklist.yaml",
    );
    const results = await runSmoke({
      baseUrl: `${base}/healthy/`,
      auth,
      tokenEnv: "SMOKE_ADMIN_TOKEN",
      timeoutMs: 2000,
      expectation: expectationFor("canary"),
      routes,
    });
    expect(
      results.slice(4).map((r) => `${r.name}: ${r.status}${r.status === "FAIL" ? ` ${r.detail}` : ""}`),
    ).toEqual([
      "GET /auth/session (auth): OK",
      "GET /shops (shops): OK",
      "GET /payments/health (payments): FAIL HTTP 503: the service failed (see its logs); expected 2xx",
      "GET /chat/rooms (chat): FAIL HTTP 404: route not found (wrong base URL, or the revision lacks it); expected 200 or 204",
    ]);
  });

  it("rejects a malformed checklist with the path of the problem", () => {
    expect(() => parseChecklist("routes:\n  - { name: shops, path: shops }\n", "c.yaml")).toThrow(
      "c.yaml.routes.0.path: expected a path starting with /",
    );
    expect(() => parseChecklist("routes: [", "c.yaml")).toThrow("c.yaml is not valid YAML/JSON");
  });
});

/** What the gate judge says of the smoke evidence in `dir` (staging's avvivo, at baseline). */
const smokeProblem = (dir: string) =>
  evidenceProblem(dir, {
    stack: "staging",
    migration: "avvivo",
    check: "smoke",
    position: "baseline",
    attempt: 1,
    maxAgeHours: 1,
    now: new Date(),
  });

describe("smoke (CLI)", () => {
  const cli = (args: string[], env: NodeJS.ProcessEnv, cwd = ROOT) =>
    runCutover(["check", "smoke", ...args], env, cwd);

  it("exits 0 on a healthy service and never prints the token", async () => {
    const run = await cli([`${base}/healthy`, "--phase", "stabilize"], { SMOKE_ADMIN_TOKEN: TOKEN });
    expect(run.stdout).toMatch(
      /^GET \/system\/status: OK \(HTTP 200 in \d+ ms\)\nredis\.configured: OK \(true\)\n/,
    );
    expect(run.code).toBe(0);
    expect(run.stdout + run.stderr).not.toContain(TOKEN);
  });

  it("writes gate evidence for the migration at the position its file is at, token never in it", async () => {
    const dir = scratchDir("smoke-evidence");
    fs.copyFileSync(path.join(ROOT, "Pulumi.staging.yaml"), path.join(dir, "Pulumi.staging.yaml"));
    fs.writeFileSync(
      path.join(dir, "checklist.yaml"),
      "routes:\n  - { name: auth, path: /auth/session }\n  - { name: shops, path: /shops, auth: false }\n",
    );
    const run = await cli(
      [
        `${base}/healthy`,
        "-s",
        "staging",
        "--migration",
        "avvivo",
        "--evidence",
        "--checklist",
        "checklist.yaml",
      ],
      { SMOKE_ADMIN_TOKEN: TOKEN },
      dir,
    );
    expect(run.code).toBe(0);
    const file = path.join(dir, "evidence/staging/avvivo/smoke.json");
    expect(run.stderr).toContain(`smoke: evidence written to ${file}`);
    const written = fs.readFileSync(file, "utf8");
    const port = Number(new URL(base).port);
    expect(JSON.parse(written)).toMatchObject({
      check: "smoke",
      position: "baseline",
      passed: true,
      endpoints: [{ role: "target", host: "127.0.0.1", port, database: "" }],
    });
    expect(written).not.toContain(TOKEN);
    expect(smokeProblem(dir)).toBeUndefined();
  });

  it("evidence with a check that did not run (a SKIP) does not pass: exit 1, the skipped check named", async () => {
    const dir = scratchDir("smoke-skip");
    fs.copyFileSync(path.join(ROOT, "Pulumi.staging.yaml"), path.join(dir, "Pulumi.staging.yaml"));
    const run = await cli(
      [`${base}/healthy`, "-s", "staging", "--migration", "avvivo", "--evidence"],
      { SMOKE_ADMIN_TOKEN: TOKEN },
      dir,
    );
    expect(run.stdout).toContain("Checklist routes: SKIP (no --checklist file given)");
    expect(run.stderr).toContain(
      "smoke: the evidence does not pass: Checklist routes did not run; declare the write probe (cloudRun.writeBlock.probe) and pass --checklist",
    );
    expect(run.code).toBe(1);
    const written = JSON.parse(fs.readFileSync(path.join(dir, "evidence/staging/avvivo/smoke.json"), "utf8"));
    expect(written).toMatchObject({ passed: false });
    expect(written.summary).toContain("skipped: Checklist routes (a gate needs every check run)");
    expect(smokeProblem(dir)).toContain("the last smoke did not pass");
  });

  it("takes the phase from the stack file and the token from ADMIN_STATUS_TOKEN in a custom header", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cutover-smoke-"));
    try {
      const stack = fs.readFileSync(path.join(ROOT, "Pulumi.staging.yaml"), "utf8");
      fs.writeFileSync(path.join(dir, "Pulumi.staging.yaml"), stack);
      const args = [
        `${base}/no-redis`,
        "-s",
        "staging",
        "--migration",
        "avvivo",
        "--token-header",
        "x-admin-token",
        "--json",
      ];
      const run = await cli(args, { ADMIN_STATUS_TOKEN: TOKEN }, dir);
      const report = JSON.parse(run.stdout);
      expect(report.command).toBe("check smoke");
      expect(report.passed).toBe(true);
      expect(report.ok).toBe(true);
      expect(report.checks[1].detail).toMatch(/not required before stabilize, phase is \w+/);
      expect(run.code).toBe(0);
      expect(run.stdout).not.toContain(TOKEN);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("exits 1 on a 500 and when Redis is missing in stabilize", async () => {
    const run = await cli([`${base}/no-redis`, "--phase", "stabilize"], { SMOKE_ADMIN_TOKEN: TOKEN });
    expect(run.stdout).toContain("redis.configured: FAIL: is false; expected true");
    expect(run.code).toBe(1);
  });

  it.each([
    [
      ["http://x", "--phase", "stabilize"],
      {},
      "smoke: no admin token: set SMOKE_ADMIN_TOKEN or ADMIN_STATUS_TOKEN (the token of GET /system/status)",
    ],
    [
      ["http://x"],
      { SMOKE_ADMIN_TOKEN: TOKEN },
      "smoke: which phase is the revision in? give --phase <phase> or --stack <stack> --migration <name>",
    ],
    [
      ["http://x", "--phase", "cutover"],
      { SMOKE_ADMIN_TOKEN: TOKEN },
      "smoke: --phase cutover is not a cloudsql phase; expected one of baseline, provision",
    ],
    [
      ["http://x", "--phase", "canary", "--migration", "avvivo"],
      { SMOKE_ADMIN_TOKEN: TOKEN },
      "smoke: give either --phase or --migration, not both",
    ],
    [
      ["http://x", "--migration", "avvivo"],
      { SMOKE_ADMIN_TOKEN: TOKEN },
      "smoke: --migration avvivo needs the stack whose file holds it\n  hint: -s <stack>, e.g. cutover check smoke <url> -s staging -m avvivo",
    ],
    [
      ["not-a-url", "--phase", "canary"],
      { SMOKE_ADMIN_TOKEN: TOKEN },
      "smoke: <base-url> not-a-url is not a URL; expected e.g. https://avvivo-api-xyz.a.run.app",
    ],
    [
      ["ftp://h/x", "--phase", "canary"],
      { SMOKE_ADMIN_TOKEN: TOKEN },
      "smoke: <base-url> must be http(s), got ftp://…",
    ],
    [
      ["http://x", "--phase", "canary", "--checklist", "/nonexistent.yaml"],
      { SMOKE_ADMIN_TOKEN: TOKEN },
      "smoke: cannot read checklist file /nonexistent.yaml",
    ],
    [["http://x", "--phase", "canary", "--token-env", "MY_TOKEN"], {}, "smoke: no admin token: set MY_TOKEN"],
    [
      ["http://x", "--phase", "canary", "--timeout", "0"],
      { SMOKE_ADMIN_TOKEN: TOKEN },
      "option '--timeout <s>' argument '0' is invalid. expected seconds, e.g. 10",
    ],
  ])("refuses bad input %j with exit 2", async (args, env, message) => {
    const run = await cli(args, env);
    expect(run.stderr).toContain(message);
    expect(run.code).toBe(2);
  });
});
