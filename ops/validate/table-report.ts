/**
 * What validate says of one table (the report every output renders), and how it is made: from what a
 * comparison found, or for a table missing on a side.
 */
import { formatKey, type DifferenceSink } from "./keys";
import type { ShardSlice } from "./pg-native";
import type { DifferenceKind } from "./types";

export type Method = "native-checksum" | "checksum-bisection" | "sample" | "table-checksum" | "none";

export interface TableReport {
  readonly table: string;
  /** The table is not on the source: nothing to validate (the run cannot give a verdict). */
  readonly missingOnSource?: true;
  readonly identical: boolean;
  readonly method: Method;
  readonly counts?: { readonly source: number; readonly target: number };
  readonly primaryKey: readonly string[];
  readonly columnsOnlyInSource: readonly string[];
  readonly columnsOnlyInTarget: readonly string[];
  /** Formatted keys, at most `maxDifferences` per kind. */
  readonly differences: Record<DifferenceKind, string[]>;
  readonly totals: Record<DifferenceKind, number>;
  /** The search stopped at `maxDifferences`: more rows may differ. */
  readonly truncated: boolean;
  /** Things the operator must know (missing table, no primary key, …). */
  readonly notes: readonly string[];
  readonly sampled?: number;
  /** With `recheckMs`: sampled keys that differed once and were equal when read again. */
  readonly inFlight?: number;
  /** The slice of the key space this run checked (`--shard`). */
  readonly slice?: ShardSlice;
}

const NONE = { missing: [], extra: [], changed: [] };
const ZERO = { missing: 0, extra: 0, changed: 0 };

export function missingTable(table: string, where: string, label: string): TableReport {
  return {
    table,
    ...(where === "source" ? { missingOnSource: true } : {}),
    identical: false,
    method: "none",
    primaryKey: [],
    columnsOnlyInSource: [],
    columnsOnlyInTarget: [],
    differences: NONE,
    totals: ZERO,
    truncated: false,
    notes: [`table not found on the ${where} (${label}); hint: check the name (case-sensitive) and --schema`],
  };
}

/** A table's report from what its comparison found: identical only if nothing at all differs. */
export function reportOf(r: {
  table: string;
  method: Method;
  counts: { source: number; target: number };
  primaryKey: readonly string[];
  cols: { onlySource: string[]; onlyTarget: string[] };
  sink: DifferenceSink;
  truncated: boolean;
  notes: string[];
  contentDiffers?: boolean;
  sampled?: number;
  inFlight?: number;
  slice?: ShardSlice;
}): TableReport {
  const format = (keys: readonly (readonly string[])[]) => keys.map((k) => formatKey(r.primaryKey, k));
  return {
    table: r.table,
    identical:
      r.counts.source === r.counts.target &&
      r.sink.total === 0 &&
      !r.contentDiffers &&
      r.cols.onlySource.length === 0 &&
      r.cols.onlyTarget.length === 0,
    method: r.method,
    counts: r.counts,
    primaryKey: r.primaryKey,
    columnsOnlyInSource: r.cols.onlySource,
    columnsOnlyInTarget: r.cols.onlyTarget,
    differences: {
      missing: format(r.sink.result.missing),
      extra: format(r.sink.result.extra),
      changed: format(r.sink.result.changed),
    },
    totals: { ...r.sink.result.totals },
    truncated: r.truncated,
    notes: r.notes,
    ...(r.sampled !== undefined ? { sampled: r.sampled } : {}),
    ...(r.inFlight !== undefined ? { inFlight: r.inFlight } : {}),
    ...(r.slice ? { slice: r.slice } : {}),
  };
}
