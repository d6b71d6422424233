import * as fs from "node:fs";
import * as path from "node:path";
import { ConfigError } from "../../infra/config/load";
import {
  loadMigration,
  loadStack,
  looksLikeCiphertext,
  stackConfigOf,
  StackFileError,
} from "../../tooling/stack-file";
import { scratchDir } from "../support/scratch";

const ROOT = path.resolve(__dirname, "../..");
const scratch = (files: Record<string, string>) => {
  const dir = scratchDir("stack");
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return dir;
};

describe("loadStack / loadMigration: the one stack-file loader of the scripts", () => {
  it("reads every migration once, of either kind", () => {
    const { file, migrations } = loadStack("staging", { dir: ROOT });
    expect(file.path).toBe(path.join(ROOT, "Pulumi.staging.yaml"));
    expect(Object.keys(migrations)).toEqual(["avvivo", "matchauto"]);
    expect(
      loadMigration("staging", "matchauto", { dir: ROOT, kind: "dual-write" }).tables.length,
    ).toBeGreaterThan(0);
    expect(loadMigration("staging", "avvivo", { dir: ROOT, kind: "cloudsql" }).cloudRun.service).toBe(
      "avvivo-api",
    );
  });

  it("takes a path ending in .yaml as the stack file", () => {
    expect(loadMigration("Pulumi.prod.yaml", "avvivo", { dir: ROOT }).kind).toBe("cloudsql");
  });

  it.each([
    {
      stack: "nope",
      migration: "matchauto",
      message:
        /stack file .*Pulumi\.nope\.yaml not found; hint: stacks in .* are prod, staging \(run from the project folder or pass --stack <name>\)/,
    },
    {
      stack: "staging",
      migration: "ghost",
      message:
        /Pulumi\.staging\.yaml has no migration "ghost" under cutover:migrations; hint: migrations here are avvivo, matchauto/,
    },
  ])("refuses $stack/$migration with the file and a hint", ({ stack, migration, message }) => {
    expect(() => loadMigration(stack, migration, { dir: ROOT })).toThrow(StackFileError);
    expect(() => loadMigration(stack, migration, { dir: ROOT })).toThrow(message);
  });

  it("refuses a migration of another kind with the command's reason", () => {
    expect(() =>
      loadMigration("staging", "avvivo", {
        dir: ROOT,
        kind: "dual-write",
        purpose: "the backfill works on dual-write migrations",
      }),
    ).toThrow('migration "avvivo" is of kind cloudsql; hint: the backfill works on dual-write migrations');
  });

  it("reports an invalid migrations map with the file and the config path", () => {
    const dir = scratch({
      "Pulumi.bad.yaml": "config:\n  cutover:migrations:\n    matchauto: { kind: dual-write }\n",
    });
    let error: unknown;
    try {
      loadMigration("bad", "matchauto", { dir });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(
      `${path.join(dir, "Pulumi.bad.yaml")}: cutover:migrations is invalid`,
    );
    expect((error as Error).message).toContain("cutover:migrations.matchauto.phase");
  });

  it("says which file is not valid YAML", () => {
    const dir = scratch({ "Pulumi.broken.yaml": "config: [\n" });
    expect(() => loadStack("broken", { dir })).toThrow(
      `${path.join(dir, "Pulumi.broken.yaml")} is not valid YAML: `,
    );
  });

  it("refuses a secret config key stored as a plain value, without its value", () => {
    const text = fs
      .readFileSync(path.join(ROOT, "Pulumi.staging.yaml"), "utf8")
      .replace(/( {2}cutover:avvivoSourcePassword:)\n {4}secure: [^\n]+/, "$1 plain-hunter2");
    const dir = scratch({ "Pulumi.leak.yaml": text });
    expect(() => loadStack("leak", { dir })).toThrow(
      "config key cutover:avvivoSourcePassword holds a plain value",
    );
    expect(() => loadStack("leak", { dir })).not.toThrow("plain-hunter2");
  });
});

describe("placeholder secrets", () => {
  it("tells the committed placeholders from ciphertext the Pulumi CLI writes", () => {
    expect(looksLikeCiphertext("v1:placeholder-set-with-pulumi-config-set-secret")).toBe(false);
    expect(looksLikeCiphertext("v1:Zm9vYmFyYmF6cXV4:c2VjcmV0LWNpcGhlcnRleHQtaGVyZQ==")).toBe(true);
    expect(looksLikeCiphertext("AAABAKZ7nB0l1dSZx2hB3a0kVbqv9K2c0M1T")).toBe(true);
    expect(looksLikeCiphertext("changeme")).toBe(false);
    expect(looksLikeCiphertext(42)).toBe(false);
  });

  it("lists the secret keys still holding a placeholder", () => {
    const text = [
      "config:",
      "  cutover:a:",
      "    secure: v1:placeholder-set-with-pulumi-config-set-secret",
      "  cutover:b:",
      "    secure: v1:Zm9vYmFyYmF6cXV4:c2VjcmV0LWNpcGhlcnRleHQtaGVyZQ==",
      "  cutover:c: plain",
      "",
    ].join("\n");
    const stack = stackConfigOf("t", "Pulumi.t.yaml", text);
    expect(stack.secretKeys).toEqual(["cutover:a", "cutover:b"]);
    expect(stack.placeholderSecrets).toEqual(["cutover:a"]);
  });
});
