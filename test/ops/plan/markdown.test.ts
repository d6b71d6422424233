import { spawnSync } from "node:child_process";
import { CUTOVER } from "../../support/cli";
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Position } from "../../../infra/engine/transitions";
import { recordScoped } from "../../support/evidence";
import { GITHUB_COMMENT_LIMIT, planMarkdown } from "../../../ops/plan/markdown";
import { renderPlan } from "../../../ops/plan/render";
import { buildPlan } from "../../../ops/plan/run";
import { deployedFromGit } from "../../../tooling/deployed";
import { readStackConfig } from "../../../tooling/stack-file";
import { commit, moveTo, scratchRepo, type ExampleMigration } from "../../support/git-stack";
import { NOW } from "../../support/stack";

const ROOT = resolve(__dirname, "../../..");
const p = (phase: string, extra: Partial<Position> = {}): Position => ({ phase, attempt: 1, ...extra });

/** The comment for deployed (committed) → proposed (working tree) of one migration of prod. */
async function comment(
  name: ExampleMigration,
  deployed: Position,
  proposed: Position,
  opts: { limit?: number; evidence?: (dir: string) => void } = {},
) {
  const dir = scratchRepo();
  moveTo(dir, name, deployed);
  commit(dir, "deployed");
  moveTo(dir, name, proposed);
  opts.evidence?.(dir);
  return planMarkdown({
    stack: "prod",
    dir,
    now: NOW,
    deployed: deployedFromGit("prod", "HEAD", dir),
    limit: opts.limit,
  });
}

/** Index of each heading in the comment, asserting they all appear and in this order. */
function expectInOrder(text: string, parts: readonly string[]): void {
  const at = parts.map((s) => text.indexOf(s));
  expect(at.filter((i) => i < 0).map((_, k) => parts[at.indexOf(-1, k)])).toEqual([]);
  expect([...at].sort((a, b) => a - b)).toEqual(at);
}

/** The rows of the Markdown table that follows `heading`. */
function tableAfter(text: string, heading: string): string[][] {
  const lines = text.slice(text.indexOf(heading)).split("\n");
  const start = lines.findIndex((l) => l.startsWith("|"));
  const rows: string[][] = [];
  for (const l of lines.slice(start + 2)) {
    if (!l.startsWith("|")) break;
    rows.push(
      l
        .slice(1, -1)
        .split(/(?<!\\)\|/)
        .map((c) => c.trim()),
    );
  }
  return rows;
}

