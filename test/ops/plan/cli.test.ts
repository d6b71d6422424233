import { spawnSync } from "node:child_process";
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { scratchDir } from "../../support/scratch";

const ROOT = resolve(__dirname, "../../..");
const TSX = join(ROOT, "node_modules/.bin/tsx");
const PLAN = [join(ROOT, "cli/main.ts"), "plan"];

function plan(args: string[], cwd = ROOT) {
  const r = spawnSync(TSX, [...PLAN, ...args], { cwd, encoding: "utf8", timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** A copy of a stack file in a scratch folder, edited by `edit`. */
function scratchStack(stack: string, edit: (text: string) => string): string {
  const dir = scratchDir("plan");
  copyFileSync(join(ROOT, "Pulumi.yaml"), join(dir, "Pulumi.yaml"));
  writeFileSync(
    join(dir, `Pulumi.${stack}.yaml`),
    edit(readFileSync(join(ROOT, `Pulumi.${stack}.yaml`), "utf8")),
  );
  return dir;
}

describe("cutover plan", () => {
  it("shows the migrated database in the candidate's URL at promote", () => {
    const { code, out } = plan(["-s", "prod", "--migration", "avvivo", "--phase", "promote"]);
    expect(code).toBe(0);
    expect(out).toContain(
      "DATABASE_URL, DIRECT_URL → postgresql://avvivo_app:***@<private IP of avvivo-prod-pg>:5432/postgres?sslmode=require",
    );
  });

  it("prints irreversible steps first, then resources, traffic, secrets and warnings", () => {
    const { code, out } = plan(["-s", "staging", "--migration", "avvivo", "--phase", "promote"]);
    expect(code).toBe(0);
    const order = [
      "IRREVERSIBLE STEPS",
      "Policy findings",
      "avvivo (cloudsql) — phase promote",
      "Resources",
      "Traffic",
      "Secrets wiring",
      "Warnings",
    ];
    const at = order.map((s) => out.indexOf(s));
    expect(at.every((i) => i >= 0)).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
    expect(out).toContain("DMS promotion of job avvivo-dms-a1");
    expect(out).toMatch(/avvivo-api-cand-a1 \*\s+0%\s+candidate\s+Cloud SQL/);
    expect(out).toContain("DATABASE_URL               ← secretKeyRef avvivo-cloudsql-database-url@latest");
    expect(out).not.toContain("mock-password");
  });

  it("diffs canary steps down to the traffic change and nothing else", () => {
    const { code, out } = plan(["-s", "prod", "--diff", "canary:10", "canary:50"]);
    expect(code).toBe(0);
    const changes = out.split("\n").filter((l) => /^[+~-] /.test(l));
    // The service's traffic, and the ledger's position (what `up` will record).
    expect(changes).toEqual([
      "~ pulumi-nodejs:dynamic:Resource avvivo-ledger",
      "~ gcp:cloudrunv2/service:Service avvivo-app-service",
    ]);
    expect(out).toContain("position.percent: 10 → 50");
    expect(out).toContain("traffics[0].percent: 10 → 50");
    expect(out).toContain("traffics[1].percent: 90 → 50");
  });

  it("prints JSON with the plan and the resources", () => {
    const { code, out } = plan([
      "-s",
      "staging",
      "--migration",
      "avvivo",
      "--phase",
      "canary",
      "--traffic",
      "50",
      "--json",
    ]);
    expect(code).toBe(0);
    const json = JSON.parse(out);
    const avvivo = json.migrations.find((m: { name: string }) => m.name === "avvivo");
    expect(avvivo.plan.traffic[0]).toEqual({ revision: "avvivo-api-cand-a1", percent: 50, tag: "candidate" });
  });

  it("hands a pipe every byte: JSON past 64 KiB parses whole (the exit used to cut it)", () => {
    const { code, out } = plan(["-s", "staging", "--migration", "avvivo", "--phase", "promote", "--json"]);
    expect(code).toBe(0);
    expect(out.length).toBeGreaterThan(65_536);
    expect(JSON.parse(out).migrations[0].name).toBe("avvivo");
  });

  it("says what a first real up still needs: placeholder secrets, and whether the service is adopted", () => {
    const { code, out } = plan(["-s", "staging"]);
    expect(code).toBe(0);
    const first = out.slice(
      out.indexOf("BEFORE THE FIRST REAL PULUMI UP"),
      out.indexOf("avvivo (cloudsql) —"),
    );
    for (const key of ["cloudflare:apiToken", "avvivoSourcePassword", "matchautoLegacyPassword"])
      expect(first).toContain(key);
    expect(first).toContain("hint: pulumi config set --secret --stack staging avvivoSourcePassword <value>");
    expect(first).toContain(
      "adopts Cloud Run service avvivo-api (cloudRun.adopt, import ID projects/avvivo-staging/locations/us-west2/services/avvivo-api)",
    );
    const real = "v1:Zm9vYmFyYmF6cXV4:c2VjcmV0LWNpcGhlcnRleHQtaGVyZQ==";
    const dir = scratchStack("staging", (t) =>
      t
        .replaceAll("v1:placeholder-set-with-pulumi-config-set-secret", real)
        .replace("        adopt: true", "        adopt: false"),
    );
    const created = plan(["-s", "staging"], dir);
    expect(created.code).toBe(0);
    expect(created.out).not.toContain("holds the committed placeholder");
    expect(created.out).toContain(
      "the first `pulumi up` creates Cloud Run service avvivo-api, which already serves production",
    );
    expect(created.out).toContain("hint: set cloudRun.adopt: true under cutover:migrations.avvivo");
  });

  it("fails on trafficPercent 30 naming the config path, and exits 2 (could not plan as asked)", () => {
    const dir = scratchStack("staging", (t) =>
      t.replace("      attempt: 1\n", "      attempt: 1\n      trafficPercent: 30\n"),
    );
    const { code, err, out } = plan(["-s", "staging"], dir);
    expect(code).toBe(2);
    expect(err).toContain("✗ cutover:migrations.avvivo.trafficPercent");
    expect(err).toContain("expected one of the ramp steps 10, 50, 100, got 30");
    expect(out).toBe("");
  });

  it("prints policy findings, mandatory first, and exits 1 on a mandatory violation", () => {
    const dir = scratchStack("prod", (t) => t.replace("highAvailability: true", "highAvailability: false"));
    const { code, out } = plan(["-s", "prod", "--migration", "avvivo", "--phase", "provision"], dir);
    expect(code).toBe(1);
    expect(out).toMatch(/Policy findings \([1-9][0-9]* mandatory/);
    expect(out).toContain("[mandatory] cloudsql-high-availability-in-prod");
    expect(out.indexOf("[mandatory]")).toBeLessThan(out.indexOf("avvivo (cloudsql) — phase provision"));
  });

  it("names a missing stack file and the stacks that exist", () => {
    const { code, err } = plan(["-s", "qa"]);
    expect(code).toBe(2);
    expect(err).toMatch(/stack file .*Pulumi\.qa\.yaml not found; hint: stacks in .* are prod, staging/);
  });

  it("asks for --migration when a phase is ambiguous", () => {
    const { code, err } = plan(["-s", "staging", "--phase", "baseline"]);
    expect(code).toBe(2);
    expect(err).toContain(
      'phase "baseline" exists in several migrations (avvivo, matchauto); hint: pass --migration <name>',
    );
  });

  it("rejects a malformed phase token", () => {
    const { code, err } = plan(["-s", "staging", "--phase", "canary:50:1"]);
    expect(code).toBe(2);
    expect(err).toContain('invalid phase "canary:50:1"');
  });

  it("refuses a secret key given as a plain value, naming the key and never the value", () => {
    const dir = scratchStack("prod", (t) =>
      t.replace(
        "  cutover:avvivoSourcePassword:\n    secure: v1:placeholder-set-with-pulumi-config-set-secret",
        "  cutover:avvivoSourcePassword: hunter2-plain-value",
      ),
    );
    const { code, out, err } = plan(["-s", "prod"], dir);
    expect(code).toBe(2);
    expect(err).toContain("cutover:migrations.avvivo.source.passwordSecretKey");
    expect(err).toContain(
      "config key cutover:avvivoSourcePassword holds a plain value; expected a Pulumi secret",
    );
    expect(out + err).not.toContain("hunter2-plain-value");
  });

  it("speaks of the --phase flag when its percent is not a number", () => {
    const { code, err } = plan(["-s", "prod", "--phase", "canary:abc"]);
    expect(code).toBe(2);
    expect(err).toContain(
      'invalid phase "canary:abc": expected canary:<percent>, a whole number such as canary:50',
    );
    expect(err).not.toContain("rollbackFrom");
  });

  it("prints the floor the Workers fall back to: the new stores from the final cut on", () => {
    const { code, out } = plan(["-s", "staging", "--migration", "matchauto", "--phase", "final-cut"]);
    expect(code).toBe(0);
    expect(out).toContain(
      'Floor the Workers fall back to (deploy them with it: CUTOVER_FLAGS_FLOOR)\n    {"phase":"final-cut","writeMode":"new","readPercent":100,',
    );
  });

  it("plans a dual-write rollback with --phase rollback:<from>", () => {
    const { code, out } = plan(["-s", "prod", "--migration", "matchauto", "--phase", "rollback:read-switch"]);
    expect(code).toBe(0);
    expect(out).toContain("matchauto (dual-write) — phase rollback");
  });

  it("says a stack file nested too deeply is too deep, not that the stack overflowed", () => {
    const dir = scratchStack("prod", (t) => `${t}\n  cutover:deep: ${"[".repeat(5000)}${"]".repeat(5000)}\n`);
    const { code, err } = plan(["-s", "prod"], dir);
    expect(code).toBe(2);
    expect(err).toContain("is nested too deeply to be a stack file (more than 64 levels)");
    expect(err).not.toContain("Maximum call stack");
  });
});
