/**
 * PostgreSQL → SQLite (D1) value mapping. Values arrive as PostgreSQL's own text output (the source
 * session runs with TimeZone UTC and DateStyle ISO) and leave as text or NULL: D1's HTTP API binds
 * strings only, and the D1 column's type affinity turns "42" into INTEGER 42 and "1.5" into REAL.
 */

/** A source column as the catalog describes it. */
export interface PgColumn {
  readonly name: string;
  /** Base type name (domains resolved), e.g. int8, timestamptz, jsonb. */
  readonly type: string;
  /** pg_type.typcategory: A array, C composite, E enum, … */
  readonly category: string;
  /** format_type() text, used to cast keyset parameters, e.g. "timestamp with time zone". */
  readonly sqlType: string;
  readonly notNull: boolean;
  /** The column has a DEFAULT (read from the catalog; absent where a column is built by hand). */
  readonly hasDefault?: boolean;
}

export type SqliteValue = string | null;

/** Thrown when a value or a type cannot be carried to D1 faithfully. */
export class TypeMappingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TypeMappingError";
  }
}

/** How each PostgreSQL type lands in D1 (the README table is generated from the same facts). */
export const TYPE_MAPPING: readonly { pg: string; sqlite: string; how: string }[] = [
  {
    pg: "smallint, integer, bigint",
    sqlite: "INTEGER",
    how: "digits as text; INTEGER affinity stores them exactly (64-bit)",
  },
  { pg: "boolean", sqlite: "INTEGER", how: "1 / 0" },
  { pg: "real, double precision", sqlite: "REAL", how: "shortest exact text; NaN and ±Infinity are refused" },
  { pg: "numeric", sqlite: "TEXT", how: "exact decimal digits (a REAL column would round)" },
  { pg: "timestamptz", sqlite: "TEXT", how: "UTC, fixed width: 2026-03-01T12:00:00.000000Z" },
  { pg: "timestamp", sqlite: "TEXT", how: "fixed width, no zone: 2026-03-01T12:00:00.000000" },
  {
    pg: "date, time, interval, uuid, text, varchar, enums",
    sqlite: "TEXT",
    how: "PostgreSQL's text, unchanged (any Unicode)",
  },
  {
    pg: "char(n)",
    sqlite: "TEXT",
    how: "without its trailing blanks, as PostgreSQL's char → text cast gives it (they carry no meaning in char(n))",
  },
  {
    pg: "json, jsonb",
    sqlite: "TEXT",
    how: "the JSON text (jsonb normalised by PostgreSQL); query with json_extract",
  },
  { pg: "arrays, composite types", sqlite: "TEXT", how: "JSON via to_jsonb()" },
  { pg: "NULL (any type)", sqlite: "NULL", how: "written as a NULL literal, never a bound parameter" },
  { pg: "bytea", sqlite: "-", how: "refused: D1's HTTP API cannot bind blobs" },
];

const TIMESTAMP = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?(\+00)?$/;

/**
 * The canonical text of a column's value, for every path that copies or compares it: char(n) loses its
 * trailing blanks (PostgreSQL's own char → text cast, under which 'SP' and 'SP ' are equal), so the
 * backfill, the change capture and validate agree whatever the new store's type; the rest is the type's
 * own output.
 */
export function canonicalExpression(column: PgColumn, quoted: string): string {
  return column.type === "bpchar" ? `${quoted}::text` : quoted;
}

/** The SELECT expression for a column going to D1: arrays and composites leave PostgreSQL as JSON text. */
export function selectExpression(column: PgColumn, quoted: string): string {
  if (column.type === "bytea") {
    throw new TypeMappingError(
      `column ${column.name} is bytea, which D1's HTTP API cannot bind; hint: leave it out of the D1 table, or store encode(${column.name}, 'base64') in a text column`,
    );
  }
  return column.category === "A" || column.category === "C"
    ? `to_jsonb(${quoted})::text`
    : canonicalExpression(column, quoted);
}

function timestampText(raw: string, withZone: boolean, where: string): string {
  if (raw === "infinity" || raw === "-infinity") return raw;
  const m = TIMESTAMP.exec(raw);
  if (!m || (withZone && m[4] === undefined)) {
    throw new TypeMappingError(
      `${where}: timestamp ${JSON.stringify(raw)} is outside years 0001-9999 or not in UTC; hint: the source session must run with TimeZone UTC and DateStyle ISO`,
    );
  }
  // Six fractional digits always: fixed width makes text order equal time order in SQLite.
  return `${m[1]}T${m[2]}.${(m[3] ?? "").padEnd(6, "0")}${withZone ? "Z" : ""}`;
}

/** Maps one value; `where` (table.column) names the culprit in errors. */
export function toSqlite(column: PgColumn, raw: string | null, where: string): SqliteValue {
  if (raw === null) return null;
  switch (column.type) {
    case "bool":
      return raw === "t" ? "1" : "0";
    case "float4":
    case "float8":
      if (!/^-?[0-9]/.test(raw)) {
        throw new TypeMappingError(
          `${where}: ${raw} has no SQLite REAL equivalent; hint: store NULL in the source, or map it in a view`,
        );
      }
      return raw;
    case "timestamptz":
      return timestampText(raw, true, where);
    case "timestamp":
      return timestampText(raw, false, where);
    default:
      return raw;
  }
}
