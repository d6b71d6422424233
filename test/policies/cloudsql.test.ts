import { evaluatePolicies } from "../../policies/evaluate";
import { ABSENT, added, changed, compliantStack, UNKNOWN, urnOf, T } from "./fixtures";
import { Case, expectSingleFinding, titled } from "./cases";

const SQL = "avvivo-sql";
const cases: Case[] = [
  // cloudsql-require-tls
  {
    rule: "cloudsql-require-tls",
    resource: SQL,
    path: "settings.ipConfiguration.sslMode",
    value: "ALLOW_UNENCRYPTED_AND_ENCRYPTED",
    expect:
      "must require TLS: settings.ipConfiguration.sslMode is ALLOW_UNENCRYPTED_AND_ENCRYPTED, expected ENCRYPTED_ONLY",
  },
  {
    rule: "cloudsql-require-tls",
    resource: SQL,
    path: "settings.ipConfiguration.sslMode",
    value: ABSENT,
    expect: "sslMode is not set",
  },
  {
    rule: "cloudsql-require-tls",
    resource: SQL,
    path: "settings.ipConfiguration.sslMode",
    value: UNKNOWN.unknownStringValue,
    expect: "must have a known settings.ipConfiguration.sslMode at preview",
  },
  // cloudsql-no-public-ip
  {
    rule: "cloudsql-no-public-ip",
    resource: SQL,
    path: "settings.ipConfiguration.ipv4Enabled",
    value: true,
    expect: "must not have a public IP: settings.ipConfiguration.ipv4Enabled is true",
  },
  {
    rule: "cloudsql-no-public-ip",
    resource: SQL,
    path: "settings.ipConfiguration.ipv4Enabled",
    value: ABSENT,
    expect: "ipv4Enabled is not set (the provider defaults to true)",
  },
  {
    rule: "cloudsql-no-public-ip",
    resource: SQL,
    path: "settings.ipConfiguration.ipv4Enabled",
    value: UNKNOWN.unknownBooleanValue,
    expect: "must have a known settings.ipConfiguration.ipv4Enabled at preview",
  },
  // cloudsql-no-public-authorized-networks
  {
    rule: "cloudsql-no-public-authorized-networks",
    resource: SQL,
    path: "settings.ipConfiguration.authorizedNetworks",
    value: [{ name: "anywhere", value: "0.0.0.0/0" }],
    expect: "must not authorize public network 0.0.0.0/0 (anywhere)",
  },
  {
    rule: "cloudsql-no-public-authorized-networks",
    resource: SQL,
    path: "settings.ipConfiguration.authorizedNetworks",
    value: [{ value: "34.82.10.0/24" }],
    expect: "must not authorize public network 34.82.10.0/24",
  },
  {
    rule: "cloudsql-no-public-authorized-networks",
    resource: SQL,
    path: "settings.ipConfiguration.authorizedNetworks",
    value: [{ value: "10.0.0.0/0" }],
    expect: "must not authorize public network 10.0.0.0/0",
  },
  {
    rule: "cloudsql-no-public-authorized-networks",
    resource: SQL,
    path: "settings.ipConfiguration.authorizedNetworks",
    value: UNKNOWN.unknownArrayValue,
    expect: "must have a known settings.ipConfiguration.authorizedNetworks at preview",
  },
  // cloudsql-backups-and-pitr (stack-level, phase-aware)
  {
    rule: "cloudsql-backups-and-pitr",
    resource: SQL,
    path: "settings.backupConfiguration.enabled",
    value: false,
    expect: "settings.backupConfiguration.enabled must be true",
  },
  {
    rule: "cloudsql-backups-and-pitr",
    resource: SQL,
    path: "settings.backupConfiguration.pointInTimeRecoveryEnabled",
    value: ABSENT,
    expect: "pointInTimeRecoveryEnabled must be true",
  },
  {
    rule: "cloudsql-backups-and-pitr",
    resource: SQL,
    path: "settings.backupConfiguration.transactionLogRetentionDays",
    value: 14,
    expect: "transactionLogRetentionDays 14 is outside 1–7 days for ENTERPRISE",
  },
  {
    rule: "cloudsql-backups-and-pitr",
    resource: SQL,
    path: "settings.backupConfiguration.transactionLogRetentionDays",
    value: ABSENT,
    expect: "transactionLogRetentionDays must be set (1–7 days for ENTERPRISE)",
  },
  {
    rule: "cloudsql-backups-and-pitr",
    resource: SQL,
    path: "settings.backupConfiguration.backupRetentionSettings.retainedBackups",
    value: 7,
    expect: "transactionLogRetentionDays 7 must be below retainedBackups 7",
  },
  {
    rule: "cloudsql-backups-and-pitr",
    resource: SQL,
    path: "settings.backupConfiguration.backupRetentionSettings",
    value: ABSENT,
    expect: "must be below retainedBackups 7",
  },
  {
    rule: "cloudsql-backups-and-pitr",
    resource: SQL,
    path: "settings.backupConfiguration",
    value: ABSENT,
    expect:
      "relaxed only while the instance is a DMS destination whose migration's spec says backupsManagedByDms",
  },
  {
    rule: "cloudsql-backups-and-pitr",
    resource: SQL,
    path: "settings.backupConfiguration.enabled",
    value: UNKNOWN.unknownBooleanValue,
    expect: "Cloud SQL instance avvivo-sql must have a known settings.backupConfiguration.enabled at preview",
  },
  // cloudsql-high-availability-in-prod
  {
    rule: "cloudsql-high-availability-in-prod",
    resource: SQL,
    path: "settings.availabilityType",
    value: "ZONAL",
    expect: "must be REGIONAL (HA) in prod: settings.availabilityType is ZONAL",
  },
  {
    rule: "cloudsql-high-availability-in-prod",
    resource: SQL,
    path: "settings.availabilityType",
    value: ABSENT,
    expect: "availabilityType is not set (ZONAL)",
  },
  {
    rule: "cloudsql-high-availability-in-prod",
    resource: SQL,
    path: "settings.availabilityType",
    value: UNKNOWN.unknownStringValue,
    expect: "must have a known settings.availabilityType at preview",
  },
  // cloudsql-deletion-protection-in-prod
  {
    rule: "cloudsql-deletion-protection-in-prod",
    resource: SQL,
    path: "deletionProtection",
    value: false,
    expect: "must keep deletionProtection on in prod (provider layer)",
  },
  {
    rule: "cloudsql-deletion-protection-in-prod",
    resource: SQL,
    path: "settings.deletionProtectionEnabled",
    value: false,
    expect: "must set settings.deletionProtectionEnabled true in prod (API layer",
  },
  {
    rule: "cloudsql-deletion-protection-in-prod",
    resource: SQL,
    path: "settings.deletionProtectionEnabled",
    value: ABSENT,
    expect: "settings.deletionProtectionEnabled true in prod",
  },
  {
    rule: "cloudsql-deletion-protection-in-prod",
    resource: SQL,
    path: "deletionProtection",
    value: UNKNOWN.unknownBooleanValue,
    expect: "must have a known deletionProtection at preview",
  },
  // cloudsql-connection-logging
  {
    rule: "cloudsql-connection-logging",
    resource: SQL,
    path: "settings.databaseFlags.2",
    value: { name: "log_disconnections", value: "off" },
    expect: "must log connections: set database flag(s) log_disconnections=on",
  },
  {
    rule: "cloudsql-connection-logging",
    resource: SQL,
    path: "settings.databaseFlags",
    value: ABSENT,
    expect: "log_connections=on, log_disconnections=on",
  },
  {
    rule: "cloudsql-connection-logging",
    resource: SQL,
    path: "settings.databaseFlags",
    value: UNKNOWN.unknownArrayValue,
    expect: "must have a known settings.databaseFlags at preview",
  },
  // advisory: cloudsql-pgaudit, cloudsql-log-levels
  {
    rule: "cloudsql-pgaudit",
    resource: SQL,
    path: "settings.databaseFlags.0",
    value: { name: "cloudsql.enable_pgaudit", value: "off" },
    expect: "should enable pgAudit",
    level: "advisory",
  },
  {
    rule: "cloudsql-pgaudit",
    resource: SQL,
    path: "settings.databaseFlags",
    value: ABSENT,
    expect: "cloudsql.enable_pgaudit=on",
    level: "advisory",
  },
  {
    rule: "cloudsql-pgaudit",
    resource: SQL,
    path: "settings.databaseFlags",
    value: UNKNOWN.unknownArrayValue,
    expect: "can't run policy 'cloudsql-pgaudit' from policy pack 'cutover@v0.1.0' during preview",
    level: "advisory",
  },
  {
    rule: "cloudsql-log-levels",
    resource: SQL,
    path: "settings.databaseFlags.3",
    value: { name: "log_min_messages", value: "error" },
    expect: "should set database flag log_min_messages to warning or more verbose (got error)",
    level: "advisory",
  },
  {
    rule: "cloudsql-log-levels",
    resource: SQL,
    path: "settings.databaseFlags.4",
    value: { name: "log_min_error_statement", value: "panic" },
    expect: "log_min_error_statement to error or more verbose (got panic)",
    level: "advisory",
  },
  {
    rule: "cloudsql-log-levels",
    resource: SQL,
    path: "settings.databaseFlags.4",
    value: { name: "shared_buffers", value: "1" },
    expect: "log_min_error_statement to error or more verbose (got not set)",
    level: "advisory",
  },
];

