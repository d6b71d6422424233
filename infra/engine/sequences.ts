/**
 * DMS does not carry sequence positions: after promotion every sequence owned by a column (serial and
 * identity) is moved past the column's max, so the first insert on Cloud SQL cannot collide. Idempotent.
 */
export const RESET_SEQUENCES_SQL = `DO $$
DECLARE r record;
BEGIN
  FOR r IN
    SELECT s.oid::regclass AS seq, a.attrelid::regclass AS tbl, a.attname AS col
    FROM pg_class s
    JOIN pg_depend d ON d.objid = s.oid AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
    JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
    WHERE s.relkind = 'S'
  LOOP
    EXECUTE format('SELECT setval(%L, COALESCE((SELECT max(%I) FROM %s), 0) + 1, false)', r.seq, r.col, r.tbl);
  END LOOP;
END $$;`;

/**
 * DMS leaves the migrated objects owned through the `cloudsqlexternalsync` role ("to enable querying or
 * changing the data, grant the cloudsqlexternalsync role to the relevant Cloud SQL users", DMS for
 * PostgreSQL FAQ): the app user joins it, once. Idempotent; a no-op where the role does not exist.
 * It runs as the app user, which Cloud SQL creates with CREATEROLE (enough on PostgreSQL 15 and earlier).
 */
export const GRANT_MIGRATED_OBJECTS_SQL = `DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cloudsqlexternalsync')
     AND NOT pg_has_role(current_user, 'cloudsqlexternalsync', 'MEMBER') THEN
    EXECUTE format('GRANT cloudsqlexternalsync TO %I', current_user);
  END IF;
END $$;`;

/** DMS does not carry materialized-view data: every one is refreshed after promotion. Idempotent. */
export const REFRESH_MATERIALIZED_VIEWS_SQL = `DO $$
DECLARE r record;
BEGIN
  FOR r IN
    SELECT format('%I.%I', schemaname, matviewname) AS mv FROM pg_matviews
    WHERE schemaname NOT IN ('pg_catalog', 'information_schema')
  LOOP
    EXECUTE 'REFRESH MATERIALIZED VIEW ' || r.mv;
  END LOOP;
END $$;`;

/** The post-promotion fix-ups, in order: access to the migrated objects first, then what needs it. */
export const POST_PROMOTION_STEPS = [
  { name: "grant the app user the migrated objects (cloudsqlexternalsync)", sql: GRANT_MIGRATED_OBJECTS_SQL },
  { name: "reset sequences past each column's max", sql: RESET_SEQUENCES_SQL },
  { name: "refresh materialized views", sql: REFRESH_MATERIALIZED_VIEWS_SQL },
] as const;

/** All of them as one script (one session: the grant applies to the statements after it). */
export const POST_PROMOTION_SQL = POST_PROMOTION_STEPS.map((s) => s.sql).join("\n");

/** Shell script of the one-off job: the post-promotion fix-ups first, then the app's schema migration. */
export function migrateJobScript(migrateCommand: readonly string[]): string {
  const quoted = migrateCommand.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(" ");
  return [
    "set -eu",
    'printf "%s" "$POST_PROMOTION_SQL" | npx prisma db execute --stdin --url "$DIRECT_URL"',
    quoted,
  ].join("\n");
}
