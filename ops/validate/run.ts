/**
 * Compares one table: shapes, row counts, then content — checksum + bisection over primary-key
 * ranges, a random sample (`--sample`), or a whole-table checksum when there is no primary key.
 */
import { bisectTable } from "./bisect";
import type { Database } from "./database";
import { ValidateError } from "./errors";
import { DifferenceSink, keyComparator } from "./keys";
import { compareByKey } from "./merge";
import { missingTable, reportOf, type Method, type TableReport } from "./table-report";
import { NativeComparison } from "./pg-native";
import type { Column, Key, TableShape } from "./types";

export interface CompareOptions {
  /** Random-row check of this many keys instead of the full content check. */
  readonly sample?: number;
  /**
   * With `sample`: keys that differ are read again after this many ms, and only those still differing
   * count (stores written live, as under dual writes, differ for the moment a write is in flight).
   */
  readonly recheckMs?: number;
  /** Keys kept per kind of difference; also where the search stops. */
  readonly maxDifferences: number;
  readonly factor: number;
  readonly segmentRows: number;
  /** Leaf size when both sides checksum in the database. */
  readonly leafRows: number;
  /** Leaf size of the comparison on the databases' own checksums. @default 4096 */
  readonly nativeLeafRows?: number;
  /** Check one slice of the key space (PostgreSQL on both sides). */
  readonly shard?: { readonly index: number; readonly count: number };
  readonly onStart?: (table: string, rows: number) => void;
  readonly onProgress?: (rows: number) => void;
  /** Where the table landed when the migration renamed it or its columns (a dual-write spec's mapping). */
  readonly mapping?: TableMapping;
}

/** The table's name on the target and its renamed columns (target name → source name). */
export interface TableMapping {
  readonly targetName?: string;
  readonly columns?: Readonly<Record<string, string>>;
}

/** The search settings of a comparison between a legacy table and its new store (Worker and rehearsal). */
export const STORE_SEARCH = { factor: 16, segmentRows: 5000, leafRows: 256 } as const;

/** A table's mapping as a dual-write spec (or the comparison spec rendered from it) names it. */
export function mappingOf(t: {
  readonly targetName?: string;
  readonly columns?: Readonly<Record<string, string>>;
}): TableMapping {
  return {
    ...(t.targetName ? { targetName: t.targetName } : {}),
    ...(t.columns ? { columns: t.columns } : {}),
  };
}

/** Both sides PostgreSQL with the same base type per column: the row text is comparable as printed. */
function sameTypes(a: readonly Column[], b: readonly Column[]): boolean {
  return a.every((c, i) => c.pg !== undefined && c.pg.typname === b[i].pg?.typname);
}

/** Each side normalizes with PostgreSQL's view of the column type: D1 declared types are too loose. */
function pairColumns(
  source: TableShape,
  target: TableShape,
  sourceIsPg: boolean,
  targetIsPg: boolean,
  renames: Readonly<Record<string, string>> = {},
) {
  // Keyed by the source column each target column holds: a renamed column pairs with its old name.
  const targetByName = new Map(target.columns.map((c) => [renames[c.name] ?? c.name, c]));
  const sourceNames = new Set(source.columns.map((c) => c.name));
  const sourceCols: Column[] = [];
  const targetCols: Column[] = [];
  for (const s of source.columns) {
    const t = targetByName.get(s.name);
    if (!t) continue;
    const pgView = sourceIsPg ? s : targetIsPg ? t : s;
    sourceCols.push(sourceIsPg ? s : { ...s, family: pgView.family });
    targetCols.push(targetIsPg ? t : { ...t, family: pgView.family });
  }
  return {
    sourceCols,
    targetCols,
    onlySource: source.columns.filter((c) => !targetByName.has(c.name)).map((c) => c.name),
    onlyTarget: target.columns.filter((c) => !sourceNames.has(renames[c.name] ?? c.name)).map((c) => c.name),
  };
}

