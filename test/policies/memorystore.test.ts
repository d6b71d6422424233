import { evaluatePolicies } from "../../policies/evaluate";
import { ABSENT, changed, compliantStack, UNKNOWN } from "./fixtures";
import { Case, expectSingleFinding, titled } from "./cases";

const REDIS = "avvivo-redis";
const cases: Case[] = [
  {
    rule: "redis-auth-enabled",
    resource: REDIS,
    path: "authEnabled",
    value: false,
    expect: "must require AUTH: authEnabled is false",
  },
  {
    rule: "redis-auth-enabled",
    resource: REDIS,
    path: "authEnabled",
    value: ABSENT,
    expect: "authEnabled is not set (false)",
  },
  {
    rule: "redis-auth-enabled",
    resource: REDIS,
    path: "authEnabled",
    value: UNKNOWN.unknownBooleanValue,
    expect: "must have a known authEnabled at preview",
  },
  {
    rule: "redis-transit-encryption",
    resource: REDIS,
    path: "transitEncryptionMode",
    value: "DISABLED",
    expect: "must use in-transit TLS: transitEncryptionMode is DISABLED, expected SERVER_AUTHENTICATION",
  },
  {
    rule: "redis-transit-encryption",
    resource: REDIS,
    path: "transitEncryptionMode",
    value: ABSENT,
    expect: "transitEncryptionMode is not set (DISABLED)",
  },
  {
    rule: "redis-transit-encryption",
    resource: REDIS,
    path: "transitEncryptionMode",
    value: UNKNOWN.unknownStringValue,
    expect: "must have a known transitEncryptionMode at preview",
  },
  {
    rule: "redis-standard-ha-in-prod",
    resource: REDIS,
    path: "tier",
    value: "BASIC",
    expect: "must be STANDARD_HA in prod: tier is BASIC",
  },
  {
    rule: "redis-standard-ha-in-prod",
    resource: REDIS,
    path: "tier",
    value: ABSENT,
    expect: "tier is not set (BASIC)",
  },
  {
    rule: "redis-standard-ha-in-prod",
    resource: REDIS,
    path: "tier",
    value: UNKNOWN.unknownStringValue,
    expect: "must have a known tier at preview",
  },
];

describe("Memorystore rules", () => {
  test("the compliant fixture has no Redis finding", () => {
    expect(evaluatePolicies(compliantStack()).filter((f) => f.policy.startsWith("redis-"))).toEqual([]);
  });

  test.each(titled(cases))("$rule: $title", (c) => {
    expectSingleFinding(c);
  });

  test("BASIC is accepted outside prod", () => {
    const stack = changed(compliantStack("staging"), REDIS, "tier", "BASIC");
    expect(evaluatePolicies(stack).filter((f) => f.policy.startsWith("redis-"))).toEqual([]);
  });
});