describe("Cloud SQL rules", () => {
  test("the compliant fixture has no Cloud SQL finding", () => {
    expect(evaluatePolicies(compliantStack()).filter((f) => f.policy.startsWith("cloudsql-"))).toEqual([]);
  });

  test.each(titled(cases))("$rule: $title", (c) => {
    expectSingleFinding(c);
  });

  test("a public IP is accepted when the label says why", () => {
    const stack = changed(
      changed(compliantStack(), SQL, "settings.ipConfiguration.ipv4Enabled", true),
      SQL,
      "settings.userLabels",
      { "cutover-public-ip-reason": "dms-static-ip-source" },
    );
    expect(evaluatePolicies(stack).filter((f) => f.policy === "cloudsql-no-public-ip")).toEqual([]);
  });

  test.each([
    ["settings.ipConfiguration.authorizedNetworks", "cloudsql-no-public-authorized-networks"],
    ["deletionProtection", "cloudsql-deletion-protection-in-prod"],
  ])("absent %s is compliant (no networks; the provider defaults to protected)", (path, rule) => {
    const stack = changed(compliantStack(), SQL, path, ABSENT);
    expect(evaluatePolicies(stack).filter((f) => f.policy === rule)).toEqual([]);
  });

  test("an empty public-IP reason label does not count as a reason", () => {
    const stack = changed(
      changed(compliantStack(), SQL, "settings.ipConfiguration.ipv4Enabled", true),
      SQL,
      "settings.userLabels",
      { "cutover-public-ip-reason": "" },
    );
    const findings = evaluatePolicies(stack).filter((f) => f.policy === "cloudsql-no-public-ip");
    expect(findings.map((f) => f.message)).toEqual([expect.stringContaining("must not have a public IP")]);
  });

  test("ENTERPRISE_PLUS allows up to 35 days of log retention", () => {
    let stack = changed(compliantStack(), SQL, "settings.edition", "ENTERPRISE_PLUS");
    stack = changed(stack, SQL, "settings.backupConfiguration.transactionLogRetentionDays", 14);
    stack = changed(stack, SQL, "settings.backupConfiguration.backupRetentionSettings.retainedBackups", 30);
    expect(evaluatePolicies(stack).filter((f) => f.policy === "cloudsql-backups-and-pitr")).toEqual([]);
  });

  test("prod-only rules do not apply to staging", () => {
    let stack = changed(compliantStack("staging"), SQL, "settings.availabilityType", "ZONAL");
    stack = changed(stack, SQL, "settings.deletionProtectionEnabled", false);
    const names = evaluatePolicies(stack).map((f) => f.policy);
    expect(names).not.toContain("cloudsql-high-availability-in-prod");
    expect(names).not.toContain("cloudsql-deletion-protection-in-prod");
  });

  describe.each(["replicate", "freeze", "promote"])(
    "while the migration is in %s (DMS destination)",
    (phase) => {
      const replicating = () =>
        changed(
          changed(changed(compliantStack(), "avvivo-spec", "phase", phase), "avvivo-spec", "promoted", false),
          "avvivo-spec",
          "backupsManagedByDms",
          true,
        );

      test("backups and PITR off are accepted on the instance of that migration", () => {
        const stack = changed(replicating(), SQL, "settings.backupConfiguration", { enabled: false });
        expect(evaluatePolicies(stack).filter((f) => f.policy === "cloudsql-backups-and-pitr")).toEqual([]);
      });

      test("an instance outside the migration gets no exception", () => {
        const stack = added(replicating(), T.instance, "reporting-sql", {
          name: "reporting",
          databaseVersion: "POSTGRES_15",
          settings: { tier: "db-f1-micro" },
        });
        const findings = evaluatePolicies(stack).filter((f) => f.policy === "cloudsql-backups-and-pitr");
        expect(findings).toHaveLength(1);
        expect(findings[0].urn).toBe(urnOf("prod", T.instance, "reporting-sql"));
      });
    },
  );

  test("a spec at replicate that does not say DMS owns the backups gets no exception (the table decides, not the phase name)", () => {
    const stack = changed(
      changed(compliantStack(), "avvivo-spec", "phase", "replicate"),
      "avvivo-spec",
      "promoted",
      false,
    );
    const off = changed(stack, SQL, "settings.backupConfiguration.enabled", false);
    expect(evaluatePolicies(off).filter((f) => f.policy === "cloudsql-backups-and-pitr")).toHaveLength(1);
  });

  test("the exception also finds the instance by the <migration>- name prefix when there is no component", () => {
    const stack = compliantStack()
      .map((r) => ({ ...r, parent: undefined }))
      .map((r) =>
        r.name === "avvivo-spec"
          ? { ...r, inputs: { ...r.inputs, phase: "replicate", promoted: false, backupsManagedByDms: true } }
          : r,
      );
    const off = changed(stack, SQL, "settings.backupConfiguration.enabled", false);
    expect(evaluatePolicies(off).filter((f) => f.policy === "cloudsql-backups-and-pitr")).toEqual([]);
  });
});
