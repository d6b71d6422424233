import { evaluatePolicies, PolicyFinding } from "../../policies/evaluate";
import {
  ABSENT,
  added,
  CANDIDATE,
  changed,
  compliantStack,
  FREEZE,
  ledgerInputs,
  STABLE,
  T,
  target,
  UNKNOWN,
  urnOf,
} from "./fixtures";

const SPEC = "avvivo-spec";
const SVC = "avvivo-service";
const only = (rule: string, stack = compliantStack()): PolicyFinding[] =>
  evaluatePolicies(stack).filter((f) => f.policy === rule);
const withSpec = (changes: Record<string, unknown>, stack = compliantStack()) =>
  Object.entries(changes).reduce((s, [path, value]) => changed(s, SPEC, path, value), stack);

describe("migration-spec-well-formed", () => {
  const RULE = "migration-spec-well-formed";

  test("the compliant fixture passes", () => {
    expect(only(RULE)).toEqual([]);
  });

  test.each([
    ["cutoverSpec", "v2", "cutoverSpec: "],
    ["kind", "blue-green", "kind: "],
    ["revisions.0.database", "replica", "revisions.0.database: "],
    ["promoted", ABSENT, "promoted: "],
    ["migration", ABSENT, "migration: "],
  ])("%s = %p is reported with its path", (path, value, fragment) => {
    const f = only(RULE, changed(compliantStack(), SPEC, path, value));
    expect(f).toHaveLength(1);
    expect(f[0].message).toContain("Migration spec avvivo-spec must match the cutoverSpec v1 contract: ");
    expect(f[0].message).toContain(fragment);
    expect(f[0].urn).toBe(urnOf("prod", T.spec, SPEC));
  });

  test("two specs for one migration are refused", () => {
    const spec = compliantStack().find((r) => r.name === SPEC)!;
    const f = only(RULE, added(compliantStack(), T.spec, "avvivo-spec-copy", spec.inputs));
    expect(f.map((x) => x.message)).toEqual([
      "Migration avvivo must expose exactly one spec; avvivo-spec-copy is a second one",
    ]);
  });

  test("an unknown spec field fails closed", () => {
    const f = only(RULE, changed(compliantStack(), SPEC, "phase", UNKNOWN.unknownStringValue));
    expect(f.map((x) => x.level)).toEqual(["mandatory"]);
    expect(f[0].message).toContain("must have a known phase at preview");
  });

  test("other dynamic resources are not specs", () => {
    const stack = added(compliantStack(), T.spec, "avvivo-promote-a1", {
      job: "avvivo-dms-a1",
      __provider: "x",
    });
    expect(only(RULE, stack)).toEqual([]);
  });
});

describe("migration-no-split-brain", () => {
  const RULE = "migration-no-split-brain";

  test("canary after promotion: frozen (no writes) and candidate (Cloud SQL) may serve", () => {
    expect(only(RULE)).toEqual([]);
  });

  test("after promotion, the stable revision (writes to the source) may not get traffic", () => {
    const stack = changed(compliantStack(), SVC, "traffics", [target(CANDIDATE, 50), target(STABLE, 50)]);
    const f = only(RULE, stack);
    expect(f).toHaveLength(2);
    expect(f[0].message).toContain(
      `Migration avvivo must not send traffic to a revision that writes to the source database after promotion: ${STABLE} (50%)`,
    );
    expect(f[1].message).toContain(
      `must not split writes between databases: ${STABLE} (50%) write to the source while ${CANDIDATE} (50%)`,
    );
    expect(f[0].urn).toBe(urnOf("prod", T.service, SVC));
  });

  test("after promotion, a revision the spec does not describe may not get traffic", () => {
    const stack = changed(compliantStack(), SVC, "traffics", [
      target(CANDIDATE, 90),
      target("avvivo-api-00190-abc", 10),
      target(STABLE, 0),
    ]);
    expect(only(RULE, stack).map((f) => f.message)).toEqual([
      expect.stringContaining(
        "must say which database every revision with traffic uses after promotion: avvivo-api-00190-abc (10%)",
      ),
    ]);
  });

  test("before promotion, writers on both databases are split brain", () => {
    const stack = changed(withSpec({ phase: "freeze", promoted: false }), SVC, "traffics", [
      target(STABLE, 90),
      target(CANDIDATE, 10),
    ]);
    expect(only(RULE, stack).map((f) => f.message)).toEqual([
      expect.stringContaining("must not split writes between databases"),
    ]);
  });

  test("before promotion, the stable revision serving everything is fine", () => {
    const stack = changed(withSpec({ phase: "baseline", promoted: false }), SVC, "traffics", [
      target(STABLE, 100),
    ]);
    expect(only(RULE, stack)).toEqual([]);
  });

  test("rollback after promotion sends everything back to the stable revision", () => {
    const stack = changed(withSpec({ phase: "rollback" }), SVC, "traffics", [
      target(STABLE, 100),
      target(CANDIDATE, 0),
    ]);
    expect(only(RULE, stack)).toEqual([]);
  });

  test("rollback that leaves the candidate serving is split brain", () => {
    const stack = changed(withSpec({ phase: "rollback" }), SVC, "traffics", [
      target(STABLE, 90),
      target(CANDIDATE, 10),
    ]);
    expect(only(RULE, stack).map((f) => f.message)).toEqual([
      expect.stringContaining("must not split writes between databases"),
    ]);
  });

  test("a spec whose service is not declared cannot be checked, so it fails", () => {
    const f = only(RULE, withSpec({ service: "avvivo-api-typo" }));
    expect(f.map((x) => x.message)).toEqual([
      "Migration avvivo must declare its Cloud Run service avvivo-api-typo as a gcp:cloudrunv2/service:Service with that name, or split brain cannot be ruled out",
    ]);
  });

  test("a spec without a service says so", () => {
    expect(only(RULE, withSpec({ service: ABSENT }))[0].message).toContain("(spec.service not set)");
  });

  test("unknown traffic fails closed", () => {
    const f = only(RULE, changed(compliantStack(), SVC, "traffics", UNKNOWN.unknownArrayValue));
    expect(f.map((x) => [x.level, x.urn])).toEqual([["mandatory", urnOf("prod", T.spec, SPEC)]]);
    expect(f[0].message).toContain("Migration avvivo must have a known traffics at preview");
  });

  test("dual-write specs have no Cloud Run service to check", () => {
    const stack = added(compliantStack(), T.spec, "matchauto-spec", {
      cutoverSpec: "v1",
      migration: "matchauto",
      kind: "dual-write",
      phase: "dual-write",
      basePhase: "dual-write",
      d1: ["matchauto-edge-prod"],
    });
    expect(only(RULE, stack)).toEqual([]);
    expect(only("migration-spec-well-formed", stack)).toEqual([]);
  });
});

