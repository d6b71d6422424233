import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { stepsOf, type MigrationKindName, type Position } from "../../../infra/engine/transitions";
import { deployedFromGit } from "../../../tooling/deployed";
import { buildPlan } from "../../../ops/plan/run";
import { NOW } from "../../support/stack";
import { commit, moveTo, scratchRepo, type ExampleMigration } from "../../support/git-stack";
import { passAllGates } from "../../support/evidence";

const ROOT = resolve(__dirname, "../../..");
const TSX = join(ROOT, "node_modules/.bin/tsx");
const PLAN = [join(ROOT, "cli/main.ts"), "plan"];
type Name = ExampleMigration;

function plan(dir: string, args: string[]) {
  const r = spawnSync(TSX, [...PLAN, "-s", "prod", ...args], {
    cwd: dir,
    encoding: "utf8",
    timeout: 120_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const p = (phase: string, extra: Partial<Position> = {}): Position => ({ phase, attempt: 1, ...extra });

// Each case of the "Why": deployed (committed) → proposed (working tree), refused with exit 1.
const WHY: { what: string; name: Name; deployed: Position[]; proposed: Position; says: string }[] = [
  {
    what: "baseline → canary written directly",
    name: "avvivo",
    deployed: [],
    proposed: p("canary", { percent: 10 }),
    says: "avvivo: baseline → canary:10 is refused: it skips provision, replicate, freeze, promote",
  },
  {
    what: "replicate → promote, skipping freeze",
    name: "avvivo",
    deployed: [p("provision"), p("replicate")],
    proposed: p("promote"),
    says: "avvivo: replicate → promote is refused: it skips freeze",
  },
  {
    what: "replicate put back after promotion",
    name: "avvivo",
    deployed: [p("provision"), p("replicate"), p("freeze"), p("promote")],
    proposed: p("replicate"),
    says: "avvivo: promote → replicate is refused: promote cannot go back by value: promotion has happened",
  },
  {
    what: "read-switch:50 by value after the final cut",
    name: "matchauto",
    deployed: [
      p("shadow"),
      p("backfill"),
      p("dual-write"),
      p("read-switch", { percent: 100 }),
      p("final-cut"),
    ],
    proposed: p("read-switch", { percent: 50 }),
    says: "matchauto: final-cut → read-switch:50 is refused",
  },
  {
    what: "rollback from decommission",
    name: "avvivo",
    deployed: [p("stabilize"), p("decommission")],
    proposed: p("rollback", { rollbackFrom: "stabilize" }),
    says: "avvivo: decommission → rollback:stabilize is refused: rollback is refused from decommission",
  },
];

describe("plan --base <ref> judges the change against the stack file at that ref", () => {
  it.each(WHY)(
    "refuses $what (exit 1, both phases, the allowed steps)",
    ({ name, deployed, proposed, says }) => {
      const dir = scratchRepo();
      for (const d of deployed) moveTo(dir, name, d);
      commit(dir, "deployed");
      moveTo(dir, name, proposed);
      const { code, out } = plan(dir, ["--base", "HEAD"]);
      expect(code).toBe(1);
      expect(out).toContain("TRANSITIONS REFUSED (deployed: git HEAD)");
      expect(out).toContain(says);
      expect(out).toMatch(/Allowed from \S+: |Nothing moves on from decommission/);
    },
  );

  it("a legal step plans with exit 0 and says what the ledger will record", () => {
    const dir = scratchRepo();
    for (const d of [p("provision"), p("replicate")]) moveTo(dir, "avvivo", d);
    moveTo(dir, "avvivo", p("freeze"));
    commit(dir, "at freeze");
    passAllGates(dir, "prod", "avvivo", new Date());
    moveTo(dir, "avvivo", p("promote"));
    const { code, out } = plan(dir, ["--base", "HEAD"]);
    expect(code).toBe(0);
    expect(out).toContain("✓ avvivo: freeze → promote (the ledger records: promoted)");
  });

  it("a gated step without evidence is refused by the plan: exit 1, the check and the command named", () => {
    const dir = scratchRepo();
    for (const d of [p("provision"), p("replicate")]) moveTo(dir, "avvivo", d);
    moveTo(dir, "avvivo", p("freeze"));
    commit(dir, "at freeze");
    moveTo(dir, "avvivo", p("promote"));
    const text = plan(dir, ["--base", "HEAD"]);
    expect(text.code).toBe(1);
    expect(text.out).toContain("TRANSITIONS REFUSED (deployed: git HEAD)");
    expect(text.out).toContain(
      "avvivo: freeze → promote is refused: it needs passing validate evidence taken at freeze (attempt 1): no validate evidence (evidence/prod/avvivo/validate.json); hint: cutover check validate --stack prod --migration avvivo --evidence",
    );
    const md = plan(dir, ["--base", "HEAD", "--markdown"]);
    expect(md.code).toBe(1);
    expect(md.out).toContain("### ❌ 1 transition(s) refused");
  });

  it("an unknown ref is a clear error", () => {
    const { code, err } = plan(scratchRepo(), ["--base", "no-such-ref"]);
    expect(code).toBe(2);
    expect(err).toContain("--base no-such-ref: not a commit in the git repository");
    expect(err).toContain("hint: e.g. --base origin/main");
  });
});

describe("plan --deployed <file> judges against the ledger's outputs, times included", () => {
  const outputs = (deployed: Position, facts: object) => ({ avvivo: { ledger: { deployed, facts } } });

  it("refuses decommission inside the observation window the ledger measured", () => {
    const dir = scratchRepo();
    moveTo(dir, "avvivo", p("decommission"));
    const file = join(dir, "deployed.json");
    const recent = new Date(Date.now() - 3_600_000).toISOString();
    writeFileSync(
      file,
      JSON.stringify(outputs(p("stabilize"), { cutoverCompleted: { attempt: 1, at: recent } })),
    );
    const { code, out } = plan(dir, ["--deployed", file]);
    expect(code).toBe(1);
    expect(out).toContain("avvivo: stabilize → decommission is refused: the 48 h observation window");
  });

  it("a file that is not the outputs' JSON is a clear error", () => {
    const dir = scratchRepo();
    const file = join(dir, "deployed.json");
    writeFileSync(file, JSON.stringify({ avvivo: { ledger: { deployed: { attempt: 1 } } } }));
    const { code, err } = plan(dir, ["--deployed", file]);
    expect(code).toBe(2);
    expect(err).toContain(`--deployed ${file}: avvivo.ledger.deployed.phase:`);
    expect(err).toContain("hint: pass the JSON of `pulumi stack output --json`");
  });
});

// Every legal step of both runbooks, and rollback from every phase that allows it, plans (in process).
function legalWalk(kind: MigrationKindName): { from: Position; to: Position }[] {
  const steps = stepsOf({ kind, ramp: [10, 50, 100], route: kind === "cloudsql" ? "ramp" : undefined });
  const forward = steps.slice(1).map((to, i) => ({ from: steps[i], to }));
  const rollbacks = steps
    .filter((s) =>
      kind === "cloudsql"
        ? !["baseline", "decommission"].includes(s.phase)
        : !["baseline", "final-cut", "decommission"].includes(s.phase),
    )
    .map((from) => ({ from, to: p("rollback", { rollbackFrom: from.phase }) }));
  return [...forward, ...rollbacks];
}

describe.each([
  ["avvivo", "cloudsql"],
  ["matchauto", "dual-write"],
] as const)("every legal step of %s plans with the transition allowed", (name, kind) => {
  const dir = scratchRepo();
  it.each(
    legalWalk(kind).map((s) => ({
      ...s,
      label: `${s.from.phase}${s.from.percent ?? ""} → ${s.to.phase}${s.to.rollbackFrom ?? s.to.percent ?? ""}`,
    })),
  )("$label", async ({ from, to }) => {
    moveTo(dir, name, from);
    commit(dir, "deployed");
    // Passing evidence of every gate, taken where the migration stands (a gated step needs it).
    passAllGates(dir, "prod", name, new Date(NOW.getTime() - 3_600_000));
    moveTo(dir, name, to);
    const report = await buildPlan({
      stack: "prod",
      dir,
      now: NOW,
      migration: name,
      deployed: deployedFromGit("prod", "HEAD", dir),
    });
    const t = report.migrations[0].transition!;
    expect([t.message, t.allowed]).toEqual([undefined, true]);
  });
});
