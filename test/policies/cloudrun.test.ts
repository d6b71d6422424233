import { evaluatePolicies } from "../../policies/evaluate";
import {
  ABSENT,
  added,
  CANDIDATE,
  changed,
  compliantStack,
  FREEZE,
  STABLE,
  T,
  target,
  UNKNOWN,
  urnOf,
} from "./fixtures";
import { Case, expectSingleFinding, titled } from "./cases";

const SVC = "avvivo-service";
const JOB = "avvivo-migrate-a1";
const ENV = "template.containers.0.envs.0";
const JOB_ENV = "template.template.containers.0.envs.0";
const CREDS = "cloudrun-no-plaintext-credentials";
const SA_RULE = "cloudrun-dedicated-service-account";
const PINNED = "cloudrun-traffic-pinned";
const cases: Case[] = [
  {
    rule: CREDS,
    resource: SVC,
    path: ENV,
    value: { name: "DATABASE_URL", value: "postgresql://app@10.0.0.3/app" },
    expect:
      "must not hold credentials or connection strings in plain env: DATABASE_URL (container 0) (values not shown)",
  },
  {
    rule: CREDS,
    resource: SVC,
    path: ENV,
    value: { name: "DIRECT_URL", value: "x" },
    expect: "DIRECT_URL (container 0)",
  },
  {
    rule: CREDS,
    resource: SVC,
    path: ENV,
    value: { name: "REDIS_URL", value: "x" },
    expect: "REDIS_URL (container 0)",
  },
  {
    rule: CREDS,
    resource: SVC,
    path: ENV,
    value: { name: "SMTP_PASSWORD", value: "x" },
    expect: "SMTP_PASSWORD (container 0)",
  },
  {
    rule: CREDS,
    resource: SVC,
    path: ENV,
    value: { name: "ADMIN_STATUS_TOKEN", value: "x" },
    expect: "ADMIN_STATUS_TOKEN (container 0)",
  },
  {
    rule: CREDS,
    resource: SVC,
    path: ENV,
    value: { name: "CACHE", value: "rediss://default:s3cr3t@10.0.0.4:6378" },
    expect: "CACHE (container 0)",
  },
  {
    rule: CREDS,
    resource: SVC,
    path: `${ENV}.value`,
    value: UNKNOWN.unknownStringValue,
    expect: "must have a known template.containers.0.envs.0.value at preview",
  },
  {
    rule: CREDS,
    resource: JOB,
    path: JOB_ENV,
    value: { name: "DATABASE_URL", value: "postgresql://app:pw@10.0.0.3/app" },
    expect: "Cloud Run job avvivo-migrate-a1 must not hold credentials",
  },
  {
    rule: SA_RULE,
    resource: SVC,
    path: "template.serviceAccount",
    value: "123456789012-compute@developer.gserviceaccount.com",
    expect:
      "must run as a dedicated service account: 123456789012-compute@developer.gserviceaccount.com is a default service account",
  },
  {
    rule: SA_RULE,
    resource: SVC,
    path: "template.serviceAccount",
    value: "avvivo-prod@appspot.gserviceaccount.com",
    expect: "is a default service account",
  },
  {
    rule: SA_RULE,
    resource: SVC,
    path: "template.serviceAccount",
    value: ABSENT,
    expect: "template.serviceAccount is not set (the default compute account runs it)",
  },
  {
    rule: SA_RULE,
    resource: SVC,
    path: "template.serviceAccount",
    value: UNKNOWN.unknownStringValue,
    expect: "must have a known template.serviceAccount at preview",
  },
  {
    rule: SA_RULE,
    resource: JOB,
    path: "template.template.serviceAccount",
    value: ABSENT,
    expect: "Cloud Run job avvivo-migrate-a1 must run as a dedicated service account",
  },
  {
    rule: PINNED,
    resource: SVC,
    path: "traffics.0",
    value: { type: "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", percent: 10 },
    expect:
      "traffics[0] has type TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST, expected TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION",
  },
  {
    rule: PINNED,
    resource: SVC,
    path: "traffics.0.revision",
    value: ABSENT,
    expect: "traffics[0] names no revision",
  },
  {
    rule: PINNED,
    resource: SVC,
    path: "traffics.0.percent",
    value: 20,
    expect: "percentages sum to 110, expected 100",
  },
  {
    rule: PINNED,
    resource: SVC,
    path: "traffics.0.type",
    value: ABSENT,
    expect: "traffics[0] has type not set",
  },
  {
    rule: PINNED,
    resource: SVC,
    path: "traffics",
    value: ABSENT,
    expect: "traffics is empty, so Cloud Run sends 100% to the LATEST revision",
  },
  {
    rule: PINNED,
    resource: SVC,
    path: "traffics",
    value: UNKNOWN.unknownArrayValue,
    expect: "must have a known traffics at preview",
  },
];