describe("migration-ledger-declared", () => {
  const RULE = "migration-ledger-declared";
  const LEDGER = "avvivo-ledger";
  const withoutLedger = () => compliantStack().filter((r) => r.name !== LEDGER);

  test("the compliant fixture passes", () => {
    expect(only(RULE)).toEqual([]);
  });

  test("a migration without its ledger is refused", () => {
    expect(only(RULE, withoutLedger())[0].message).toBe(
      "Migration avvivo must declare exactly one phase ledger, found 0; hint: the program creates <migration>-ledger — without it a change is not judged against what is deployed",
    );
  });

  test("two ledgers for one migration are refused", () => {
    const stack = added(compliantStack(), T.spec, "avvivo-ledger-2", ledgerInputs("canary"));
    expect(only(RULE, stack)[0].message).toContain("found 2");
  });

  test("a ledger at another phase than the spec is refused", () => {
    const stack = changed(compliantStack(), LEDGER, "position", { phase: "baseline", attempt: 1 });
    expect(only(RULE, stack)[0].message).toMatch(
      /^Migration avvivo must give its ledger the phase of its spec \(\S+\), got baseline$/,
    );
  });

  test("a ledger of another migration does not count", () => {
    const stack = added(withoutLedger(), T.spec, "matchauto-ledger", ledgerInputs("canary", "matchauto"));
    expect(only(RULE, stack)[0].message).toContain("found 0");
  });

  test("an unknown ledger phase fails closed", () => {
    const stack = changed(compliantStack(), LEDGER, "position", {
      phase: UNKNOWN.unknownStringValue,
      attempt: 1,
    });
    const f = only(RULE, stack);
    expect(f.map((x) => x.level)).toEqual(["mandatory"]);
  });
});

describe("migration-stable-revision-in-traffic", () => {
  const RULE = "migration-stable-revision-in-traffic";

  test("the stable revision at 0% under a rollback tag passes", () => {
    expect(only(RULE)).toEqual([]);
  });

  test("dropping the stable revision before decommission is refused", () => {
    const stack = changed(compliantStack(), SVC, "traffics", [target(CANDIDATE, 10), target(FREEZE, 90)]);
    const f = only(RULE, stack);
    expect(f.map((x) => x.message)).toEqual([
      `Migration avvivo must keep the stable revision ${STABLE} in the traffic list of avvivo-api until decommission (0% is fine, under a rollback tag); hint: rollback needs it to be addressable`,
    ]);
  });

  test("decommission may drop it", () => {
    const stack = changed(withSpec({ phase: "decommission" }), SVC, "traffics", [target(CANDIDATE, 100)]);
    expect(only(RULE, stack)).toEqual([]);
  });

  test("a spec without stableRevision is refused", () => {
    expect(only(RULE, withSpec({ stableRevision: ABSENT }))[0].message).toBe(
      "Migration avvivo must name its stable revision in the spec (stableRevision)",
    );
  });
});
