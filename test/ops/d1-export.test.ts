/**
 * Decommission's gate: the retired D1 databases exported first (`cutover data export`, wrangler's
 * `d1 export` against a real local D1), the export recorded as evidence, and `phase next` from
 * final-cut refusing decommission until it is.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { evidenceProblem } from "../../infra/evidence";
import { recordScoped } from "../support/evidence";
import { applyStep } from "../../ops/phase/apply";
import { d1Execute } from "../support/d1";
import { CUTOVER } from "../support/cli";
import { NOW, scratchMatchauto } from "../support/stack";

jest.setTimeout(300_000);

const ROOT = path.resolve(__dirname, "../..");
const TSX = path.join(ROOT, "node_modules/.bin/tsx");
const DB = "matchauto-edge-staging";
const env = { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" };

/** The staging stack with matchauto at final-cut (retired marks come with the decommission change). */
const scratchStack = () => scratchMatchauto("d1-export", "final-cut");

const run = (dir: string, args: string[]) =>
  spawnSync(TSX, [CUTOVER, ...args], { cwd: dir, env, encoding: "utf8" });

it("exports the migration's D1 databases with their rows, records the evidence, and only then allows decommission", () => {
  const dir = scratchStack();
  const persistTo = path.join(dir, "d1-state");
  const target = ["--stack", "staging", "--migration", "matchauto", "--local", "--persist-to", persistTo];
  expect(run(dir, ["data", "d1-schema", ...target]).status).toBe(0);
  d1Execute(
    { cwd: dir, database: DB, persistTo, env },
    "INSERT INTO categories (id, slug, name, is_visible, created_at) VALUES (7, 'suv', 'SUV ''4x4''', 1, '2026-01-01T00:00:00Z')",
  );

  // Without the export, the step that deletes the database is refused, naming the command.
  const refused = applyStep("staging", "matchauto", "next", undefined, { dir, now: NOW });
  expect(refused.code).toBe(1);
  expect(refused.out).toContain(
    "matchauto: final-cut → decommission needs passing export evidence taken at final-cut: no export evidence (evidence/staging/matchauto/export.json); hint: cutover data export --stack staging --migration matchauto --remote --evidence",
  );

  const exported = run(dir, ["data", "export", ...target, "--evidence"]);
  expect([exported.status, exported.stderr]).toEqual([0, expect.stringContaining("evidence written to")]);
  const file = path.join(dir, "exports", "staging", "matchauto", `${DB}.sql`);
  const sql = fs.readFileSync(file, "utf8");
  expect(sql).toContain("CREATE TABLE categories");
  expect(sql).toContain(`INSERT INTO "categories" VALUES(7,NULL,'suv','SUV ''4x4''',`);
  expect(exported.stdout).toMatch(
    new RegExp(`${DB}: \\d+ tables, \\d+ rows, \\d+ bytes, sha256 [0-9a-f]{16}…`),
  );
  expect(
    evidenceProblem(dir, {
      stack: "staging",
      migration: "matchauto",
      check: "export",
      position: "final-cut",
      attempt: 1,
      maxAgeHours: 24,
      now: new Date(),
    }),
  ).toBeUndefined();

  // The other gate of the step (nothing reads the old stores) is the decommission check's, tested on its own.
  recordScoped(dir, "staging", "matchauto", "detached", { summary: "nothing reads legacy" });
  // An export of local state is no export of the stack's D1: the gate wants the Cloudflare account's.
  const local = applyStep("staging", "matchauto", "next", undefined, { dir, now: new Date() });
  expect(local.code).toBe(1);
  expect(local.out).toContain(
    "the export evidence was taken against target local/, not this stack's Cloudflare account (cloudflare:5f2c8e1a9b7d4c3e8a6f0b1d2e9c7a4b, with --remote)",
  );
  // Taken with --remote (as d1:export writes it against the account), the step is allowed.
  recordScoped(dir, "staging", "matchauto", "export", { summary: `${DB} exported` });
  const allowed = applyStep("staging", "matchauto", "next", undefined, { dir, now: new Date() });
  expect([allowed.code, allowed.out]).toEqual([0, expect.stringContaining("final-cut → decommission")]);
});

it("says what it needs: one of --local/--remote, and --stack for --evidence", () => {
  const dir = scratchStack();
  const neither = run(dir, ["data", "export", "--stack", "staging", "--migration", "matchauto"]);
  expect(neither.status).toBe(2);
  expect(neither.stderr).toContain("choose exactly one of --local");
  const noStack = run(dir, ["data", "export", "--database", DB, "--local", "--evidence"]);
  expect(noStack.status).toBe(2);
  expect(noStack.stderr).toContain("--evidence needs --stack and --migration");
});