describe("Cloud Run rules", () => {
  test("the compliant fixture has no Cloud Run finding", () => {
    expect(evaluatePolicies(compliantStack()).filter((f) => f.policy.startsWith("cloudrun-"))).toEqual([]);
  });

  test.each(titled(cases))("$rule: $title", (c) => {
    expectSingleFinding(c);
  });

  test("a credential's value never appears in the message", () => {
    const stack = changed(compliantStack(), SVC, ENV, {
      name: "CACHE",
      value: "rediss://default:s3cr3t@10.0.0.4:6378",
    });
    expect(
      evaluatePolicies(stack)
        .map((f) => f.message)
        .join("\n"),
    ).not.toContain("s3cr3t");
  });

  test("plain configuration values pass", () => {
    const stack = changed(compliantStack(), SVC, ENV, {
      name: "CHAT_REALTIME_REDIS_CHANNEL",
      value: "chat:events",
    });
    expect(evaluatePolicies(stack).filter((f) => f.policy === CREDS)).toEqual([]);
  });

  describe("cloudrun-public-invoker-declared", () => {
    const RULE = "cloudrun-public-invoker-declared";
    const findings = (stack = compliantStack()) => evaluatePolicies(stack).filter((f) => f.policy === RULE);

    test("allUsers invoker is refused when the spec does not mark the service public", () => {
      const f = findings(changed(compliantStack(), "avvivo-spec", "public", false));
      expect(f).toHaveLength(1);
      expect(f[0].message).toContain(
        "Cloud Run IAM member avvivo-public-invoker must not grant roles/run.invoker to allUsers on service avvivo-api",
      );
      expect(f[0].urn).toBe(urnOf("prod", T.runIamMember, "avvivo-public-invoker"));
    });

    test("absent public in the spec means private", () => {
      expect(findings(changed(compliantStack(), "avvivo-spec", "public", ABSENT))).toHaveLength(1);
    });

    test("a binding with allAuthenticatedUsers on a service with no spec is refused (full resource path)", () => {
      const stack = added(compliantStack(), T.runIamBinding, "other-invokers", {
        name: "projects/avvivo-prod/locations/us-west2/services/other-api",
        role: "roles/run.invoker",
        members: ["allAuthenticatedUsers"],
      });
      expect(findings(stack).map((f) => f.message)).toEqual([
        expect.stringContaining(
          "to allAuthenticatedUsers on service other-api: the config does not mark it public",
        ),
      ]);
    });

    test("a public service still may not give allUsers another role", () => {
      const stack = changed(compliantStack(), "avvivo-public-invoker", "role", "roles/run.developer");
      expect(findings(stack).map((f) => f.message)).toEqual([
        expect.stringContaining(
          "must not grant roles/run.developer to allUsers on service avvivo-api: a public service grants allUsers roles/run.invoker only",
        ),
      ]);
    });

    test("invokerIamDisabled counts as public", () => {
      const stack = changed(
        changed(compliantStack(), "avvivo-spec", "public", false),
        SVC,
        "invokerIamDisabled",
        true,
      );
      expect(findings(stack).map((f) => f.message)).toContainEqual(
        expect.stringContaining(
          "Cloud Run service avvivo-service must not disable invoker IAM (invokerIamDisabled)",
        ),
      );
    });

    test("an unknown member fails closed on that resource", () => {
      const f = findings(
        changed(compliantStack(), "avvivo-public-invoker", "member", UNKNOWN.unknownStringValue),
      );
      expect(f.map((x) => [x.level, x.urn])).toEqual([
        ["mandatory", urnOf("prod", T.runIamMember, "avvivo-public-invoker")],
      ]);
      expect(f[0].message).toContain("must have a known member at preview");
    });
  });

  test("the fixture's traffic is the canary split it claims", () => {
    const service = compliantStack().find((r) => r.name === SVC)!;
    expect(service.inputs.traffics).toEqual([
      target(CANDIDATE, 10, "candidate"),
      target(FREEZE, 90),
      target(STABLE, 0, "rollback"),
    ]);
  });
});
