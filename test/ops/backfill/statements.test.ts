import fc from "fast-check";
import { buildUpserts, D1_LIMITS, statementBytes } from "../../../ops/backfill/statements";

const shape = {
  table: "cities",
  columns: ["id", "name", "updated_at"],
  primaryKey: ["id"],
};

describe("buildUpserts", () => {
  it("writes an idempotent upsert that replaces the row of its key whatever its updated_at, with NULLs inlined", () => {
    const [s] = buildUpserts(shape, [["1", null, "2026-01-01T00:00:00.000000Z"]]);
    expect(s.sql).toBe(
      'INSERT INTO "cities" ("id", "name", "updated_at") VALUES (?, NULL, ?) ON CONFLICT ("id") DO UPDATE SET ' +
        '"name" = excluded."name", "updated_at" = excluded."updated_at"',
    );
    expect(s.params).toEqual(["1", "2026-01-01T00:00:00.000000Z"]);
  });

  it("packs as many rows as 100 parameters allow", () => {
    const rows = Array.from({ length: 100 }, (_, i) => [String(i), `n${i}`, "t"]);
    const statements = buildUpserts(shape, rows);
    expect(statements.map((s) => s.params.length)).toEqual([99, 99, 99, 3]);
  });

  it("splits on bytes when rows are long", () => {
    const rows = Array.from({ length: 10 }, (_, i) => [String(i), "é".repeat(20_000), "t"]);
    const statements = buildUpserts(shape, rows);
    expect(statements.length).toBe(5); // 40 kB of text per row: two rows per 100 kB statement
    for (const s of statements) expect(statementBytes(s)).toBeLessThanOrEqual(D1_LIMITS.maxBytes);
  });

  it("keeps every row, in order, within both limits (property)", () => {
    const value = fc.option(fc.string({ unit: "grapheme", maxLength: 3000 }), { nil: null });
    fc.assert(
      fc.property(fc.array(fc.tuple(value, value), { maxLength: 200 }), (pairs) => {
        const rows = pairs.map(([a, b], i) => [String(i), a, b]);
        const statements = buildUpserts(shape, rows);
        for (const s of statements) {
          expect(s.params.length).toBeLessThanOrEqual(100);
          expect(statementBytes(s)).toBeLessThanOrEqual(100_000);
        }
        const bound = statements.flatMap((s) => s.params);
        expect(bound).toEqual(rows.flat().filter((v) => v !== null));
      }),
      { numRuns: 50 },
    );
  });

  it("refuses a row beyond D1's 2 MB row limit", () => {
    expect(() => buildUpserts(shape, [["1", "x".repeat(2_000_001), "t"]])).toThrow(
      /a row of cities has 3 non-NULL values and \d+ bytes, beyond D1's 100 parameters or 2000000 bytes per row; hint: leave large columns out of the D1 table/,
    );
  });
});
