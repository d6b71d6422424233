// Per-module imports: the pack is type-checked by ts-node at start-up, and the whole @pulumi/gcp
// index costs ~20 s more than the modules the rules use.
import { ConnectionProfile } from "@pulumi/gcp/databasemigrationservice/connectionProfile";
import { MigrationJob } from "@pulumi/gcp/databasemigrationservice/migrationJob";
import { validateResourceOfType } from "@pulumi/policy";
import {
  CutoverPolicy,
  describeResource,
  isPrivateCidr,
  PUBLIC_IP_REASON_LABEL,
  resourcePolicy,
} from "./support";

const PROFILE = ConnectionProfile;
/** SSL types that verify the server against a CA (REQUIRED encrypts without verifying; NONE does not encrypt). */
const VERIFYING_SSL_TYPES = ["SERVER_ONLY", "SERVER_CLIENT"];

export const dmsSourceTlsWithCa = resourcePolicy({
  name: "dms-source-tls-with-ca",
  description:
    "A DMS PostgreSQL source profile (postgresql.host set) connects over TLS and verifies the server: postgresql.ssl.caCertificate set, ssl.type SERVER_ONLY or SERVER_CLIENT when given.",
  enforcementLevel: "mandatory",
  validateResource: validateResourceOfType(PROFILE, (profile, args, report) => {
    const pg = profile.postgresql;
    // Destination profiles point at Cloud SQL / AlloyDB by id; only a host-addressed profile is a source.
    if (pg?.host === undefined) return;
    const subject = describeResource(args.type, args.name);
    const ssl = pg.ssl;
    if (ssl?.caCertificate === undefined || ssl.caCertificate.trim() === "")
      report(
        `${subject} must verify the source with a CA certificate: postgresql.ssl.caCertificate is not set; hint: source.caCertificate in the migration config (Supabase's server root CA)`,
      );
    if (ssl?.type !== undefined && !VERIFYING_SSL_TYPES.includes(ssl.type))
      report(
        `${subject} must use a verifying TLS mode: postgresql.ssl.type is ${ssl.type}, expected SERVER_ONLY (or SERVER_CLIENT)`,
      );
  }),
});

export const dmsDestinationProfileSecure = resourcePolicy({
  name: "dms-destination-profile-secure",
  description: `When DMS creates the Cloud SQL destination (cloudsql.settings), it requires SSL, has no public IPv4 (unless user label ${PUBLIC_IP_REASON_LABEL} says why) and authorizes private ranges only.`,
  enforcementLevel: "mandatory",
  validateResource: validateResourceOfType(PROFILE, (profile, args, report) => {
    const settings = profile.cloudsql?.settings;
    if (settings === undefined) return;
    const subject = describeResource(args.type, args.name);
    const ip = settings.ipConfig;
    if (ip?.requireSsl !== true)
      report(`${subject} must create the destination with cloudsql.settings.ipConfig.requireSsl true`);
    const reason = settings.userLabels?.[PUBLIC_IP_REASON_LABEL];
    if (ip?.enableIpv4 !== false && (reason === undefined || reason === ""))
      report(
        `${subject} must create the destination without a public IP: cloudsql.settings.ipConfig.enableIpv4 is ${ip?.enableIpv4 ?? "not set"}; hint: enableIpv4 false with privateNetwork`,
      );
    for (const network of ip?.authorizedNetworks ?? [])
      if (!isPrivateCidr(network.value))
        report(`${subject} must not authorize public network ${network.value} on the destination`);
  }),
});

export const dmsJobContinuous = resourcePolicy({
  name: "dms-job-continuous",
  description:
    "DMS migration jobs are CONTINUOUS (full dump then CDC), so the cutover waits only for replication lag ≈ 0.",
  enforcementLevel: "mandatory",
  validateResource: validateResourceOfType(MigrationJob, (job, args, report) => {
    if (job.type !== "CONTINUOUS")
      report(
        `${describeResource(args.type, args.name)} must be CONTINUOUS: type is ${job.type ?? "not set"}; hint: a ONE_TIME job stops after the dump and misses every write made since`,
      );
  }),
});

export const DMS_POLICIES: CutoverPolicy[] = [
  dmsSourceTlsWithCa,
  dmsDestinationProfileSecure,
  dmsJobContinuous,
];
