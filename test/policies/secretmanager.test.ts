import { evaluatePolicies } from "../../policies/evaluate";
import { ABSENT, added, compliantStack, SA, T, UNKNOWN } from "./fixtures";
import { Case, expectSingleFinding, titled } from "./cases";

const GRANT = "avvivo-database-url-access";
const RULE = "secretmanager-accessor-named-service-accounts";
const cases: Case[] = [
  {
    rule: RULE,
    resource: GRANT,
    path: "member",
    value: "allUsers",
    expect: "allUsers makes the secret public",
  },
  {
    rule: RULE,
    resource: GRANT,
    path: "member",
    value: "allAuthenticatedUsers",
    expect: "allAuthenticatedUsers makes the secret public",
  },
  {
    rule: RULE,
    resource: GRANT,
    path: "member",
    value: "user:dev@avvivo.app",
    expect: "user:dev@avvivo.app is not a named service account",
  },
  {
    rule: RULE,
    resource: GRANT,
    path: "member",
    value: "domain:avvivo.app",
    expect: "domain:avvivo.app is not a named service account",
  },
  { rule: RULE, resource: GRANT, path: "member", value: ABSENT, expect: "member is not set" },
  {
    rule: RULE,
    resource: GRANT,
    path: "member",
    value: UNKNOWN.unknownStringValue,
    expect: "must have a known member at preview",
  },
];

describe("Secret Manager rules", () => {
  test("the compliant fixture has no Secret Manager finding", () => {
    expect(evaluatePolicies(compliantStack()).filter((f) => f.policy.startsWith("secretmanager-"))).toEqual(
      [],
    );
  });

  test.each(titled(cases))("$rule: $title", (c) => {
    expectSingleFinding(c);
  });

  test("a binding reports each non-service-account member", () => {
    const stack = added(compliantStack(), T.secretIamBinding, "avvivo-jwt-readers", {
      secretId: "avvivo-jwt-secret",
      role: "roles/secretmanager.secretAccessor",
      members: [`serviceAccount:${SA}`, "group:devs@avvivo.app", "allUsers"],
    });
    const messages = evaluatePolicies(stack)
      .filter((f) => f.policy === RULE)
      .map((f) => f.message);
    expect(messages).toEqual([
      expect.stringContaining(
        "Secret IAM binding avvivo-jwt-readers must grant roles/secretmanager.secretAccessor to named service accounts only: group:devs@avvivo.app",
      ),
      expect.stringContaining("allUsers makes the secret public"),
    ]);
  });

  test.each([
    [
      T.projectIamMember,
      { project: "avvivo-prod", role: "roles/secretmanager.secretAccessor", member: `serviceAccount:${SA}` },
    ],
    [
      T.projectIamBinding,
      { project: "avvivo-prod", role: "roles/secretmanager.admin", members: [`serviceAccount:${SA}`] },
    ],
  ])("a project-wide %s grant of a secret-reading role is refused", (type, inputs) => {
    const findings = evaluatePolicies(added(compliantStack(), type, "project-secrets", inputs)).filter(
      (f) => f.policy === "secretmanager-no-project-wide-access",
    );
    expect(findings).toHaveLength(1);
    expect(findings[0].message).toContain("on the whole project: it reads every secret");
  });

  test("a project-wide grant of another role is not this pack's business", () => {
    const stack = added(compliantStack(), T.projectIamMember, "log-writer", {
      project: "avvivo-prod",
      role: "roles/logging.logWriter",
      member: `serviceAccount:${SA}`,
    });
    expect(evaluatePolicies(stack).filter((f) => f.policy.startsWith("secretmanager-"))).toEqual([]);
  });

  test("an unknown role on a project grant fails closed", () => {
    const stack = added(compliantStack(), T.projectIamMember, "project-grant", {
      project: "avvivo-prod",
      role: UNKNOWN.unknownStringValue,
      member: `serviceAccount:${SA}`,
    });
    const findings = evaluatePolicies(stack).filter(
      (f) => f.policy === "secretmanager-no-project-wide-access",
    );
    expect(findings.map((f) => [f.level, f.message])).toEqual([
      [
        "mandatory",
        expect.stringContaining("Project IAM member project-grant must have a known role at preview"),
      ],
    ]);
  });
});
