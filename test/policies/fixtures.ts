import * as proxyModule from "@pulumi/policy/proxy";
import { PlannedResource } from "../../policies/evaluate";

/** The sentinels the engine sends for values unknown at preview (what the SDK's proxy throws on). */
export const UNKNOWN = proxyModule as unknown as {
  unknownStringValue: string;
  unknownBooleanValue: string;
  unknownNumberValue: string;
  unknownArrayValue: string;
  unknownObjectValue: string;
};
/** Marks a field to delete in `changed`. */
export const ABSENT = Symbol("absent");

export const T = {
  stack: "pulumi:pulumi:Stack",
  component: "cutover:migration:CloudSqlMigration",
  spec: "pulumi-nodejs:dynamic:Resource",
  instance: "gcp:sql/databaseInstance:DatabaseInstance",
  redis: "gcp:redis/instance:Instance",
  service: "gcp:cloudrunv2/service:Service",
  job: "gcp:cloudrunv2/job:Job",
  runIamMember: "gcp:cloudrunv2/serviceIamMember:ServiceIamMember",
  runIamBinding: "gcp:cloudrunv2/serviceIamBinding:ServiceIamBinding",
  secretIamMember: "gcp:secretmanager/secretIamMember:SecretIamMember",
  secretIamBinding: "gcp:secretmanager/secretIamBinding:SecretIamBinding",
  projectIamMember: "gcp:projects/iAMMember:IAMMember",
  projectIamBinding: "gcp:projects/iAMBinding:IAMBinding",
  profile: "gcp:databasemigrationservice/connectionProfile:ConnectionProfile",
  dmsJob: "gcp:databasemigrationservice/migrationJob:MigrationJob",
} as const;

export const urnOf = (stack: string, type: string, name: string) =>
  `urn:pulumi:${stack}::cutover::${type}::${name}`;

export const SA = "avvivo-api@avvivo-prod.iam.gserviceaccount.com";
export const STABLE = "avvivo-api-00187-tez";
export const FREEZE = "avvivo-api-freeze-a1";
export const CANDIDATE = "avvivo-api-cand-a1";
const REV = "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION";
const FAKE_CA = "-----BEGIN CERTIFICATE-----\nMIIDxDCCAqygAwIBAgIU\n-----END CERTIFICATE-----\n";

export const target = (revision: string, percent: number, tag?: string) => ({
  type: REV,
  revision,
  percent,
  ...(tag === undefined ? {} : { tag }),
});

/** Spec inputs of the avvivo migration at `canary` 10% (promoted). */
export function specInputs(): Record<string, unknown> {
  return {
    cutoverSpec: "v1",
    migration: "avvivo",
    kind: "cloudsql",
    phase: "canary",
    basePhase: "canary",
    attempt: 1,
    promoted: true,
    backupsManagedByDms: false,
    stableRevision: STABLE,
    revisions: [
      { name: STABLE, role: "stable", database: "source", writes: true },
      { name: FREEZE, role: "freeze", database: "source", writes: false },
      { name: CANDIDATE, role: "candidate", database: "cloudsql", writes: true },
    ],
    service: "avvivo-api",
    public: true,
    __provider: "exports.handler = __f0;",
  };
}

const container = () => ({
  image: "us-west2-docker.pkg.dev/avvivo-prod/avvivo/avvivo-api:2026-02-26.3",
  envs: [
    { name: "NODE_ENV", value: "production" },
    { name: "PUBLIC_BASE_URL", value: "https://api.avvivo.app" },
    {
      name: "DATABASE_URL",
      valueSource: { secretKeyRef: { secret: "avvivo-cloudsql-database-url", version: "latest" } },
    },
  ],
});

/** A compliant stack: the avvivo migration at canary 10%, with every resource type the pack checks. */
/** Inputs of the phase ledger the program declares beside each migration. */
export function ledgerInputs(phase: string, migration = "avvivo"): Record<string, unknown> {
  return {
    cutoverLedger: "v1",
    migration,
    kind: "cloudsql",
    stack: "prod",
    position: { phase, attempt: 1, ...(phase === "canary" ? { percent: 10 } : {}) },
    ramp: [10, 50, 100],
    route: "ramp",
    windowHours: 48,
  };
}

