// Per-module imports: the pack is type-checked by ts-node at start-up, and the whole @pulumi/gcp
// index costs ~20 s more than the modules the rules use.
import { DatabaseInstance, DatabaseInstanceArgs } from "@pulumi/gcp/sql/databaseInstance";
import { validateResourceOfType } from "@pulumi/policy";
import type { Unwrap } from "@pulumi/pulumi";
import { LOG_RETENTION_RANGE, type CloudSqlEdition } from "../contract/facts";
import { readSpecs, belongsTo } from "./spec";
import {
  checkEach,
  CutoverPolicy,
  describeResource,
  isPrivateCidr,
  isProdStack,
  PUBLIC_IP_REASON_LABEL,
  resourcePolicy,
  stackPolicy,
} from "./support";

const INSTANCE = DatabaseInstance;
type InstanceArgs = Unwrap<DatabaseInstanceArgs>;
type Settings = InstanceArgs["settings"];

/** TLS modes that refuse plain-text connections. */
const ENCRYPTED_SSL_MODES = ["ENCRYPTED_ONLY", "TRUSTED_CLIENT_CERTIFICATE_REQUIRED"];
/** The Cloud SQL API's default number of retained backups. */
const DEFAULT_RETAINED_BACKUPS = 7;
/** PostgreSQL severities, most verbose first. */
const SEVERITIES = ["debug5", "debug4", "debug3", "debug2", "debug1", "info", "notice", "warning", "error"];

export const cloudSqlRequireTls = resourcePolicy({
  name: "cloudsql-require-tls",
  description:
    "Cloud SQL instances refuse unencrypted connections: settings.ipConfiguration.sslMode is ENCRYPTED_ONLY (or TRUSTED_CLIENT_CERTIFICATE_REQUIRED).",
  enforcementLevel: "mandatory",
  validateResource: validateResourceOfType(INSTANCE, (instance, args, report) => {
    const mode = instance.settings?.ipConfiguration?.sslMode;
    if (mode === undefined || !ENCRYPTED_SSL_MODES.includes(mode))
      report(
        `${describeResource(args.type, args.name)} must require TLS: settings.ipConfiguration.sslMode is ${mode ?? "not set"}, expected ENCRYPTED_ONLY; hint: ENCRYPTED_ONLY works with Prisma and DMS, client certificates need the Auth Proxy`,
      );
  }),
});

export const cloudSqlNoPublicIp = resourcePolicy({
  name: "cloudsql-no-public-ip",
  description: `Cloud SQL instances use private IP only (settings.ipConfiguration.ipv4Enabled false), unless the user label ${PUBLIC_IP_REASON_LABEL} says why.`,
  enforcementLevel: "mandatory",
  validateResource: validateResourceOfType(INSTANCE, (instance, args, report) => {
    const ipv4 = instance.settings?.ipConfiguration?.ipv4Enabled;
    if (ipv4 === false) return;
    const reason = instance.settings?.userLabels?.[PUBLIC_IP_REASON_LABEL];
    if (reason !== undefined && reason !== "") return;
    report(
      `${describeResource(args.type, args.name)} must not have a public IP: settings.ipConfiguration.ipv4Enabled is ${ipv4 ?? "not set (the provider defaults to true)"}; hint: set ipv4Enabled false with a privateNetwork, or label the instance ${PUBLIC_IP_REASON_LABEL}=<why>`,
    );
  }),
});

export const cloudSqlNoPublicAuthorizedNetworks = resourcePolicy({
  name: "cloudsql-no-public-authorized-networks",
  description:
    "Cloud SQL authorized networks are private (RFC 1918) ranges only: no 0.0.0.0/0, no other /0, no public range.",
  enforcementLevel: "mandatory",
  validateResource: validateResourceOfType(INSTANCE, (instance, args, report) => {
    for (const network of instance.settings?.ipConfiguration?.authorizedNetworks ?? []) {
      if (!isPrivateCidr(network.value))
        report(
          `${describeResource(args.type, args.name)} must not authorize public network ${network.value}${network.name ? ` (${network.name})` : ""}; hint: reach the instance through private IP (Direct VPC egress) or the Auth Proxy`,
        );
    }
  }),
});

export const cloudSqlHighAvailabilityInProd = resourcePolicy({
  name: "cloudsql-high-availability-in-prod",
  description: "In prod stacks, Cloud SQL instances are REGIONAL (HA): settings.availabilityType REGIONAL.",
  enforcementLevel: "mandatory",
  validateResource: validateResourceOfType(INSTANCE, (instance, args, report) => {
    if (!isProdStack(args.urn)) return;
    const availability = instance.settings?.availabilityType;
    if (availability !== "REGIONAL")
      report(
        `${describeResource(args.type, args.name)} must be REGIONAL (HA) in prod: settings.availabilityType is ${availability ?? "not set (ZONAL)"}; hint: cloudSql.highAvailability: true`,
      );
  }),
});

export const cloudSqlDeletionProtectionInProd = resourcePolicy({
  name: "cloudsql-deletion-protection-in-prod",
  description:
    "In prod stacks, Cloud SQL deletion protection is on at both layers: deletionProtection (provider) and settings.deletionProtectionEnabled (API).",
  enforcementLevel: "mandatory",
  validateResource: validateResourceOfType(INSTANCE, (instance, args, report) => {
    if (!isProdStack(args.urn)) return;
    const subject = describeResource(args.type, args.name);
    if (instance.deletionProtection === false)
      report(
        `${subject} must keep deletionProtection on in prod (provider layer); hint: remove deletionProtection: false`,
      );
    if (instance.settings?.deletionProtectionEnabled !== true)
      report(
        `${subject} must set settings.deletionProtectionEnabled true in prod (API layer, also guards against console and gcloud deletes)`,
      );
  }),
});

