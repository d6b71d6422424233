/**
 * Merge-compares two key-ordered digest streams: the leaf step of the bisection and the whole of a
 * `--sample` check. Holds one row per side at a time.
 */
import type { KeyComparator } from "./keys";
import { DifferenceSink } from "./keys";
import type { RowDigest } from "./types";

export async function mergeDigests(
  source: AsyncIterable<RowDigest>,
  target: AsyncIterable<RowDigest>,
  compare: KeyComparator,
  sink: DifferenceSink,
): Promise<number> {
  const s = source[Symbol.asyncIterator]();
  const t = target[Symbol.asyncIterator]();
  let [a, b] = await Promise.all([s.next(), t.next()]);
  let seen = 0;
  while (!a.done || !b.done) {
    const order = a.done ? 1 : b.done ? -1 : compare(a.value.key, b.value.key);
    if (order < 0) {
      sink.add("missing", a.value.key);
      seen++;
      a = await s.next();
    } else if (order > 0) {
      sink.add("extra", (b.value as RowDigest).key);
      b = await t.next();
    } else {
      if (a.value.digest !== (b.value as RowDigest).digest) sink.add("changed", a.value.key);
      seen++;
      [a, b] = await Promise.all([s.next(), t.next()]);
    }
  }
  return seen;
}

/** Compares digests fetched by key (sampling): keys absent on the target are missing. */
export function compareByKey(
  keys: readonly (readonly string[])[],
  source: readonly RowDigest[],
  target: readonly RowDigest[],
  sink: DifferenceSink,
): void {
  const id = (k: readonly string[]) => JSON.stringify(k);
  const sourceByKey = new Map(source.map((r) => [id(r.key), r.digest]));
  const targetByKey = new Map(target.map((r) => [id(r.key), r.digest]));
  for (const key of keys) {
    const s = sourceByKey.get(id(key));
    if (s === undefined) continue; // deleted on the source since it was sampled
    const t = targetByKey.get(id(key));
    if (t === undefined) sink.add("missing", key);
    else if (t !== s) sink.add("changed", key);
  }
}