export function compliantStack(stack = "prod"): PlannedResource[] {
  const at = (
    type: string,
    name: string,
    inputs: Record<string, unknown>,
    parent?: string,
  ): PlannedResource => ({
    type,
    name,
    urn: urnOf(stack, type, name),
    inputs,
    ...(parent === undefined ? {} : { parent }),
  });
  const root = urnOf(stack, T.stack, `cutover-${stack}`);
  const owner = urnOf(stack, T.component, "avvivo");
  return [
    at(T.stack, `cutover-${stack}`, {}),
    at(T.component, "avvivo", {}, root),
    at(T.spec, "avvivo-spec", specInputs(), owner),
    at(T.spec, "avvivo-ledger", ledgerInputs(String(specInputs().phase)), root),
    at(
      T.instance,
      "avvivo-sql",
      {
        name: "avvivo-prod-pg",
        databaseVersion: "POSTGRES_15",
        region: "us-west2",
        deletionProtection: true,
        settings: {
          tier: "db-custom-4-15360",
          edition: "ENTERPRISE",
          availabilityType: "REGIONAL",
          deletionProtectionEnabled: true,
          ipConfiguration: {
            ipv4Enabled: false,
            privateNetwork: "projects/avvivo-prod/global/networks/avvivo-vpc",
            sslMode: "ENCRYPTED_ONLY",
            authorizedNetworks: [{ name: "office-vpn", value: "10.8.0.0/16" }],
          },
          backupConfiguration: {
            enabled: true,
            startTime: "03:00",
            pointInTimeRecoveryEnabled: true,
            transactionLogRetentionDays: 7,
            backupRetentionSettings: { retainedBackups: 14 },
          },
          databaseFlags: [
            { name: "cloudsql.enable_pgaudit", value: "on" },
            { name: "log_connections", value: "on" },
            { name: "log_disconnections", value: "on" },
            { name: "log_min_messages", value: "warning" },
            { name: "log_min_error_statement", value: "error" },
          ],
        },
      },
      owner,
    ),
    at(
      T.redis,
      "avvivo-redis",
      {
        memorySizeGb: 2,
        tier: "STANDARD_HA",
        authEnabled: true,
        transitEncryptionMode: "SERVER_AUTHENTICATION",
      },
      owner,
    ),
    at(
      T.service,
      "avvivo-service",
      {
        name: "avvivo-api",
        location: "us-west2",
        template: { revision: CANDIDATE, serviceAccount: SA, containers: [container()] },
        traffics: [target(CANDIDATE, 10, "candidate"), target(FREEZE, 90), target(STABLE, 0, "rollback")],
      },
      owner,
    ),
    at(
      T.job,
      "avvivo-migrate-a1",
      { location: "us-west2", template: { template: { serviceAccount: SA, containers: [container()] } } },
      owner,
    ),
    at(
      T.runIamMember,
      "avvivo-public-invoker",
      { name: "avvivo-api", location: "us-west2", role: "roles/run.invoker", member: "allUsers" },
      owner,
    ),
    at(
      T.secretIamMember,
      "avvivo-database-url-access",
      {
        secretId: "avvivo-cloudsql-database-url",
        role: "roles/secretmanager.secretAccessor",
        member: `serviceAccount:${SA}`,
      },
      owner,
    ),
    at(
      T.profile,
      "avvivo-source",
      {
        connectionProfileId: "avvivo-source-a1",
        postgresql: {
          host: "db.hxbnqapwkzomvtel.supabase.co",
          port: 5432,
          username: "postgres",
          password: "not-a-real-password",
          ssl: { type: "SERVER_ONLY", caCertificate: FAKE_CA },
        },
      },
      owner,
    ),
    at(
      T.profile,
      "avvivo-destination",
      { connectionProfileId: "avvivo-dest-a1", postgresql: { cloudSqlId: "avvivo-prod-pg" } },
      owner,
    ),
    at(
      T.profile,
      "avvivo-dms-created-destination",
      {
        connectionProfileId: "avvivo-dms-dest-a1",
        cloudsql: {
          settings: {
            sourceId: "projects/avvivo-prod/locations/us-west2/connectionProfiles/avvivo-source-a1",
            ipConfig: {
              enableIpv4: false,
              privateNetwork: "projects/avvivo-prod/global/networks/avvivo-vpc",
              requireSsl: true,
            },
          },
        },
      },
      owner,
    ),
    at(
      T.dmsJob,
      "avvivo-dms-a1",
      {
        migrationJobId: "avvivo-dms-a1",
        type: "CONTINUOUS",
        source: "avvivo-source-a1",
        destination: "avvivo-dest-a1",
      },
      owner,
    ),
  ];
}

/** A deep copy of `value` with `path` (dot-separated, numeric segments index arrays) set or deleted. */
export function withPath<V>(value: V, path: string, replacement: unknown): V {
  // JSON, not structuredClone: under jest, structuredClone builds objects of another realm, which the
  // SDK's proxy (an `instanceof Object` check) would leave unwrapped.
  const copy = JSON.parse(JSON.stringify(value)) as Record<string, unknown>;
  const keys = path.split(".");
  let node = copy as Record<string, unknown>;
  for (const key of keys.slice(0, -1)) {
    if (node[key] === undefined) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  const last = keys[keys.length - 1];
  if (replacement === ABSENT) delete node[last];
  else node[last] = replacement;
  return copy as V;
}

/** The stack with one input of one resource (by Pulumi name) changed. */
export function changed(
  stack: PlannedResource[],
  resourceName: string,
  path: string,
  replacement: unknown,
): PlannedResource[] {
  if (!stack.some((r) => r.name === resourceName)) throw new Error(`fixture has no resource ${resourceName}`);
  return stack.map((r) =>
    r.name === resourceName ? { ...r, inputs: withPath(r.inputs, path, replacement) } : r,
  );
}

/** The stack plus one more resource. */
export function added(stack: PlannedResource[], type: string, name: string, inputs: Record<string, unknown>) {
  const s = stackOf(stack);
  return [...stack, { type, name, urn: urnOf(s, type, name), inputs }];
}

const stackOf = (stack: PlannedResource[]) => stack[0].urn.split("::")[0].split(":")[2];