function flagsOf(settings: Settings): Map<string, string> {
  const flags = (settings?.databaseFlags ?? []) as { name: string; value: string }[];
  return new Map(flags.map((f) => [f.name, f.value]));
}

export const cloudSqlConnectionLogging = resourcePolicy({
  name: "cloudsql-connection-logging",
  description:
    "Cloud SQL logs every connection and disconnection (flags log_connections=on, log_disconnections=on).",
  enforcementLevel: "mandatory",
  validateResource: validateResourceOfType(INSTANCE, (instance, args, report) => {
    const flags = flagsOf(instance.settings);
    const missing = ["log_connections", "log_disconnections"].filter((f) => flags.get(f) !== "on");
    if (missing.length > 0)
      report(
        `${describeResource(args.type, args.name)} must log connections: set database flag(s) ${missing.map((f) => `${f}=on`).join(", ")}; hint: a cutover needs to see who still connects to which database`,
      );
  }),
});

export const cloudSqlPgAudit = resourcePolicy({
  name: "cloudsql-pgaudit",
  description:
    "Cloud SQL has pgAudit on (flag cloudsql.enable_pgaudit=on); advisory, teams may audit differently.",
  enforcementLevel: "advisory",
  validateResource: validateResourceOfType(INSTANCE, (instance, args, report) => {
    if (flagsOf(instance.settings).get("cloudsql.enable_pgaudit") !== "on")
      report(
        `${describeResource(args.type, args.name)} should enable pgAudit: database flag cloudsql.enable_pgaudit=on (then CREATE EXTENSION pgaudit)`,
      );
  }),
});

export const cloudSqlLogLevels = resourcePolicy({
  name: "cloudsql-log-levels",
  description:
    "Cloud SQL logs warnings and the statements behind errors (log_min_messages warning or more verbose, log_min_error_statement error or more verbose); advisory.",
  enforcementLevel: "advisory",
  validateResource: validateResourceOfType(INSTANCE, (instance, args, report) => {
    const flags = flagsOf(instance.settings);
    const wanted: [string, string][] = [
      ["log_min_messages", "warning"],
      ["log_min_error_statement", "error"],
    ];
    for (const [flag, atLeast] of wanted) {
      const value = flags.get(flag);
      const rank = value === undefined ? -1 : SEVERITIES.indexOf(value);
      if (rank < 0 || rank > SEVERITIES.indexOf(atLeast))
        report(
          `${describeResource(args.type, args.name)} should set database flag ${flag} to ${atLeast} or more verbose (got ${value ?? "not set"})`,
        );
    }
  }),
});

/** The problems with an instance's backups/PITR settings (empty when compliant). */
export function backupProblems(settings: Settings): string[] {
  const backups = settings?.backupConfiguration;
  const problems: string[] = [];
  if (backups?.enabled !== true) problems.push("settings.backupConfiguration.enabled must be true");
  if (backups?.pointInTimeRecoveryEnabled !== true)
    problems.push("settings.backupConfiguration.pointInTimeRecoveryEnabled must be true");
  const edition = settings?.edition ?? "ENTERPRISE";
  const range = LOG_RETENTION_RANGE[edition as CloudSqlEdition] ?? LOG_RETENTION_RANGE.ENTERPRISE;
  const days = backups?.transactionLogRetentionDays;
  const retained = backups?.backupRetentionSettings?.retainedBackups ?? DEFAULT_RETAINED_BACKUPS;
  if (days === undefined)
    problems.push(`transactionLogRetentionDays must be set (${range.min}–${range.max} days for ${edition})`);
  else if (days < range.min || days > range.max)
    problems.push(
      `transactionLogRetentionDays ${days} is outside ${range.min}–${range.max} days for ${edition}`,
    );
  else if (days >= retained)
    problems.push(
      `transactionLogRetentionDays ${days} must be below retainedBackups ${retained} (the API answers 400 otherwise)`,
    );
  return problems;
}

export const cloudSqlBackupsAndPitr = stackPolicy({
  name: "cloudsql-backups-and-pitr",
  description: `Cloud SQL has automated backups and PITR on, log retention inside the edition's range and below retained backups. Relaxed on a DMS destination while its migration's spec says backupsManagedByDms (the engine's phase table: DMS suspends backups on the demoted replica).`,
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    const { specs } = readSpecs(args.resources);
    const instances = args.resources.filter((r) => r.isType(INSTANCE));
    checkEach(instances, report, (r) => {
      const replicating = specs.find(
        (f) => f.spec.kind === "cloudsql" && f.spec.backupsManagedByDms && belongsTo(r, f),
      );
      if (replicating !== undefined) return;
      const problems = backupProblems((r.props as InstanceArgs).settings);
      if (problems.length > 0)
        report(
          `${describeResource(r.type, r.name)} must keep automated backups and PITR on: ${problems.join("; ")}. This is relaxed only while the instance is a DMS destination whose migration's spec says backupsManagedByDms (replicate, and switch or freeze and promote, in the engine's phase table)`,
          r.urn,
        );
    });
  },
});

export const CLOUDSQL_POLICIES: CutoverPolicy[] = [
  cloudSqlRequireTls,
  cloudSqlNoPublicIp,
  cloudSqlNoPublicAuthorizedNetworks,
  cloudSqlBackupsAndPitr,
  cloudSqlHighAvailabilityInProd,
  cloudSqlDeletionProtectionInProd,
  cloudSqlConnectionLogging,
  cloudSqlPgAudit,
  cloudSqlLogLevels,
];
