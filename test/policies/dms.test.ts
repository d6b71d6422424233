import { evaluatePolicies } from "../../policies/evaluate";
import { ABSENT, changed, compliantStack, UNKNOWN } from "./fixtures";
import { Case, expectSingleFinding, titled } from "./cases";

const SOURCE = "avvivo-source";
const CREATED = "avvivo-dms-created-destination";
const cases: Case[] = [
  {
    rule: "dms-source-tls-with-ca",
    resource: SOURCE,
    path: "postgresql.ssl.caCertificate",
    value: ABSENT,
    expect: "must verify the source with a CA certificate: postgresql.ssl.caCertificate is not set",
  },
  {
    rule: "dms-source-tls-with-ca",
    resource: SOURCE,
    path: "postgresql.ssl",
    value: ABSENT,
    expect: "postgresql.ssl.caCertificate is not set",
  },
  {
    rule: "dms-source-tls-with-ca",
    resource: SOURCE,
    path: "postgresql.ssl.caCertificate",
    value: "  ",
    expect: "caCertificate is not set",
  },
  {
    rule: "dms-source-tls-with-ca",
    resource: SOURCE,
    path: "postgresql.ssl.type",
    value: "REQUIRED",
    expect: "must use a verifying TLS mode: postgresql.ssl.type is REQUIRED",
  },
  {
    rule: "dms-source-tls-with-ca",
    resource: SOURCE,
    path: "postgresql.ssl.type",
    value: "NONE",
    expect: "postgresql.ssl.type is NONE, expected SERVER_ONLY",
  },
  {
    rule: "dms-source-tls-with-ca",
    resource: SOURCE,
    path: "postgresql.ssl.caCertificate",
    value: UNKNOWN.unknownStringValue,
    expect: "must have a known postgresql.ssl.caCertificate at preview",
  },
  {
    rule: "dms-destination-profile-secure",
    resource: CREATED,
    path: "cloudsql.settings.ipConfig.requireSsl",
    value: false,
    expect: "cloudsql.settings.ipConfig.requireSsl true",
  },
  {
    rule: "dms-destination-profile-secure",
    resource: CREATED,
    path: "cloudsql.settings.ipConfig.enableIpv4",
    value: ABSENT,
    expect:
      "must create the destination without a public IP: cloudsql.settings.ipConfig.enableIpv4 is not set",
  },
  {
    rule: "dms-destination-profile-secure",
    resource: CREATED,
    path: "cloudsql.settings.ipConfig.authorizedNetworks",
    value: [{ value: "0.0.0.0/0" }],
    expect: "must not authorize public network 0.0.0.0/0 on the destination",
  },
  {
    rule: "dms-destination-profile-secure",
    resource: CREATED,
    path: "cloudsql.settings.ipConfig.requireSsl",
    value: UNKNOWN.unknownBooleanValue,
    expect: "must have a known cloudsql.settings.ipConfig.requireSsl at preview",
  },
  {
    rule: "dms-job-continuous",
    resource: "avvivo-dms-a1",
    path: "type",
    value: "ONE_TIME",
    expect: "must be CONTINUOUS: type is ONE_TIME",
  },
  {
    rule: "dms-job-continuous",
    resource: "avvivo-dms-a1",
    path: "type",
    value: ABSENT,
    expect: "must be CONTINUOUS: type is not set",
  },
  {
    rule: "dms-job-continuous",
    resource: "avvivo-dms-a1",
    path: "type",
    value: UNKNOWN.unknownStringValue,
    expect: "must have a known type at preview",
  },
];

describe("DMS rules", () => {
  test("the compliant fixture has no DMS finding", () => {
    expect(evaluatePolicies(compliantStack()).filter((f) => f.policy.startsWith("dms-"))).toEqual([]);
  });

  test.each(titled(cases))("$rule: $title", (c) => {
    expectSingleFinding(c);
  });

  test("the source message never prints the certificate or the password", () => {
    const stack = changed(compliantStack(), SOURCE, "postgresql.ssl.type", "NONE");
    const messages = evaluatePolicies(stack)
      .map((f) => f.message)
      .join("\n");
    expect(messages).not.toContain("BEGIN CERTIFICATE");
    expect(messages).not.toContain("not-a-real-password");
  });

  test("a profile addressing Cloud SQL by id is a destination, not a source", () => {
    const stack = changed(compliantStack(), "avvivo-destination", "postgresql.ssl", ABSENT);
    expect(evaluatePolicies(stack).filter((f) => f.policy === "dms-source-tls-with-ca")).toEqual([]);
  });
});
