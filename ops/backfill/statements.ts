/**
 * Multi-row upserts sized to D1's limits: at most 100 bound parameters and 100 KB per statement.
 * The size budget counts the SQL text plus the bytes of every bound value (UTF-8), which is stricter
 * than D1 (it counts the SQL text only) and keeps each statement well inside one HTTP request.
 */
import type { SqliteValue } from "./types";

export interface Statement {
  readonly sql: string;
  readonly params: readonly string[];
}

export interface StatementLimits {
  readonly maxParams: number;
  readonly maxBytes: number;
}

export const D1_LIMITS: StatementLimits = { maxParams: 100, maxBytes: 100_000 };
/** D1's largest row: a row beyond it cannot be stored at all. */
export const D1_MAX_ROW_BYTES = 2_000_000;

export const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;

export function statementBytes(s: Statement): number {
  return Buffer.byteLength(s.sql) + s.params.reduce((n, p) => n + Buffer.byteLength(p), 0);
}

export interface UpsertShape {
  readonly table: string;
  readonly columns: readonly string[];
  readonly primaryKey: readonly string[];
}

/**
 * Splits rows into as few upserts as the limits allow, in order. NULLs are inlined, not bound. Each row
 * replaces the D1 row of its key whatever either updated_at says: the row read from legacy is the truth
 * (a "newer wins" guard would keep a stale row after a key swap, a re-insert with an older timestamp or
 * a corrected clock). A dual write that lands meanwhile is logged by the change capture, whose applier
 * runs after the backfill releases the table and writes legacy's state again.
 */
export function buildUpserts(
  shape: UpsertShape,
  rows: readonly (readonly SqliteValue[])[],
  limits: StatementLimits = D1_LIMITS,
): Statement[] {
  const t = quoteIdent(shape.table);
  const head = `INSERT INTO ${t} (${shape.columns.map(quoteIdent).join(", ")}) VALUES `;
  const updates = shape.columns
    .filter((c) => !shape.primaryKey.includes(c))
    .map((c) => `${quoteIdent(c)} = excluded.${quoteIdent(c)}`);
  const tail =
    ` ON CONFLICT (${shape.primaryKey.map(quoteIdent).join(", ")}) DO ` +
    (updates.length ? `UPDATE SET ${updates.join(", ")}` : "NOTHING");
  const fixedBytes = Buffer.byteLength(head) + Buffer.byteLength(tail);

  const statements: Statement[] = [];
  let tuples: string[] = [];
  let params: string[] = [];
  let bytes = fixedBytes;
  const flush = () => {
    if (tuples.length) statements.push({ sql: head + tuples.join(", ") + tail, params });
    tuples = [];
    params = [];
    bytes = fixedBytes;
  };
  for (const row of rows) {
    const bound = row.filter((v): v is string => v !== null);
    const tuple = `(${row.map((v) => (v === null ? "NULL" : "?")).join(", ")})`;
    const rowBytes = Buffer.byteLength(tuple) + 2 + bound.reduce((n, p) => n + Buffer.byteLength(p), 0);
    if (bound.length > limits.maxParams || rowBytes > D1_MAX_ROW_BYTES) {
      throw new Error(
        `a row of ${shape.table} has ${bound.length} non-NULL values and ${rowBytes} bytes, beyond D1's ${limits.maxParams} parameters or ${D1_MAX_ROW_BYTES} bytes per row; hint: leave large columns out of the D1 table`,
      );
    }
    if (
      tuples.length &&
      (params.length + bound.length > limits.maxParams || bytes + rowBytes > limits.maxBytes)
    ) {
      flush();
    }
    // A row larger than the budget on its own still goes alone: D1 limits the SQL text, which stays short.
    tuples.push(tuple);
    params.push(...bound);
    bytes += rowBytes;
  }
  flush();
  return statements;
}
