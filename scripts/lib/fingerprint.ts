/**
 * What a PostgreSQL connection reached, for gate evidence: host, port, database and the cluster's
 * system identifier (when the role may read `pg_control_system()`); never the user or password.
 */
import type { Client } from "pg";
import type { EndpointFingerprint } from "../../infra/engine/gates";

export async function pgFingerprint(
  client: Client,
  role: EndpointFingerprint["role"],
): Promise<EndpointFingerprint> {
  let systemIdentifier: string | undefined;
  try {
    const r = await client.query<{ id: string }>(
      "SELECT system_identifier::text AS id FROM pg_control_system()",
    );
    systemIdentifier = r.rows[0]?.id;
  } catch {
    systemIdentifier = undefined; // revoked for this role: recorded as unknown
  }
  return {
    role,
    host: client.host,
    port: client.port,
    database: client.database ?? "",
    ...(systemIdentifier ? { systemIdentifier } : {}),
  };
}
