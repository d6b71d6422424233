/**
 * PostgreSQL → PostgreSQL backfill (tables whose store is `supabase`): keyset pages in (updated_at,
 * primary key) order streamed with COPY from legacy into a text staging table on the new schema, then
 * one INSERT … ON CONFLICT DO UPDATE that renames columns as the spec maps them and casts each value to
 * the new column's type. Rows and checkpoint commit in one transaction: a kill loses at most the page in
 * flight, and the next run resumes after the last committed page.
 */
import { pipeline } from "node:stream/promises";
import type { Client } from "pg";
import { from as copyFrom, to as copyTo } from "pg-copy-streams";
import { UsageError } from "../lib/errors";
import {
  countAfter,
  describeTable,
  from,
  keysetFilter,
  orderKey,
  runWindow,
  type KeysetQuery,
  type Watermark,
} from "./source";
import { quoteIdent } from "./statements";
import { withTableLock } from "./table-lock";
import { canonicalExpression, type PgColumn } from "./types";
import { twoPasses, type BackfillOptions, type CopySide, type TableResult, type TableSpec } from "./run";

/** A legacy table and where it lands in the new schema. */
export interface PgTableSpec extends TableSpec {
  readonly targetSchema: string;
  /** Table name in the new schema (the legacy name unless renamed). */
  readonly targetName: string;
  /** Renamed columns: new name → legacy name. */
  readonly columns?: Readonly<Record<string, string>>;
}

/** How one table moves: legacy columns read, new columns written, in the same order. */
export interface PgCopyPlan {
  readonly spec: PgTableSpec;
  /** The legacy side, as the keyset reader needs it (columns in the new table's order). */
  readonly source: KeysetQuery;
  /** The new table's columns, position for position with `source.columns`. */
  readonly target: readonly PgColumn[];
  /** The new table's names of the primary key columns. */
  readonly targetKey: readonly string[];
}

const TIMESTAMP_TYPES = ["timestamptz", "timestamp"];
export const PG_CHECKPOINT_TABLE = "_cutover_backfill";

const qualified = (schema: string, table: string) => `${quoteIdent(schema)}.${quoteIdent(table)}`;

/** Matches the new table (which decides what moves) with the legacy catalog through the spec's mapping. */
export async function planPgTable(source: Client, target: Client, spec: PgTableSpec): Promise<PgCopyPlan> {
  const where = `${spec.targetSchema}.${spec.targetName}`;
  const newColumns = await describeTable(target, spec.targetSchema, spec.targetName);
  if (newColumns.length === 0) {
    throw new UsageError(
      `table ${where} does not exist in the new schema; hint: cutover data schema (after adding it to supabase-schema/migrations)`,
    );
  }
  const legacyColumns = await describeTable(source, spec.schema, spec.name);
  if (legacyColumns.length === 0) {
    throw new UsageError(
      `table ${spec.schema}.${spec.name} not found in the legacy PostgreSQL; hint: check tables[].name and legacy.schema`,
    );
  }
  const legacyByName = new Map(legacyColumns.map((c) => [c.name, c]));
  const newNames = new Set(newColumns.map((c) => c.name));
  const mapping = spec.columns ?? {};
  for (const [to, fromName] of Object.entries(mapping)) {
    if (!newNames.has(to))
      throw new UsageError(
        `tables[${spec.name}].columns maps ${to} ← ${fromName}, but ${where} has no column ${to}; hint: the keys are new column names`,
      );
    if (!legacyByName.has(fromName))
      throw new UsageError(
        `tables[${spec.name}].columns maps ${to} ← ${fromName}, but legacy ${spec.schema}.${spec.name} has no column ${fromName}; hint: the values are legacy column names`,
      );
  }
  const pairs: { legacy: PgColumn; target: PgColumn }[] = [];
  for (const column of newColumns) {
    const legacyName = mapping[column.name] ?? column.name;
    const legacy = legacyByName.get(legacyName);
    if (legacy) pairs.push({ legacy, target: column });
    // Even a nullable column: an unmapped rename would otherwise be copied as NULL, silently.
    else if (!column.hasDefault)
      throw new UsageError(
        `${where}.${column.name} has no legacy column ${legacyName} and no default; hint: map it in tables[].columns (${column.name}: <legacy column>) or give it a default in a schema migration`,
      );
  }
  const reverse = new Map(pairs.map((p) => [p.legacy.name, p.target.name]));
  const targetKey = spec.primaryKey.map((k) => {
    const name = reverse.get(k);
    if (!name)
      throw new UsageError(
        `primary key column ${k} of ${spec.name} does not reach ${where}; hint: keyset order and upserts need it on both sides`,
      );
    return name;
  });
  await requireUniqueKey(target, spec, targetKey);
  const updatedAt = legacyByName.get(spec.updatedAtColumn);
  if (!updatedAt || !TIMESTAMP_TYPES.includes(updatedAt.type)) {
    throw new UsageError(
      `${spec.name}.${spec.updatedAtColumn} is ${updatedAt ? updatedAt.sqlType : "missing"} in legacy; hint: the watermark column must be a timestamp (set tables[].updatedAtColumn)`,
    );
  }
  return {
    spec,
    source: {
      schema: spec.schema,
      table: spec.name,
      columns: pairs.map((p) => p.legacy),
      primaryKey: spec.primaryKey.map((k) => legacyByName.get(k)!),
      updatedAt,
    },
    target: pairs.map((p) => p.target),
    targetKey,
  };
}

