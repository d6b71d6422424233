/**
 * Every command that calls the Cloudflare API bounds each request (--request-timeout, 30 s, three
 * attempts) and says what failed in words: the API host, the bound or the network error, and what to
 * do — never the SDK's bare "Connection error." — with exit 2 and never the token. The API is a local
 * listener (the SDK honours CLOUDFLARE_BASE_URL): one that accepts TCP and never answers, a closed port,
 * and one that refuses the token.
 */
import * as http from "node:http";
import * as net from "node:net";
import { runCutover } from "../support/cli";
import { freePort } from "../support/postgres";

jest.setTimeout(120_000);

const TOKEN = "cf-token-Never-Printed-3141";
let blackHole: net.Server;
let refusing: http.Server;
const sockets: net.Socket[] = [];
let silentPort: number;
let refusingPort: number;
let closedPort: number;

beforeAll(async () => {
  blackHole = net.createServer((socket) => sockets.push(socket));
  await new Promise<void>((r) => blackHole.listen(0, "127.0.0.1", () => r()));
  silentPort = (blackHole.address() as net.AddressInfo).port;
  refusing = http.createServer((req, res) => {
    req.resume();
    res.writeHead(403, { "content-type": "application/json" });
    res.end(
      JSON.stringify({
        success: false,
        errors: [{ code: 10000, message: "Authentication error" }],
        messages: [],
        result: null,
      }),
    );
  });
  await new Promise<void>((r) => refusing.listen(0, "127.0.0.1", () => r()));
  refusingPort = (refusing.address() as net.AddressInfo).port;
  closedPort = await freePort();
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((r) => blackHole.close(r));
  refusing.closeAllConnections();
  await new Promise((r) => refusing.close(r));
});

const api = (port: number) => ({
  CLOUDFLARE_API_TOKEN: TOKEN,
  CLOUDFLARE_BASE_URL: `http://127.0.0.1:${port}/client/v4`,
});

const commands: [string, string, string[]][] = [
  ["decommission", "check decommission", ["--stack", "staging", "--migration", "matchauto"]],
  ["compare", "check compare", ["status", "--remote", "--stack", "staging", "--migration", "matchauto"]],
  [
    "backfill",
    "data backfill",
    ["--stack", "staging", "--migration", "matchauto", "--store", "d1", "--remote"],
  ],
];

describe.each(commands)("%s against the Cloudflare API", (name, script, args) => {
  it("a silent API ends within --request-timeout, three attempts, naming the host and the flag", async () => {
    const run = await runCutover([...script.split(" "), ...args, "--request-timeout", "1"], {
      ...api(silentPort),
      LEGACY_DATABASE_URL: "postgres://app:pw@127.0.0.1:1/legacy",
    });
    expect(run.stderr).toContain(
      `${name}: no answer from the Cloudflare API (127.0.0.1:${silentPort}) within 1 s (3 attempts)`,
    );
    expect(run.stderr).toContain(
      `hint: check network access to 127.0.0.1:${silentPort} (proxy, firewall); --request-timeout sets the bound`,
    );
    expect(run.code).toBe(2);
    // Three attempts of 1 s and the SDK's short backoff between them: well under a minute.
    expect(run.elapsedMs).toBeLessThan(30_000);
    expect(run.stdout + run.stderr).not.toContain(TOKEN);
  });

  it("an API that cannot be reached says so with the network error, not 'Connection error.'", async () => {
    const run = await runCutover([...script.split(" "), ...args, "--request-timeout", "2"], api(closedPort));
    expect(run.stderr).toContain(
      `${name}: cannot reach the Cloudflare API (127.0.0.1:${closedPort}): ECONNREFUSED (3 attempts)`,
    );
    expect(run.stderr).not.toContain("Connection error.");
    expect(run.code).toBe(2);
    expect(run.stdout + run.stderr).not.toContain(TOKEN);
  });

  it("a refused token names the permission to check, without the token", async () => {
    const run = await runCutover([...script.split(" "), ...args], api(refusingPort));
    expect(run.stderr).toContain(
      `${name}: the Cloudflare API (127.0.0.1:${refusingPort}) refused the token (HTTP 403)`,
    );
    expect(run.stderr).toContain("check that CLOUDFLARE_API_TOKEN is current and has the permissions");
    expect(run.code).toBe(2);
    expect(run.stdout + run.stderr).not.toContain(TOKEN);
  });
});

it("a bad --request-timeout is refused before anything is called", async () => {
  const run = await runCutover(
    [
      "check",
      "decommission",
      "check",
      "--stack",
      "staging",
      "--migration",
      "matchauto",
      "--request-timeout",
      "soon",
    ],
    api(silentPort),
  );
  expect(run.stderr).toContain("option '--request-timeout <s>' argument 'soon' is invalid");
  expect(run.code).toBe(2);
});