describe("plan --markdown: the pull-request summary", () => {
  it("canary 10 → 50: the transition first, the engine's irreversible note, only config-reversible changes, the traffic moved", async () => {
    const { markdown, refused } = await comment(
      "avvivo",
      p("canary", { percent: 10 }),
      p("canary", { percent: 50 }),
    );
    expect(refused).toBe(false);
    expectInOrder(markdown, [
      "## cutover plan · stack `prod`",
      "### ✅ Transitions",
      "### 🛑 Irreversible",
      "Writes served by Cloud SQL revisions land only in Cloud SQL",
      "### Changes: 0 irreversible · 0 reversible with cost",
      "### Traffic — avvivo",
      "### Policy findings",
      "### Where each migration stands",
      "<details><summary>Full offline plan</summary>",
    ]);
    const transitions = tableAfter(markdown, "### ✅ Transitions");
    expect(transitions).toContainEqual(["`avvivo` (cloudsql)", "`canary:10`", "`canary:50`", "✅ allowed"]);
    expect(transitions).toContainEqual(["`matchauto` (dual-write)", "`baseline`", "`baseline`", "unchanged"]);
    const changes = tableAfter(markdown, "### Changes");
    expect(changes.length).toBeGreaterThan(0);
    expect(changes.every((r) => r[0] === "↩️ reversible by config" && r[1] === "update")).toBe(true);
    expect(changes.some((r) => r[2].includes("avvivo-app-service") && r[2].includes("traffics"))).toBe(true);
    const traffic = tableAfter(markdown, "### Traffic — avvivo");
    expect(traffic).toContainEqual(["`avvivo-api-cand-a1`", "10%", "**50%**", "Cloud SQL", "on", "no"]);
    expect(traffic).toContainEqual(["`avvivo-api-freeze-a1`", "90%", "**50%**", "source", "off", "no"]);
    expect(traffic).toContainEqual(["`avvivo-api-00187-tez`", "0%", "0%", "source", "on", "no"]);
    expect(markdown).toContain('state "canary 10→50→100% · deployed 10%, proposed 50%" as canary');
    expect(markdown).toContain("class canary proposed");
    expect(markdown).not.toContain("class canary deployed");
  });

  it("promote: the DMS promotion leads as irreversible, labelled on its resource, and the gate evidence is checked", async () => {
    const without = await comment("avvivo", p("freeze"), p("promote"));
    // Without evidence the gate judge refuses the step in the comment too (and the plan exits 1).
    expect(without.refused).toBe(true);
    expectInOrder(without.markdown, [
      "### ❌ 1 transition(s) refused",
      "### 🛑 Irreversible",
      "DMS promotion of job avvivo-dms-a1",
      "### Changes: 2 irreversible",
      "### Gate evidence",
    ]);
    const changes = tableAfter(without.markdown, "### Changes");
    const promotion = changes.find((r) => r[2].includes("avvivo-promotion"))!;
    expect(promotion.slice(0, 2)).toEqual(["🛑 irreversible", "create"]);
    expect(promotion[3]).toContain("replication from the source ends for good");
    const job = changes.find((r) => r[2].includes("avvivo-migrate-job"))!;
    expect(job.slice(0, 2)).toEqual(["🛑 irreversible", "create"]);
    expect(job[3]).toContain("executes the job when runExecutionToken is set");
    // The irreversible rows lead the table.
    expect(changes.slice(0, 2).every((r) => r[0] === "🛑 irreversible")).toBe(true);
    expect(without.markdown).toContain(
      "- ❌ **avvivo** `freeze → promote` needs passing validate evidence taken at `freeze`: no validate evidence (evidence/prod/avvivo/validate.json). Run `cutover check validate --stack prod --migration avvivo --evidence`",
    );
    const withEvidence = await comment("avvivo", p("freeze"), p("promote"), {
      evidence: (dir) =>
        recordScoped(dir, "prod", "avvivo", "validate", {
          position: "freeze",
          summary: "7 tables identical",
          at: new Date(NOW.getTime() - 3_600_000),
        }),
    });
    expect(withEvidence.markdown).toContain(
      "- ✅ **avvivo** validate passed at `freeze` on 2026-11-25T11:00:00.000Z (digest checked): 7 tables identical",
    );
    expect(withEvidence.markdown).not.toContain("❌");
    expect(withEvidence.refused).toBe(false);
    expect(withEvidence.markdown).toContain("### ✅ Transitions");
  });

  it("the text plan shows the gate too, and the program hands the verified evidence to the ledger", async () => {
    const dir = scratchRepo();
    moveTo(dir, "avvivo", p("freeze"));
    commit(dir, "deployed");
    moveTo(dir, "avvivo", p("promote"));
    recordScoped(dir, "prod", "avvivo", "validate", {
      position: "freeze",
      summary: "7 tables identical",
      at: NOW,
    });
    const report = await buildPlan({
      stack: "prod",
      dir,
      now: NOW,
      deployed: deployedFromGit("prod", "HEAD", dir),
    });
    const text = renderPlan(report, [], "git HEAD");
    expect(text).toContain(
      "      gate: ✓ validate passed at freeze on 2026-11-25T12:00:00.000Z: 7 tables identical",
    );
    const ledger = report.migrations[0].resources.find((r) => r.name === "avvivo-ledger")!;
    expect(ledger.inputs.evidence).toEqual([
      expect.objectContaining({ check: "validate", position: "freeze", passed: true }),
    ]);
    // What the evidence must cover, from the stack's own config, goes to the ledger with it.
    expect(ledger.inputs.evidenceRequirements).toEqual([
      {
        check: "validate",
        tables: (readStackConfig("prod", dir).config["cutover:migrations"] as any).avvivo.source
          .criticalTables,
        endpoints: [
          { role: "source", host: "db.hxbnqapwkzomvtel.supabase.co", port: 5432, database: "postgres" },
          { role: "target", port: 5432, database: "postgres" },
        ],
      },
    ]);
    expect(ledger.inputs.evidenceTrust).toEqual({
      publicKey: expect.stringContaining("-----BEGIN PUBLIC KEY-----"),
      signatureRequired: true,
    });
    // A hand-edited file is not handed over, and the gate says why.
    const file = join(dir, "evidence/prod/avvivo/validate.json");
    writeFileSync(file, readFileSync(file, "utf8").replace("7 tables", "8 tables"));
    const edited = await buildPlan({
      stack: "prod",
      dir,
      now: NOW,
      deployed: deployedFromGit("prod", "HEAD", dir),
    });
    expect(renderPlan(edited, [], "git HEAD")).toContain(
      "gate: ✗ validate evidence taken at freeze: evidence/prod/avvivo/validate.json does not match its digest",
    );
    const edLedger = edited.migrations[0].resources.find((r) => r.name === "avvivo-ledger")!;
    expect(edLedger.inputs.evidence).toBeUndefined();
  });

  it("rollback from canary:50: traffic back to the stable revision, the diagram marks both phases", async () => {
    const { markdown, refused } = await comment(
      "avvivo",
      p("canary", { percent: 50 }),
      p("rollback", { rollbackFrom: "canary" }),
    );
    expect(refused).toBe(false);
    expect(tableAfter(markdown, "### ✅ Transitions")).toContainEqual([
      "`avvivo` (cloudsql)",
      "`canary:50`",
      "`rollback:canary`",
      "✅ allowed",
    ]);
    const traffic = tableAfter(markdown, "### Traffic — avvivo");
    const stable = traffic.find((r) => r[0] === "`avvivo-api-00187-tez`");
    expect(stable?.slice(1, 5)).toEqual(["0%", "**100%**", "source", "on"]);
    for (const left of ["`avvivo-api-cand-a1`", "`avvivo-api-freeze-a1`"])
      expect(traffic.find((r) => r[0] === left)?.[2]).toMatch(/^\*\*(0%|—)\*\*$/);
    expect(markdown).toContain("class canary deployed");
    expect(markdown).toContain("class rollback proposed");
    expect(markdown).toContain('state "rollback · proposed from canary" as rollback');
    // Writes made on Cloud SQL after promotion stay there: the engine says so, and the summary repeats it.
    expect(markdown.indexOf("### 🛑 Irreversible")).toBeLessThan(markdown.indexOf("### Changes"));
  });

  it("a refused step leads the comment with the full refusal, and the comment says refused", async () => {
    const { markdown, refused } = await comment("avvivo", p("baseline"), p("canary", { percent: 10 }));
    expect(refused).toBe(true);
    expect(markdown.split("\n").slice(0, 6).join("\n")).toContain("### ❌ 1 transition(s) refused");
    expect(markdown).toContain(
      "> **avvivo**: avvivo: baseline → canary:10 is refused: it skips provision, replicate, freeze, promote",
    );
  });

  it("stays useful when cut: at most the limit, the summary kept, code blocks closed, a pointer to the rest", async () => {
    const whole = await comment("avvivo", p("freeze"), p("promote"));
    expect(whole.markdown.length).toBeLessThanOrEqual(GITHUB_COMMENT_LIMIT);
    for (const limit of [1500, 4000, 9000]) {
      const { markdown } = await comment("avvivo", p("freeze"), p("promote"), { limit });
      expect(markdown.length).toBeLessThanOrEqual(limit);
      expect(markdown.length).toBeLessThan(whole.markdown.length);
      expect(markdown).toContain("### 🛑 Irreversible");
      expect(markdown).toContain("DMS promotion of job avvivo-dms-a1");
      expect(markdown.trimEnd()).toMatch(/run `cutover plan -s prod` for the whole plan\._$/);
      expect((markdown.match(/^```/gm) ?? []).length % 2).toBe(0);
    }
  });

  it("is what `cutover plan -s <stack> --markdown --base <ref>` prints, with exit 1 on a refused step", () => {
    const dir = scratchRepo();
    moveTo(dir, "avvivo", p("provision"));
    const run = (args: string[]) =>
      spawnSync(join(ROOT, "node_modules/.bin/tsx"), [CUTOVER, "plan", "-s", "prod", ...args], {
        cwd: dir,
        encoding: "utf8",
        timeout: 120_000,
      });
    const ok = run(["--base", "HEAD", "--markdown"]);
    expect(ok.status).toBe(0);
    expect(ok.stdout.startsWith("## cutover plan · stack `prod`")).toBe(true);
    expect(ok.stdout).toContain("| `avvivo` (cloudsql) | `baseline` | `provision` | ✅ allowed |");
    moveTo(dir, "avvivo", p("replicate"));
    const refused = run(["--base", "HEAD", "--markdown"]);
    expect(refused.status).toBe(1);
    expect(refused.stdout).toContain("### ❌ 1 transition(s) refused");
    const both = run(["--markdown", "--json"]);
    expect(both.status).toBe(2);
    expect(both.stderr).toContain("--markdown is its own output");
  });
});
