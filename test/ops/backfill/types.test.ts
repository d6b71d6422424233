import { selectExpression, toSqlite, TypeMappingError, type PgColumn } from "../../../ops/backfill/types";

const col = (type: string, category = "S"): PgColumn => ({
  name: "c",
  type,
  category,
  sqlType: type,
  notNull: false,
});

describe("toSqlite", () => {
  it.each([
    { type: "bool", raw: "t", out: "1" },
    { type: "bool", raw: "f", out: "0" },
    { type: "int8", raw: "9223372036854775807", out: "9223372036854775807" },
    { type: "float8", raw: "-23.550465", out: "-23.550465" },
    { type: "float8", raw: "1e+300", out: "1e+300" },
    { type: "numeric", raw: "12345678901234567890.0001", out: "12345678901234567890.0001" },
    { type: "timestamptz", raw: "2026-03-01 12:00:00+00", out: "2026-03-01T12:00:00.000000Z" },
    { type: "timestamptz", raw: "2026-03-01 12:00:00.5+00", out: "2026-03-01T12:00:00.500000Z" },
    { type: "timestamptz", raw: "2026-03-01 12:00:00.123456+00", out: "2026-03-01T12:00:00.123456Z" },
    { type: "timestamptz", raw: "infinity", out: "infinity" },
    { type: "timestamp", raw: "2026-03-01 12:00:00.25", out: "2026-03-01T12:00:00.250000" },
    { type: "date", raw: "2026-03-01", out: "2026-03-01" },
    { type: "jsonb", raw: '{"a": [1, "ñ"]}', out: '{"a": [1, "ñ"]}' },
    { type: "text", raw: "Zürich 🚗 東京 'x' \"y\" \\ \n", out: "Zürich 🚗 東京 'x' \"y\" \\ \n" },
    {
      type: "uuid",
      raw: "6f1c0e0e-0000-4000-8000-000000000000",
      out: "6f1c0e0e-0000-4000-8000-000000000000",
    },
    { type: "text", raw: null, out: null },
    { type: "bool", raw: null, out: null },
  ])("$type $raw → $out", ({ type, raw, out }) => {
    expect(toSqlite(col(type), raw, "cities.c")).toBe(out);
  });

  it("keeps text order equal to time order for timestamps", () => {
    const raws = [
      "2026-03-01 12:00:00+00",
      "2026-03-01 12:00:00.000001+00",
      "2026-03-01 12:00:00.5+00",
      "2026-03-01 12:00:01+00",
    ];
    const mapped = raws.map((r) => toSqlite(col("timestamptz"), r, "t.c") as string);
    expect([...mapped].sort()).toEqual(mapped);
  });

  it.each(["NaN", "Infinity", "-Infinity"])("refuses float %s, naming the column", (raw) => {
    expect(() => toSqlite(col("float8"), raw, "cities.latitude")).toThrow(
      `cities.latitude: ${raw} has no SQLite REAL equivalent; hint: store NULL in the source, or map it in a view`,
    );
  });

  it("refuses a timestamp that is not UTC ISO output", () => {
    expect(() => toSqlite(col("timestamptz"), "2026-03-01 12:00:00-03", "cities.updated_at")).toThrow(
      /cities.updated_at: timestamp "2026-03-01 12:00:00-03" is outside years 0001-9999 or not in UTC; hint: the source session must run with TimeZone UTC/,
    );
  });
});

describe("selectExpression", () => {
  it("turns arrays and composites into JSON text", () => {
    expect(selectExpression(col("_text", "A"), '"tags"')).toBe('to_jsonb("tags")::text');
    expect(selectExpression(col("text"), '"name"')).toBe('"name"');
  });

  it("refuses bytea with a hint", () => {
    expect(() => selectExpression({ ...col("bytea"), name: "logo" }, '"logo"')).toThrow(TypeMappingError);
    expect(() => selectExpression({ ...col("bytea"), name: "logo" }, '"logo"')).toThrow(
      "column logo is bytea, which D1's HTTP API cannot bind; hint: leave it out of the D1 table",
    );
  });
});
