import type { RecordedResource } from "./synth";

/** Resource types whose deletion or replacement loses data. */
export const STATEFUL_TYPES: ReadonlySet<string> = new Set([
  "gcp:sql/databaseInstance:DatabaseInstance",
  "gcp:sql/database:Database",
  "gcp:sql/user:User",
  "gcp:redis/instance:Instance",
  "gcp:secretmanager/secret:Secret",
  "random:index/randomPassword:RandomPassword",
  "cloudflare:index/d1Database:D1Database",
  "cloudflare:index/workersKvNamespace:WorkersKvNamespace",
]);

/**
 * Inputs that force a replacement when they change, per type (from the providers' schemas: create-only
 * fields). Offline there is no provider to ask, so the plan and the tests read this table.
 */
export const REPLACE_ON_CHANGE: Readonly<Record<string, readonly string[]>> = {
  "gcp:sql/databaseInstance:DatabaseInstance": ["name", "project", "region"],
  "gcp:sql/database:Database": ["name", "instance", "project"],
  "gcp:sql/user:User": ["name", "instance", "project"],
  "gcp:redis/instance:Instance": [
    "name",
    "project",
    "region",
    "tier",
    "transitEncryptionMode",
    "connectMode",
    "authorizedNetwork",
  ],
  "gcp:secretmanager/secret:Secret": ["secretId", "project", "replication"],
  "random:index/randomPassword:RandomPassword": ["length", "special"],
  "gcp:databasemigrationservice/migrationJob:MigrationJob": [
    "migrationJobId",
    "type",
    "source",
    "destination",
    "objectsConfig",
  ],
  "cloudflare:index/d1Database:D1Database": ["name", "accountId", "primaryLocationHint"],
  "cloudflare:index/workersKvNamespace:WorkersKvNamespace": ["accountId"],
};

function at(obj: unknown, path: string): unknown {
  return path.split(".").reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], obj);
}

/** The create-only inputs that differ between two registrations of the same resource. */
export function replacingChanges(before: RecordedResource, after: RecordedResource): string[] {
  return (REPLACE_ON_CHANGE[after.type] ?? []).filter(
    (f) => JSON.stringify(at(before.inputs, f)) !== JSON.stringify(at(after.inputs, f)),
  );
}
