/**
 * The comparison Worker bundles only what it runs: wrangler's own bundle of it (`deploy --dry-run`,
 * offline) holds the comparison (ops/validate), its spec, the PostgreSQL driver and wrangler's Node
 * polyfills — no command line, no stack-file parser, no config schema.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { CUTOVER, ROOT, TSX } from "../support/cli";

jest.setTimeout(180_000);

let inputs: string[];
let bytes: number;

beforeAll(() => {
  const dir = mkdtempSync(join(tmpdir(), "cutover-bundle-"));
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, WRANGLER_SEND_METRICS: "false" };
  const config = join(dir, "wrangler.json");
  const made = spawnSync(
    TSX,
    [CUTOVER, "check", "compare", "config", "-s", "staging", "-m", "matchauto", "--local", "--out", config],
    {
      cwd: ROOT,
      env,
      encoding: "utf8",
    },
  );
  expect(made.stderr).not.toMatch(/error/i);
  const built = spawnSync(
    process.execPath,
    [
      join(ROOT, "node_modules/wrangler/bin/wrangler.js"),
      "deploy",
      "--dry-run",
      "--outdir",
      join(dir, "out"),
      "--metafile",
      join(dir, "meta.json"),
      "-c",
      config,
    ],
    { cwd: ROOT, env, encoding: "utf8" },
  );
  expect(built.status).toBe(0);
  const meta = JSON.parse(readFileSync(join(dir, "meta.json"), "utf8")) as {
    inputs: Record<string, unknown>;
  };
  // Paths are relative to the config's directory; Node's built-ins are named, not paths.
  inputs = Object.keys(meta.inputs).map((i) => (i.includes(":") ? i : relative(ROOT, resolve(dir, i))));
  bytes = statSync(join(dir, "out", "worker.js")).size;
});

it("holds the comparison and its pure parts only", () => {
  const ours = inputs.filter((i) => !i.includes("node_modules") && !i.includes(":"));
  expect(ours).toContain("workers/compare/worker.ts");
  expect(ours).toContain("ops/validate/run.ts");
  for (const i of ours)
    expect(i).toMatch(
      /^(workers\/compare\/|ops\/validate\/|ops\/compare\/spec\.ts$|ops\/lib\/(errors|mask|fingerprint)\.ts$)/,
    );
});

it("carries no command line, YAML parser, config schema or Pulumi", () => {
  for (const pkg of ["commander", "yaml", "zod", "cli-progress", "@pulumi", "cloudflare/"])
    expect(inputs.filter((i) => i.includes(`node_modules/${pkg}`))).toEqual([]);
  expect(inputs.filter((i) => /^(cli|tooling|infra)\//.test(i))).toEqual([]);
  expect(bytes).toBeLessThan(512 * 1024);
});
