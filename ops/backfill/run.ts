/**
 * One table's backfill: plan the columns, resume from the checkpoint stored in D1, then copy keyset
 * pages; each page's upserts and the checkpoint that covers them go to D1 in one batch, so the
 * checkpoint never runs ahead of the data. Re-running copies only rows after the watermark.
 */
import type { Client } from "pg";
import {
  countAfter,
  describeTable,
  heldBack,
  readPage,
  runWindow,
  type HeldBack,
  type KeysetQuery,
  type RunWindow,
  type Side,
  type SourcePage,
  type Watermark,
} from "./source";
import { buildUpserts, quoteIdent, type Statement, type StatementLimits, D1_LIMITS } from "./statements";
import { UsageError } from "../lib/errors";
import type { D1Target } from "./targets";
import { toSqlite } from "./types";
import { withTableLock } from "./table-lock";

export interface TableSpec {
  readonly name: string;
  /** Schema of the table in the source. */
  readonly schema: string;
  readonly primaryKey: readonly string[];
  readonly updatedAtColumn: string;
}

export interface BackfillOptions {
  /** Rows per page (one D1 batch). */
  readonly batchRows: number;
  /**
   * Rows changed more recently than this are held back from the watermark (an open transaction may still
   * commit an older updated_at): they are copied ahead of it and read again by the next run.
   */
  readonly settleSeconds: number;
  /** Ignore the checkpoint and copy every row again (upserts keep it idempotent). */
  readonly full?: boolean;
  readonly limits?: StatementLimits;
  readonly onProgress?: (copied: number, total: number) => void;
}

export interface TableResult {
  readonly table: string;
  /** Rows copied by the keyset pass (the watermark moved past them). */
  readonly copied: number;
  /** Rows past the cutoff copied ahead of the watermark (see heldBack): the next run reads them again. */
  readonly ahead: number;
  readonly statements: number;
  readonly resumedFrom?: Watermark;
  readonly watermark?: Watermark;
  /** Why the watermark stopped before some rows (all of them copied ahead). */
  readonly heldBack: HeldBack;
  /** Rows after the watermark when the run ended: held back, or written since. */
  readonly pending: number;
}

export const CHECKPOINT_TABLE = "_cutover_backfill";
const TIMESTAMP_TYPES = ["timestamptz", "timestamp"];

/** Matches the D1 table's columns (which decide what moves) with the source's catalog. */
export async function planTable(source: Client, target: D1Target, spec: TableSpec): Promise<KeysetQuery> {
  const d1Columns = (await target.all(`PRAGMA table_info(${quoteIdent(spec.name)})`)).map((r) =>
    String(r.name),
  );
  if (d1Columns.length === 0) {
    throw new UsageError(
      `D1 table ${spec.name} does not exist in ${target.description}; hint: cutover data d1-schema (after adding it to d1/migrations)`,
    );
  }
  const pgColumns = await describeTable(source, spec.schema, spec.name);
  if (pgColumns.length === 0) {
    throw new UsageError(
      `table ${spec.schema}.${spec.name} not found in the source PostgreSQL; hint: check tables[].name and legacy.schema`,
    );
  }
  const byName = new Map(pgColumns.map((c) => [c.name, c]));
  const missing = d1Columns.filter((c) => !byName.has(c));
  if (missing.length) {
    throw new UsageError(
      `D1 table ${spec.name} has columns the source lacks: ${missing.join(", ")}; hint: the D1 schema (d1/migrations) decides which columns move — fix it or the source`,
    );
  }
  for (const key of [...spec.primaryKey, spec.updatedAtColumn]) {
    if (!d1Columns.includes(key)) {
      throw new UsageError(
        `column ${key} of ${spec.name} (primaryKey/updatedAtColumn) is not in the D1 table; hint: keyset order and upserts need it on both sides`,
      );
    }
  }
  const updatedAt = byName.get(spec.updatedAtColumn)!;
  if (!TIMESTAMP_TYPES.includes(updatedAt.type)) {
    throw new UsageError(
      `${spec.name}.${spec.updatedAtColumn} is ${updatedAt.sqlType}; hint: the watermark column must be a timestamp (set tables[].updatedAtColumn)`,
    );
  }
  return {
    schema: spec.schema,
    table: spec.name,
    columns: d1Columns.map((c) => byName.get(c)!),
    primaryKey: spec.primaryKey.map((k) => byName.get(k)!),
    updatedAt,
  };
}

