/**
 * What a PostgreSQL connection reached, for gate evidence: host, port, database and the cluster's
 * system identifier (when the role may read `pg_control_system()`); never the user or password.
 */
import type { Client } from "pg";
import type { EndpointFingerprint } from "../../infra/engine/gates";

/** The cluster's system identifier, or undefined where this role may not read it (a managed server may revoke it). */
export async function readSystemIdentifier(client: Client): Promise<string | undefined> {
  try {
    const r = await client.query<{ id: string }>(
      "SELECT system_identifier::text AS id FROM pg_control_system()",
    );
    return r.rows[0]?.id;
  } catch {
    return undefined;
  }
}

export async function pgFingerprint(
  client: Client,
  role: EndpointFingerprint["role"],
): Promise<EndpointFingerprint> {
  const systemIdentifier = await readSystemIdentifier(client);
  return {
    role,
    host: client.host,
    port: client.port,
    database: client.database ?? "",
    ...(systemIdentifier ? { systemIdentifier } : {}),
  };
}
