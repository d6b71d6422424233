import { spawnSync } from "node:child_process";
import { CUTOVER } from "../support/cli";
import { copyFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseDocument } from "yaml";
import { readFileSync } from "node:fs";
import { applyStep } from "../../ops/phase/apply";
import { copyStack } from "../support/evidence";
import { commit, git, moveTo } from "../support/git-stack";
import { scratchDir } from "../support/scratch";
import type { Position } from "../../infra/engine/transitions";

jest.setTimeout(180_000);

const ROOT = resolve(__dirname, "../..");
const TSX = join(ROOT, "node_modules/.bin/tsx");
const p = (phase: string, extra: Partial<Position> = {}): Position => ({ phase, attempt: 1, ...extra });

/** A repository with both example stacks as they are (prod follows staging), committed at baseline. */
function bothStacks(): string {
  const dir = scratchDir("leader");
  copyFileSync(join(ROOT, "Pulumi.yaml"), join(dir, "Pulumi.yaml"));
  copyStack(ROOT, dir, "staging");
  copyStack(ROOT, dir, "prod", { keepFollows: true });
  git(dir, "init", "-q");
  commit(dir, "baseline");
  return dir;
}
const plan = (dir: string, args: string[]) => {
  const r = spawnSync(TSX, [CUTOVER, "plan", "-s", "prod", ...args], {
    cwd: dir,
    encoding: "utf8",
    timeout: 120_000,
  });
  return { code: r.status, out: r.stdout + r.stderr };
};
const setKey = (dir: string, stack: string, migration: string, key: string, value: unknown) => {
  const file = join(dir, `Pulumi.${stack}.yaml`);
  const doc = parseDocument(readFileSync(file, "utf8"));
  doc.setIn(["config", "cutover:migrations", migration, key], value);
  writeFileSync(file, doc.toString());
};

describe("staging leads prod", () => {
  it("the PR plan refuses a prod step staging has not taken, naming both positions; then allows it", () => {
    const dir = bothStacks();
    moveTo(dir, "avvivo", p("provision"));
    const refused = plan(dir, ["--base", "HEAD"]);
    expect(refused.code).toBe(1);
    expect(refused.out).toContain(
      "avvivo: baseline → provision is refused on prod: staging is at baseline; prod may not move past where staging is. hint: take staging to provision first",
    );
    // Staging applied provision (its file at the base ref says so): the same prod change plans.
    git(dir, "stash", "-q");
    moveTo(dir, "avvivo", p("provision"), "staging");
    commit(dir, "staging: avvivo provision");
    git(dir, "stash", "pop", "-q");
    const allowed = plan(dir, ["--base", "HEAD"]);
    expect(allowed.out).toContain("✓ avvivo: baseline → provision");
    expect(allowed.code).toBe(0);
  });

  it("reads the leader from its outputs with --leader-deployed; a rolled-back leader holds every forward step", () => {
    const dir = bothStacks();
    moveTo(dir, "avvivo", p("provision"));
    commit(dir, "prod at provision");
    moveTo(dir, "avvivo", p("replicate"));
    const outputs = (position: Position) => {
      writeFileSync(
        join(dir, "staging.json"),
        JSON.stringify({ avvivo: { ledger: { deployed: position } } }),
      );
      return plan(dir, ["--base", "HEAD", "--leader-deployed", "staging.json"]);
    };
    expect(outputs(p("canary", { percent: 10 })).code).toBe(0);
    const rolledBack = outputs(p("rollback", { rollbackFrom: "promote" }));
    expect(rolledBack.code).toBe(1);
    expect(rolledBack.out).toContain(
      "avvivo: provision → replicate is refused on prod: staging is at rollback:promote; staging is rolled back: prod may only roll back or stay until staging moves forward again",
    );
    // A rollback on prod is never held back by staging.
    moveTo(dir, "avvivo", p("rollback", { rollbackFrom: "provision" }));
    expect(outputs(p("baseline")).code).toBe(0);
  });

  it("an emergency override opens the one position it names, and says why", () => {
    const dir = bothStacks();
    moveTo(dir, "avvivo", p("provision"));
    setKey(dir, "prod", "avvivo", "followOverride", {
      position: "replicate",
      reason: "INC-4411: staging project suspended",
    });
    expect(plan(dir, ["--base", "HEAD"]).code).toBe(1); // it names replicate, not provision
    setKey(dir, "prod", "avvivo", "followOverride", {
      position: "provision",
      reason: "INC-4411: staging project suspended",
    });
    const r = plan(dir, ["--base", "HEAD"]);
    expect(r.out).toContain("✓ avvivo: baseline → provision");
    expect(r.code).toBe(0);
  });

  it("cutover phase judges it too, from the leader's file beside this one", () => {
    const dir = bothStacks();
    const refused = applyStep("prod", "matchauto", "next", undefined, { dir });
    expect(refused.code).toBe(1);
    expect(refused.out).toContain(
      "matchauto: baseline → shadow is refused on prod: staging is at baseline; prod may not move past where staging is",
    );
    expect(refused.out).toContain("(staging's position read from Pulumi.staging.yaml)");
    expect(applyStep("staging", "matchauto", "next", undefined, { dir }).code).toBe(0);
    expect(applyStep("prod", "matchauto", "next", undefined, { dir }).code).toBe(0);
  });
});
