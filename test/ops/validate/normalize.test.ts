import { Client } from "pg";
import { startPostgres, type PgServer } from "../../support/postgres";
import { canonicalDecimal, canonicalFloat } from "../../../ops/validate/decimal";
import { jsonbText } from "../../../ops/validate/jsonb-text";
import {
  canonicalTimestamp,
  encodeToken,
  normalizeValue,
  type SqliteValue,
} from "../../../ops/validate/normalize";
import { normalizedExpr, pgFamily, tokenExpr } from "../../../ops/validate/pg-sql";
import type { Column } from "../../../ops/validate/types";

jest.setTimeout(60_000);

describe("canonicalDecimal", () => {
  it.each([
    ["19.90", "19.9"],
    ["-0.000", "0"],
    ["+007.50", "7.5"],
    ["1e20", "100000000000000000000"],
    ["1.5E-3", "0.0015"],
    ["-12.3400e1", "-123.4"],
    [".5", "0.5"],
    ["NaN", "NaN"],
    ["abc", "abc"],
  ])("%s → %s", (input, expected) => expect(canonicalDecimal(input)).toBe(expected));

  it("keeps the scale like numeric_out when asked", () => {
    expect(canonicalDecimal("1.50", { keepScale: true })).toBe("1.50");
    expect(canonicalDecimal("1.5e1", { keepScale: true })).toBe("15");
    expect(canonicalDecimal("120e-1", { keepScale: true })).toBe("12.0");
  });

  it("rounds floats to 15 significant digits", () => {
    expect(canonicalFloat(0.1 + 0.2)).toBe("0.3");
    expect(canonicalFloat(-Infinity)).toBe("-Infinity");
  });
});

describe("canonicalTimestamp", () => {
  it.each([
    ["2026-03-01T12:34:56.789+02:00", "2026-03-01T10:34:56.789000Z"],
    ["2026-03-01 10:34:56", "2026-03-01T10:34:56.000000Z"],
    ["2026-03-01T10:34:56.123456789Z", "2026-03-01T10:34:56.123456Z"],
    ["1772361296789", "2026-03-01T10:34:56.789000Z"],
    ["1772361296", "2026-03-01T10:34:56.000000Z"],
    ["yesterday", "yesterday"],
  ])("%s → %s", (input, expected) => expect(canonicalTimestamp(input)).toBe(expected));
});

describe("jsonbText", () => {
  it("orders keys like jsonb (length, then bytes), keeps the last duplicate, rejects non-JSON", () => {
    expect(jsonbText('{"bb":1,"a":2,"c":{"y":[],"x":{}},"a":3}')).toBe(
      '{"a": 3, "c": {"x": {}, "y": []}, "bb": 1}',
    );
    expect(() => jsonbText("{nope}")).toThrow(SyntaxError);
  });
});

/** One value as PostgreSQL holds it and the forms D1 may hold it in; all must normalize alike. */
const CASES: { type: string; pg: string | null; d1: SqliteValue[] }[] = [
  { type: "boolean", pg: "true", d1: [1, "1", "true"] },
  { type: "boolean", pg: "false", d1: [0, "0"] },
  { type: "bigint", pg: "9007199254740993", d1: ["9007199254740993"] },
  { type: "integer", pg: "-42", d1: [-42, "-42"] },
  { type: "numeric(12,2)", pg: "19.90", d1: [19.9, "19.90", "19.9"] },
  { type: "numeric", pg: "100000000000000000000.000", d1: ["1e20", 1e20] },
  { type: "numeric", pg: "-0.0", d1: [0, "0"] },
  { type: "double precision", pg: "0.1", d1: [0.1, "0.1"] },
  { type: "double precision", pg: "1.5e-7", d1: [1.5e-7] },
  { type: "double precision", pg: "123456789.123456789", d1: [123456789.12345679] },
  { type: "real", pg: "3.25", d1: [3.25] },
  {
    type: "timestamptz",
    pg: "2026-03-01 12:34:56.789+02",
    d1: ["2026-03-01T10:34:56.789Z", "1772361296789", "2026-03-01 10:34:56.789", 1772361296.789],
  },
  { type: "timestamp(3)", pg: "2026-03-01 10:34:56.789", d1: ["2026-03-01T10:34:56.789Z"] },
  { type: "timestamptz", pg: "2026-03-01 10:34:56.123456+00", d1: ["2026-03-01T10:34:56.123456Z"] },
  { type: "date", pg: "2026-03-01", d1: ["2026-03-01", "2026-03-01T00:00:00Z"] },
  {
    type: "jsonb",
    pg: '{"b": 1, "a": [1.50, "x", 1e2], "aa": {"z": null, "y": true}}',
    d1: [
      '{"aa":{"y":true,"z":null},"a":[1.50,"x",100],"b":1}',
      '{"b":1,"a":[1.50,"x",1E+2],"aa":{"z":null,"y":true}}',
    ],
  },
  { type: "json", pg: '{"k": "ñ\\u0001\\"😀\\n", "k": 2}', d1: ['{"k":2}'] },
  { type: "jsonb", pg: '{"k": "ñ\\u0001\\"😀\\n"}', d1: [JSON.stringify({ k: 'ñ\u0001"😀\n' })] },
  { type: "text", pg: "ñandú 😀 中文 '|~:", d1: ["ñandú 😀 中文 '|~:"] },
  { type: "text", pg: "", d1: [""] },
  { type: "text", pg: null, d1: [null] },
  { type: "uuid", pg: "3f2504e0-4f89-11d3-9a0c-0305e82c3301", d1: ["3F2504E0-4F89-11D3-9A0C-0305E82C3301"] },
  { type: "bytea", pg: "\\x00ff10", d1: [new Uint8Array([0, 255, 16]), [0, 255, 16]] },
  { type: "text[]", pg: '{a,"b c",NULL}', d1: ['["a","b c",null]'] },
  { type: "integer[]", pg: "{1,2}", d1: ["[1, 2]"] },
];

describe("normalization matches between PostgreSQL (in SQL) and D1 values (in Node)", () => {
  let server: PgServer;
  let client: Client;
  beforeAll(async () => {
    server = await startPostgres();
    client = new Client({ connectionString: server.url });
    await client.connect();
  });
  afterAll(async () => {
    await client?.end();
    await server?.stop();
  });

  async function pgColumn(type: string): Promise<Column> {
    const { rows } = await client.query(
      `SELECT t.typname, t.typcategory FROM pg_type t WHERE t.oid = $1::regtype`,
      [type],
    );
    return { name: "v", sqlType: type, family: pgFamily(rows[0].typname, rows[0].typcategory) };
  }

  it.each(CASES)("$type $pg", async ({ type, pg, d1 }) => {
    const col = await pgColumn(type);
    const { rows } = await client.query(
      `SELECT ${tokenExpr(col)} AS token, ${normalizedExpr(col)} AS text FROM (SELECT $1::${type} AS v) s`,
      [pg],
    );
    for (const value of d1) {
      const text = value === null ? null : normalizeValue(col.family, value);
      expect({ value, text }).toEqual({ value, text: rows[0].text });
      expect(encodeToken(text)).toBe(rows[0].token);
    }
  });

  it("keeps NULL and the empty string apart, and a changed value differs", async () => {
    expect(encodeToken(null)).not.toBe(encodeToken(""));
    const col = await pgColumn("numeric");
    const { rows } = await client.query(
      `SELECT ${normalizedExpr(col)} AS text FROM (SELECT 19.91::numeric AS v) s`,
    );
    expect(normalizeValue("numeric", 19.9)).not.toBe(rows[0].text);
  });
});