/** ON CONFLICT needs a unique index on exactly the key columns. */
async function requireUniqueKey(target: Client, spec: PgTableSpec, key: readonly string[]): Promise<void> {
  const { rows } = await target.query(
    `SELECT 1 FROM pg_index i
       JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2 AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL
        AND (SELECT array_agg(a.attname::text ORDER BY a.attname) FROM pg_attribute a
              WHERE a.attrelid = c.oid AND a.attnum = ANY (i.indkey)) = (SELECT array_agg(k ORDER BY k) FROM unnest($3::text[]) k)`,
    [spec.targetSchema, spec.targetName, key],
  );
  if (rows.length === 0)
    throw new UsageError(
      `${spec.targetSchema}.${spec.targetName} has no primary key or unique index on (${key.join(", ")}); hint: declare it in supabase-schema/migrations, or set tables[].primaryKey`,
    );
}

/**
 * The upsert from text rows: renamed by position, each value cast to the new column's type. `rows` is a
 * FROM item aliased `s` with text columns c0…cn and an `ord` column (the staging table, or unnest()).
 */
export function upsertFrom(plan: PgCopyPlan, rows: string): string {
  const names = plan.target.map((c) => quoteIdent(c.name));
  const casts = plan.target.map((c, i) => `s.c${i}::${c.sqlType}`);
  const rest = plan.target.filter((c) => !plan.targetKey.includes(c.name)).map((c) => quoteIdent(c.name));
  const table = qualified(plan.spec.targetSchema, plan.spec.targetName);
  const onConflict = rest.length
    ? `DO UPDATE SET ${rest.map((n) => `${n} = excluded.${n}`).join(", ")} WHERE (${rest.map((n) => `t.${n}`).join(", ")}) IS DISTINCT FROM (${rest.map((n) => `excluded.${n}`).join(", ")})`
    : "DO NOTHING";
  return `INSERT INTO ${table} AS t (${names.join(", ")}) SELECT ${casts.join(", ")} FROM ${rows} ORDER BY s.ord ON CONFLICT (${plan.targetKey.map(quoteIdent).join(", ")}) ${onConflict}`;
}

export async function readPgCheckpoint(target: Client, spec: PgTableSpec): Promise<Watermark | undefined> {
  try {
    const { rows } = await target.query(
      `SELECT watermark_updated_at AS u, watermark_key AS k FROM ${qualified(spec.targetSchema, PG_CHECKPOINT_TABLE)} WHERE table_name = $1`,
      [spec.name],
    );
    return rows.length ? { updatedAt: String(rows[0].u), key: rows[0].k as string[] } : undefined;
  } catch (error) {
    if ((error as { code?: string }).code !== "42P01") throw error;
    throw new UsageError(
      `the new schema ${spec.targetSchema} has no ${PG_CHECKPOINT_TABLE} table; hint: cutover data schema applies supabase-schema/migrations, which creates it`,
    );
  }
}

