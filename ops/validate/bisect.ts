/**
 * Checksum + bisection over primary-key ranges (the reladiff approach). A range whose checksums agree
 * on both sides is done with one query per side; a range that differs is split into `factor` parts by
 * the keys of the side holding more rows, until it is small enough to merge-compare row digests.
 * Memory is bounded: one recursion path of ranges, one page of rows, and at most `limit` keys per kind.
 */
import type { KeyComparator } from "./keys";
import { DifferenceSink } from "./keys";
import { mergeDigests } from "./merge";
import type { Checksum, Key, KeyRange, TableSide } from "./types";

export interface BisectOptions {
  /** A differing range is split into this many parts. */
  readonly factor: number;
  /** Ranges with at most this many rows (on the larger side) are compared row by row. */
  readonly leafRows: number;
  /** First pass: ranges of about this many rows, so each checksum query stays short. */
  readonly segmentRows: number;
  readonly compare: KeyComparator;
  readonly sink: DifferenceSink;
  /** Stop looking once this many differences are known (the rest of the table is not explored). */
  readonly stopAfter: number;
  /** Called with the number of source rows settled since the last call. */
  readonly onProgress?: (rows: number) => void;
}

export interface BisectResult {
  /** Ranges whose checksums were compared. */
  readonly rangesChecked: number;
  /** Ranges compared row by row. */
  readonly leaves: number;
  /** True when `stopAfter` cut the search short. */
  readonly truncated: boolean;
}

/** Splits `range` at ascending `points` into consecutive `(lo, hi]` ranges covering it exactly. */
export function subRanges(range: KeyRange, points: readonly Key[]): KeyRange[] {
  const bounds: (Key | undefined)[] = [range.lo, ...points, range.hi];
  return bounds.slice(1).map((hi, i) => ({ lo: bounds[i], hi }));
}

const same = (a: Checksum, b: Checksum) => a.count === b.count && a.sum === b.sum;

export async function bisectTable(
  source: TableSide,
  target: TableSide,
  counts: { readonly source: number; readonly target: number },
  opts: BisectOptions,
): Promise<BisectResult> {
  let rangesChecked = 0;
  let leaves = 0;
  let truncated = false;

  const largerSide = (s: number, t: number) =>
    s >= t ? { side: source, rows: s } : { side: target, rows: t };

  async function compareRows(range: KeyRange, sourceRows: number): Promise<void> {
    leaves++;
    await mergeDigests(source.digests(range), target.digests(range), opts.compare, opts.sink);
    opts.onProgress?.(sourceRows);
  }

  async function compareRange(range: KeyRange): Promise<void> {
    if (opts.sink.total >= opts.stopAfter) {
      truncated = true;
      return;
    }
    const [s, t] = await Promise.all([source.checksum(range), target.checksum(range)]);
    rangesChecked++;
    if (same(s, t)) {
      opts.onProgress?.(s.count);
      return;
    }
    const larger = largerSide(s.count, t.count);
    if (larger.rows <= opts.leafRows) return compareRows(range, s.count);
    const points = await larger.side.splitPoints(range, opts.factor, larger.rows);
    if (points.length === 0) return compareRows(range, s.count);
    for (const sub of subRanges(range, points)) await compareRange(sub);
  }

  const first = largerSide(counts.source, counts.target);
  const parts = Math.ceil(first.rows / opts.segmentRows);
  const points = parts > 1 ? await first.side.splitPoints({}, parts, first.rows) : [];
  for (const segment of subRanges({}, points)) await compareRange(segment);
  return { rangesChecked, leaves, truncated };
}
