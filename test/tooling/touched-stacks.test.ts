/**
 * Which stacks a change touches: a stack's own file and evidence touch it alone, documentation and tests
 * none, anything the stacks run all of them. The CLI runs against a scratch git repository, as the
 * workflow runs it.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { touchedStacks } from "../../tooling/touched-stacks";
import { runCutover } from "../support/cli";

const STACKS = ["prod", "staging"];

it.each([
  [["Pulumi.staging.yaml"], { prod: false, staging: true }],
  [["Pulumi.prod.yaml"], { prod: true, staging: false }],
  // A staging PR carrying its evidence does not touch prod.
  [["Pulumi.staging.yaml", "evidence/staging/avvivo/validate.json"], { prod: false, staging: true }],
  [["evidence/prod/avvivo/smoke.json"], { prod: true, staging: false }],
  [["README.md", "docs/runbooks/cloudsql.md", "test/engine/plan.test.ts"], { prod: false, staging: false }],
  [["infra/engine/transitions.ts"], { prod: true, staging: true }],
  [["package-lock.json"], { prod: true, staging: true }],
  [["Pulumi.yaml"], { prod: true, staging: true }],
  [["Pulumi.dev.yaml", "evidence/dev/x.json"], { prod: false, staging: false }],
])("%j touches %j", (changed, expected) => {
  expect(touchedStacks(changed, STACKS)).toEqual(expected);
});

describe("cutover touched", () => {
  let repo: string;
  const git = (...args: string[]) =>
    execFileSync("git", args, {
      cwd: repo,
      encoding: "utf8",
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: "t",
        GIT_AUTHOR_EMAIL: "t@e",
        GIT_COMMITTER_NAME: "t",
        GIT_COMMITTER_EMAIL: "t@e",
      },
    }).trim();
  const write = (file: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(repo, file)), { recursive: true });
    fs.writeFileSync(path.join(repo, file), text);
  };

  beforeAll(() => {
    repo = fs.mkdtempSync(path.join(os.tmpdir(), "touched-"));
    git("init", "-q", "-b", "main");
    write("Pulumi.staging.yaml", "a: 1\n");
    write("Pulumi.prod.yaml", "a: 1\n");
    git("add", ".");
    git("commit", "-qm", "base");
  });
  afterAll(() => fs.rmSync(repo, { recursive: true, force: true }));

  it("judges each stack from the commits since the base it is given", async () => {
    const base = git("rev-parse", "HEAD");
    write("Pulumi.staging.yaml", "a: 2\n");
    write("evidence/staging/m/validate.json", "{}\n");
    git("add", ".");
    git("commit", "-qm", "staging change");
    const both = await runCutover(["touched", "--base", base], {}, repo);
    expect([both.code, both.stdout]).toEqual([0, "prod=false\nstaging=true\n"]);
    // A later commit that touches nothing: what the base was still counts (a replaced run's change).
    write("docs/x.md", "x\n");
    git("add", ".");
    git("commit", "-qm", "docs");
    const one = await runCutover(["touched", "--base", base, "--stack", "staging"], {}, repo);
    expect(one.stdout).toBe("staging=true\n");
  });

  it("counts every stack touched when the base is not a commit (a first push, no tag yet)", async () => {
    const run = await runCutover(["touched", "--base", "0000000000000000000000000000000000000000"], {}, repo);
    expect([run.code, run.stdout]).toEqual([0, "prod=true\nstaging=true\n"]);
    expect(run.stderr).toContain("is not a commit here: every stack counts");
  });
});