/** Copies one table into the new schema, page by page, resuming from its checkpoint. */
export async function backfillPgTable(
  source: Client,
  target: Client,
  spec: PgTableSpec,
  opts: BackfillOptions,
): Promise<TableResult> {
  const plan = await planPgTable(source, target, spec);
  return withTableLock(source, spec.name, () => copyPages(source, target, plan, opts));
}

async function copyPages(
  source: Client,
  target: Client,
  plan: PgCopyPlan,
  opts: BackfillOptions,
): Promise<TableResult> {
  const { spec, source: q } = plan;
  const resumedFrom = opts.full ? undefined : await readPgCheckpoint(target, spec);
  const window = await runWindow(source, opts.settleSeconds);
  const total = await countAfter(source, q, resumedFrom);
  const stage = quoteIdent(`_cutover_stage_${spec.name}`);
  const key = orderKey(q);
  const stageColumns = [
    "ord bigint",
    ...key.map((_, i) => `k${i} text`),
    ...plan.target.map((_, i) => `c${i} text`),
  ];
  await target.query(
    `CREATE TEMP TABLE IF NOT EXISTS ${stage} (${stageColumns.join(", ")}) ON COMMIT DELETE ROWS`,
  );
  const upsert = upsertFrom(plan, `${stage} s`);
  const checkpoint =
    `INSERT INTO ${qualified(spec.targetSchema, PG_CHECKPOINT_TABLE)} AS c (table_name, watermark_updated_at, watermark_key, rows_copied, checkpointed_at) ` +
    `SELECT $1::text, k0, to_jsonb(ARRAY[${key
      .slice(1)
      .map((_, i) => `k${i + 1}`)
      .join(", ")}]::text[]), $2::bigint, now() FROM ${stage} ORDER BY ord DESC LIMIT 1 ` +
    `ON CONFLICT (table_name) DO UPDATE SET watermark_updated_at = excluded.watermark_updated_at, watermark_key = excluded.watermark_key, ` +
    `rows_copied = c.rows_copied + excluded.rows_copied, checkpointed_at = excluded.checkpointed_at RETURNING watermark_updated_at AS u, watermark_key AS k`;
  const last = `SELECT k0 AS u, to_jsonb(ARRAY[${key
    .slice(1)
    .map((_, i) => `k${i + 1}`)
    .join(", ")}]::text[]) AS k FROM ${stage} ORDER BY ord DESC LIMIT 1`;

  let statements = 0;
  opts.onProgress?.(0, total);
  /** Copies one side of the cutoff page by page; only the settled side moves the checkpoint. */
  const copy: CopySide = async (side, start, done) => {
    let at = start;
    let copied = 0;
    for (;;) {
      const f = keysetFilter(q, at, window, side, (v) => source.escapeLiteral(v));
      const select = [
        `row_number() OVER (ORDER BY ${f.orderBy})`,
        ...key.map((k, i) => `${k}::text AS k${i}`),
        ...q.columns.map((c) => canonicalExpression(c, quoteIdent(c.name))),
      ];
      const read = `COPY (SELECT ${select.join(", ")} FROM ${from(q)} WHERE ${f.where} ORDER BY ${f.orderBy} LIMIT ${Math.floor(opts.batchRows)}) TO STDOUT`;
      await target.query("BEGIN");
      try {
        await pipeline(source.query(copyTo(read)), target.query(copyFrom(`COPY ${stage} FROM STDIN`)));
        const { rows: count } = await target.query(`SELECT count(*)::int AS n FROM ${stage}`);
        const n = count[0].n as number;
        if (n === 0) {
          await target.query("ROLLBACK");
          break;
        }
        await target.query(upsert);
        const { rows } =
          side === "settled" ? await target.query(checkpoint, [spec.name, n]) : await target.query(last);
        await target.query("COMMIT");
        at = { updatedAt: String(rows[0].u), key: rows[0].k as string[] };
        copied += n;
        statements += side === "settled" ? 3 : 2;
        opts.onProgress?.(done + copied, Math.max(total, done + copied));
      } catch (error) {
        await target.query("ROLLBACK").catch(() => undefined);
        throw error;
      }
    }
    return { at, copied };
  };
  return twoPasses(source, q, spec.name, window, resumedFrom, copy, () => statements);
}
