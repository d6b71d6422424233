import { readFileSync } from "node:fs";
import { join } from "node:path";
import { policyCatalog, POLICIES, registerPolicies } from "../../policies/registry";
import { resourcePolicy, stackPolicy } from "../../policies/support";

const rule = (name: string) =>
  resourcePolicy({ name, description: "d", enforcementLevel: "advisory", validateResource: () => undefined });

describe("registry", () => {
  test("lists every rule once, in name order", () => {
    const names = POLICIES.map((p) => p.name);
    expect(names).toEqual([...names].sort((a, b) => a.localeCompare(b)));
    expect(new Set(names).size).toBe(names.length);
    expect(names.length).toBeGreaterThanOrEqual(25);
  });

  test("every rule states its enforcement level and what compliant means", () => {
    for (const p of POLICIES) {
      expect([p.name, ["mandatory", "advisory"].includes(p.enforcementLevel)]).toEqual([p.name, true]);
      expect(p.description.length).toBeGreaterThan(20);
    }
  });

  test("rejects a name registered twice", () => {
    expect(() => registerPolicies([[rule("a-rule"), rule("b-rule")], [rule("a-rule")]])).toThrow(
      "policy names must be unique; registered twice: a-rule; hint: rename one of them",
    );
  });

  test("rejects names that are not kebab-case, and the reserved name all", () => {
    expect(() => registerPolicies([[rule("Bad_Name"), rule("all")]])).toThrow(
      'policy names must be kebab-case and not "all": "Bad_Name", "all"',
    );
  });

  test("the order does not depend on registration order", () => {
    const a = stackPolicy({
      name: "z-last",
      description: "d",
      enforcementLevel: "mandatory",
      validateStack: () => undefined,
    });
    expect(registerPolicies([[a, rule("m-mid")], [rule("a-first")]]).map((p) => p.name)).toEqual([
      "a-first",
      "m-mid",
      "z-last",
    ]);
  });

  test("the policies reference page lists every rule with its level and scope", () => {
    const doc = readFileSync(join(__dirname, "../../docs/reference/policies.md"), "utf8");
    for (const p of policyCatalog()) {
      expect(doc).toContain(`| \`${p.name}\` | ${p.level} | ${p.scope} |`);
    }
    const listed = [...doc.matchAll(/^\| `([a-z0-9-]+)` \|/gm)].map((m) => m[1]);
    expect(listed).toEqual(policyCatalog().map((p) => p.name));
  });
});
