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

/** Shell script of the one-off job: sequences first, then the app's schema migration. */
export function migrateJobScript(migrateCommand: readonly string[]): string {
  const quoted = migrateCommand.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(" ");
  return [
    "set -eu",
    'printf "%s" "$RESET_SEQUENCES_SQL" | npx prisma db execute --stdin --url "$DIRECT_URL"',
    quoted,
  ].join("\n");
}
