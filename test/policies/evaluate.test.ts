import { evaluatePolicies } from "../../policies/evaluate";
import { POLICIES } from "../../policies/registry";
import { resourcePolicy } from "../../policies/support";
import { changed, compliantStack, T, UNKNOWN, urnOf } from "./fixtures";

describe("evaluatePolicies", () => {
  test("the compliant stack has no finding at all", () => {
    expect(evaluatePolicies(compliantStack())).toEqual([]);
  });

  test("lists mandatory findings first, each with the offending resource's URN", () => {
    let stack = changed(compliantStack(), "avvivo-sql", "settings.databaseFlags", []);
    stack = changed(stack, "avvivo-redis", "authEnabled", false);
    const findings = evaluatePolicies(stack);
    expect(findings.map((f) => [f.policy, f.level])).toEqual([
      ["cloudsql-connection-logging", "mandatory"],
      ["redis-auth-enabled", "mandatory"],
      ["cloudsql-log-levels", "advisory"],
      ["cloudsql-log-levels", "advisory"],
      ["cloudsql-pgaudit", "advisory"],
    ]);
    expect(findings[1].urn).toBe(urnOf("prod", T.redis, "avvivo-redis"));
  });

  test("the synthesizer's [unknown] placeholder is an unknown value, so mandatory rules fail closed", () => {
    const stack = changed(compliantStack(), "avvivo-redis", "authEnabled", "[unknown]");
    expect(evaluatePolicies(stack).map((f) => [f.policy, f.level, f.message])).toEqual([
      [
        "redis-auth-enabled",
        "mandatory",
        expect.stringContaining("must have a known authEnabled at preview"),
      ],
    ]);
  });

  test("the placeholder is configurable", () => {
    const stack = changed(compliantStack(), "avvivo-redis", "authEnabled", "<?>");
    expect(evaluatePolicies(stack, POLICIES, { unknownMarker: "<?>" }).map((f) => f.policy)).toEqual([
      "redis-auth-enabled",
    ]);
  });

  test("an unknown read by an advisory rule becomes the engine's advisory 'can't run' note", () => {
    const stack = changed(
      compliantStack(),
      "avvivo-sql",
      "settings.databaseFlags",
      UNKNOWN.unknownArrayValue,
    );
    const advisory = evaluatePolicies(stack).filter((f) => f.level === "advisory");
    expect(advisory.map((f) => f.message)).toEqual([
      "can't run policy 'cloudsql-log-levels' from policy pack 'cutover@v0.1.0' during preview: Array value at .settings.databaseFlags can't be known during preview",
      "can't run policy 'cloudsql-pgaudit' from policy pack 'cutover@v0.1.0' during preview: Array value at .settings.databaseFlags can't be known during preview",
    ]);
  });

  test("a rule that throws something else is not swallowed", () => {
    const broken = resourcePolicy({
      name: "broken-rule",
      description: "throws",
      enforcementLevel: "mandatory",
      validateResource: () => {
        throw new Error("boom");
      },
    });
    expect(() => evaluatePolicies(compliantStack(), [broken])).toThrow("boom");
  });

  test("an asynchronous rule is refused, since the plan needs findings synchronously", () => {
    const asyncRule = resourcePolicy({
      name: "async-rule",
      description: "async",
      enforcementLevel: "advisory",
      validateResource: async () => undefined,
    });
    expect(() => evaluatePolicies(compliantStack(), [asyncRule])).toThrow(
      "policy async-rule is asynchronous; evaluatePolicies runs synchronous rules only",
    );
  });
});