export async function readCheckpoint(target: D1Target, table: string): Promise<Watermark | undefined> {
  let rows: Record<string, unknown>[];
  try {
    rows = await target.all(
      `SELECT watermark_updated_at AS u, watermark_key AS k FROM ${CHECKPOINT_TABLE} WHERE table_name = ?`,
      [table],
    );
  } catch (error) {
    if (!/no such table/i.test(String(error))) throw error;
    throw new UsageError(
      `${target.description} has no ${CHECKPOINT_TABLE} table; hint: cutover data d1-schema applies d1/migrations, which creates it`,
    );
  }
  return rows.length ? { updatedAt: String(rows[0].u), key: JSON.parse(String(rows[0].k)) } : undefined;
}

function checkpointStatement(table: string, at: Watermark, copied: number): Statement {
  return {
    sql:
      `INSERT INTO ${CHECKPOINT_TABLE} (table_name, watermark_updated_at, watermark_key, rows_copied, checkpointed_at) ` +
      `VALUES (?, ?, ?, ?, ?) ON CONFLICT (table_name) DO UPDATE SET watermark_updated_at = excluded.watermark_updated_at, ` +
      `watermark_key = excluded.watermark_key, rows_copied = ${CHECKPOINT_TABLE}.rows_copied + excluded.rows_copied, ` +
      `checkpointed_at = excluded.checkpointed_at`,
    params: [table, at.updatedAt, JSON.stringify(at.key), String(copied), new Date().toISOString()],
  };
}

export async function backfillTable(
  source: Client,
  target: D1Target,
  spec: TableSpec,
  opts: BackfillOptions,
): Promise<TableResult> {
  const q = await planTable(source, target, spec);
  return withTableLock(source, spec.name, () => copyPages(source, target, spec, q, opts));
}

async function copyPages(
  source: Client,
  target: D1Target,
  spec: TableSpec,
  q: KeysetQuery,
  opts: BackfillOptions,
): Promise<TableResult> {
  const resumedFrom = opts.full ? undefined : await readCheckpoint(target, spec.name);
  const window = await runWindow(source, opts.settleSeconds);
  const total = await countAfter(source, q, resumedFrom);
  const shape = { table: spec.name, columns: q.columns.map((c) => c.name), primaryKey: spec.primaryKey };
  const where = (c: string) => `${spec.name}.${c}`;
  let statements = 0;
  opts.onProgress?.(0, total);

  /** Copies one side of the cutoff page by page; only the settled side moves the checkpoint. */
  const copy: CopySide = async (side, start, done) => {
    const fetchPage = (from: Watermark | undefined) => {
      const page = readPage(source, q, from, window, side, opts.batchRows);
      page.catch(() => undefined); // awaited below; this only silences the prefetch while D1 works
      return page;
    };
    let at = start;
    let copied = 0;
    let next: Promise<SourcePage> = fetchPage(at);
    for (;;) {
      const page = await next;
      if (page.rows.length === 0 || !page.last) break;
      next = fetchPage(page.last); // read the following page while D1 writes this one
      const mapped = page.rows.map((row) =>
        row.map((v, i) => toSqlite(q.columns[i], v, where(q.columns[i].name))),
      );
      const upserts = buildUpserts(shape, mapped, opts.limits ?? D1_LIMITS);
      const checkpoint =
        side === "settled" ? [checkpointStatement(spec.name, page.last, page.rows.length)] : [];
      await target.batch([...upserts, ...checkpoint]);
      at = page.last;
      copied += page.rows.length;
      statements += upserts.length;
      opts.onProgress?.(done + copied, Math.max(total, done + copied));
    }
    await next.catch(() => undefined);
    return { at, copied };
  };
  return twoPasses(source, q, spec.name, window, resumedFrom, copy, () => statements);
}

/** One side of the cutoff copied page by page from `start`; `done` rows were copied before it. */
export type CopySide = (
  side: Side,
  start: Watermark | undefined,
  done: number,
) => Promise<{ at: Watermark | undefined; copied: number }>;

/**
 * A run's two passes, for either store: the settled keyset pass that moves the watermark, then the rows
 * held back past the cutoff (settling or future-dated) copied ahead of it, so that none is hidden.
 */
export async function twoPasses(
  source: Client,
  q: KeysetQuery,
  table: string,
  window: RunWindow,
  resumedFrom: Watermark | undefined,
  copy: CopySide,
  statements: () => number,
): Promise<TableResult> {
  const settled = await copy("settled", resumedFrom, 0);
  const held = await heldBack(source, q, settled.at, window);
  const ahead =
    held.settling + held.future ? await copy("beyond", settled.at, settled.copied) : { copied: 0 };
  const pending = await countAfter(source, q, settled.at);
  return {
    table,
    copied: settled.copied,
    ahead: ahead.copied,
    statements: statements(),
    resumedFrom,
    watermark: settled.at,
    heldBack: held,
    pending,
  };
}
