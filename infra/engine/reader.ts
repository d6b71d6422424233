/**
 * The validation job's identity on Cloud SQL before promotion. DMS leaves the migrated objects owned
 * through `cloudsqlexternalsync`, and only its members may query them ("to enable querying or changing
 * the data, grant the cloudsqlexternalsync role to the relevant Cloud SQL users", DMS for PostgreSQL
 * FAQ); membership is ownership, so reading and writing. The validation job gets neither: a plain role,
 * `cutover_validator`, with LOGIN and SELECT on the migrated tables (USAGE on their schemas), granted by
 * the app user acting as the owner for the length of one transaction. A user made through the Cloud SQL
 * API would join cloudsqlsuperuser; this one is made in SQL and has nothing else.
 *
 * Its password reaches the database only as a SCRAM-SHA-256 verifier (RFC 5802/7677, the form
 * PostgreSQL stores): the statement may be logged, the password is not in it.
 */
import { createHash, createHmac, pbkdf2Sync } from "node:crypto";

export const READER_ROLE = "cutover_validator";

/** The SCRAM-SHA-256 verifier PostgreSQL stores for `password` (`SCRAM-SHA-256$<iter>:<salt>$<stored>:<server>`). */
export function scramVerifier(password: string, salt: Buffer, iterations = 4096): string {
  const salted = pbkdf2Sync(password.normalize("NFKC"), salt, iterations, 32, "sha256");
  const clientKey = createHmac("sha256", salted).update("Client Key").digest();
  const storedKey = createHash("sha256").update(clientKey).digest();
  const serverKey = createHmac("sha256", salted).update("Server Key").digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString("base64")}$${storedKey.toString("base64")}:${serverKey.toString("base64")}`;
}

const ROLE_ATTRIBUTES = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT";
/** What a CREATEROLE user may restate on an existing role (the superuser-only attributes it never had). */
const RESET_ATTRIBUTES = "LOGIN NOCREATEDB NOCREATEROLE NOINHERIT";

/**
 * Creates (or resets) the reader with the given verifier and grants it SELECT on every table, view and
 * sequence of the migrated schemas, nothing else. Run as the app user (CREATEROLE, as Cloud SQL makes
 * users): it joins `cloudsqlexternalsync` only if it was not a member, grants as the owner, and leaves
 * again. Idempotent; re-run before each validation so tables that appeared since are covered.
 */
export function readerGrantSql(verifier: string): string {
  if (!/^SCRAM-SHA-256\$\d+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/.test(verifier))
    throw new Error("expected a SCRAM-SHA-256 verifier");
  return `DO $$
DECLARE
  joined boolean := false;
  s text;
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${READER_ROLE}') THEN
    EXECUTE 'ALTER ROLE ${READER_ROLE} WITH ${RESET_ATTRIBUTES} PASSWORD ''${verifier}''';
  ELSE
    EXECUTE 'CREATE ROLE ${READER_ROLE} WITH ${ROLE_ATTRIBUTES} PASSWORD ''${verifier}''';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cloudsqlexternalsync')
     AND NOT pg_has_role(current_user, 'cloudsqlexternalsync', 'MEMBER') THEN
    EXECUTE format('GRANT cloudsqlexternalsync TO %I', current_user);
    joined := true;
  END IF;
  FOR s IN
    SELECT DISTINCT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
      AND n.nspname NOT IN ('information_schema', 'pglogical') AND n.nspname NOT LIKE 'pg\\_%'
  LOOP
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO ${READER_ROLE}', s);
    EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO ${READER_ROLE}', s);
    EXECUTE format('GRANT SELECT ON ALL SEQUENCES IN SCHEMA %I TO ${READER_ROLE}', s);
  END LOOP;
  IF joined THEN
    EXECUTE format('REVOKE cloudsqlexternalsync FROM %I', current_user);
  END IF;
END $$;`;
}

/** The reader-grant job's shell script: the SQL (from Secret Manager) through the app image's Prisma. */
export const READER_JOB_SCRIPT =
  'set -eu\nprintf "%s" "$READER_GRANT_SQL" | npx prisma db execute --stdin --url "$DIRECT_URL"';
