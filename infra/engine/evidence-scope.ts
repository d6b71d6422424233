/**
 * What a migration's gate evidence must cover, from its own config: which files (one per store for a
 * dual-write validation), which tables, and which endpoints (host, port, database as the stack names
 * them). Evidence taken against other databases, or against some of the tables, does not open a gate.
 * Pure: the program hands the result to the ledger; `phase`, the plan and `advance` judge with it too.
 */
import type { CloudSqlMigration, DualWriteMigration, Migration } from "../config/schema";
import type { EndpointExpectation, EvidenceRequirement, EvidenceTrust } from "./gates";

/** A stack whose name starts with `prod` accepts only signed evidence (as it gets `protect`). */
export const isProdStack = (stack: string) => /^prod/.test(stack);

/** A PostgreSQL endpoint as the stack file names it. */
const named = (
  role: EndpointExpectation["role"],
  c: { host: string; port: number; database: string },
): EndpointExpectation => ({ role, host: c.host, port: c.port, database: c.database });

function cloudsqlRequirements(spec: CloudSqlMigration): EvidenceRequirement[] {
  // Cloud SQL's private address is known only once the instance exists: the database and port are.
  const target: EndpointExpectation = { role: "target", port: 5432, database: spec.source.database };
  return [
    {
      check: "validate",
      tables: [...spec.source.criticalTables],
      endpoints: [named("source", spec.source), target],
    },
  ];
}

function dualWriteRequirements(spec: DualWriteMigration): EvidenceRequirement[] {
  const legacy = named("source", spec.legacy);
  const target = named("target", spec.target);
  const account: EndpointExpectation = { role: "target", host: `cloudflare:${spec.cloudflare.accountId}` };
  const stores = [...new Set(spec.tables.map((t) => t.store))].sort();
  return [
    ...stores.map((store): EvidenceRequirement => ({
      check: "validate",
      store,
      tables: spec.tables.filter((t) => t.store === store).map((t) => t.name),
      // A D1 in the stack's own Cloudflare account (its id only the program's outputs know); never a local one.
      endpoints: [legacy, store === "d1" ? account : target],
    })),
    // The change log and its lag live on the legacy database: that is what the capture check reads.
    { check: "capture", endpoints: [legacy] },
    // Read from the stack's Cloudflare account with --remote: the comparison Worker's KV summary, the
    // D1 exports, the Workers' bindings. Local state opens none of these gates.
    { check: "compare", endpoints: [account] },
    { check: "export", endpoints: [account] },
    { check: "detached", endpoints: [account] },
  ];
}

/** The requirements of every gate check of the migration that has any (other checks: one file, no scope). */
export function evidenceRequirements(spec: Migration): EvidenceRequirement[] {
  switch (spec.kind) {
    case "cloudsql":
      return cloudsqlRequirements(spec);
    case "dual-write":
      return dualWriteRequirements(spec);
    default: {
      const unreachable: never = spec;
      throw new Error(`unknown migration kind ${JSON.stringify(unreachable)}`);
    }
  }
}

/** Whose evidence the stack's gates accept. */
export function evidenceTrust(spec: Migration, stack: string): EvidenceTrust {
  return {
    ...(spec.evidenceSignedBy ? { publicKey: spec.evidenceSignedBy } : {}),
    ...(isProdStack(stack) ? { signatureRequired: true } : {}),
  };
}