export async function compareTable(
  table: string,
  source: Database,
  target: Database,
  opts: CompareOptions,
): Promise<TableReport> {
  const targetTable = opts.mapping?.targetName ?? table;
  const [sourceShape, targetShape] = await Promise.all([source.shape(table), target.shape(targetTable)]);
  if (!sourceShape) return missingTable(table, "source", source.label);
  if (!targetShape) return missingTable(targetTable, "target", target.label);

  const paired = pairColumns(
    sourceShape,
    targetShape,
    source.engine === "postgres",
    target.engine === "postgres",
    opts.mapping?.columns,
  );
  const notes: string[] = [];
  // With a migration's mapping, the new table decides what moves: legacy-only columns stay behind by design.
  const leftBehind = opts.mapping ? paired.onlySource : [];
  const cols = { ...paired, onlySource: opts.mapping ? [] : paired.onlySource };
  if (leftBehind.length)
    notes.push(`legacy columns the new table does not carry (by design): ${leftBehind.join(", ")}`);
  if (cols.onlySource.length || cols.onlyTarget.length)
    notes.push("columns differ: content compared on the columns both sides have");
  const primaryKey = sourceShape.primaryKey;
  const keyIndex = primaryKey.map((k) => cols.sourceCols.findIndex((c) => c.name === k));
  const keyMissing = keyIndex.some((i) => i < 0);
  const keysOf = (columns: Column[]) => keyIndex.map((i) => columns[i]);

  const native =
    source.native !== undefined &&
    target.native !== undefined &&
    primaryKey.length > 0 &&
    !keyMissing &&
    opts.sample === undefined &&
    sameTypes(cols.sourceCols, cols.targetCols) &&
    // The checksum SQL names each column once for both sides: renamed columns take the streaming path.
    cols.sourceCols.every((c, i) => c.name === cols.targetCols[i].name) &&
    targetTable === table;
  if (opts.shard && !native)
    throw new ValidateError(
      `--shard needs both sides on PostgreSQL, a primary key and the same column types (${table} has not)`,
      "validate this table without --shard",
    );
  if (native) {
    const sink = new DifferenceSink(opts.maxDifferences);
    const cmp = new NativeComparison(
      source.native!(table),
      target.native!(targetTable),
      keysOf(cols.sourceCols),
      cols.sourceCols,
      {
        leafRows: opts.nativeLeafRows ?? 4096,
        maxFanout: 4096,
        compare: keyComparator(keysOf(cols.sourceCols).map((c) => c.family)),
        sink,
        stopAfter: opts.maxDifferences,
        wholeRow:
          cols.sourceCols.length === sourceShape.columns.length &&
          cols.targetCols.length === targetShape.columns.length &&
          cols.targetCols.every((c, i) => targetShape.columns[i].name === c.name),
        shard: opts.shard,
        onProgress: opts.onProgress,
      },
    );
    opts.onStart?.(table, 0);
    const result = await cmp.run();
    return reportOf({
      table,
      method: "native-checksum",
      counts: result.counts,
      primaryKey,
      cols,
      sink,
      truncated: result.truncated,
      notes,
      ...(result.slice ? { slice: result.slice } : {}),
    });
  }

  const src = source.table(table, keysOf(cols.sourceCols), cols.sourceCols);
  const tgt = target.table(targetTable, keysOf(cols.targetCols), cols.targetCols);
  const [sourceRows, targetRows] = await Promise.all([src.count(), tgt.count()]);
  const counts = { source: sourceRows, target: targetRows };
  opts.onStart?.(table, sourceRows);

  const sink = new DifferenceSink(opts.maxDifferences);
  let method: Method;
  let truncated = false;
  let contentDiffers = false;
  let sampled: number | undefined;
  let inFlight: number | undefined;
  if (primaryKey.length === 0 || keyMissing) {
    method = "table-checksum";
    notes.push(
      primaryKey.length === 0
        ? "no primary key: compared by a whole-table checksum only, differing rows cannot be located; hint: add a primary key (DMS also carries only INSERTs for such tables)"
        : `primary key column(s) ${primaryKey.join(", ")} missing on the target: compared by a whole-table checksum only`,
    );
    const [a, b] = await Promise.all([src.tableChecksum(), tgt.tableChecksum()]);
    contentDiffers = a.count !== b.count || a.sum !== b.sum;
    opts.onProgress?.(sourceRows);
  } else if (opts.sample !== undefined) {
    method = "sample";
    const keys = await src.randomKeys(opts.sample);
    const differing = async (of: readonly Key[]) => {
      const [a, b] = await Promise.all([src.digestsOf(of), tgt.digestsOf(of)]);
      const found = new DifferenceSink(Number.MAX_SAFE_INTEGER);
      compareByKey(of, a, b, found);
      return found;
    };
    let found = await differing(keys);
    if (opts.recheckMs !== undefined && found.total > 0) {
      await new Promise((resolve) => setTimeout(resolve, opts.recheckMs));
      const first = found.total;
      found = await differing([...found.result.missing, ...found.result.changed]);
      inFlight = first - found.total;
    }
    for (const kind of ["missing", "changed"] as const) for (const k of found.result[kind]) sink.add(kind, k);
    sampled = keys.length;
    opts.onProgress?.(sourceRows);
  } else {
    method = "checksum-bisection";
    const bothInDb = src.hashesInDatabase && tgt.hashesInDatabase;
    // Without in-database hashing (D1) a differing segment is read once more, row by row, not bisected.
    const segmentRows = bothInDb ? opts.segmentRows : Math.min(opts.segmentRows, 5000);
    const result = await bisectTable(src, tgt, counts, {
      factor: opts.factor,
      leafRows: bothInDb ? opts.leafRows : segmentRows,
      segmentRows,
      compare: keyComparator(keysOf(cols.sourceCols).map((c) => c.family)),
      sink,
      stopAfter: opts.maxDifferences,
      onProgress: opts.onProgress,
    });
    truncated = result.truncated;
  }

  if (contentDiffers) notes.push("whole-table checksums differ");
  return reportOf({
    table,
    method,
    counts,
    primaryKey,
    cols,
    sink,
    truncated,
    notes,
    contentDiffers,
    sampled,
    inFlight,
  });
}

export type { Method, TableReport };
