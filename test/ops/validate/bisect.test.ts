import fc from "fast-check";
import { bisectTable, subRanges } from "../../../ops/validate/bisect";
import { DifferenceSink, keyComparator, type KeyComparator } from "../../../ops/validate/keys";
import { hash60, md5Hex } from "../../../ops/validate/normalize";
import type { Checksum, Key, KeyRange, RowDigest, TableSide } from "../../../ops/validate/types";

/** The adapter contract over a sorted in-memory table, counting queries so tests can check the cost. */
class MemorySide implements TableSide {
  readonly hashesInDatabase = true;
  queries = 0;
  private readonly rows: RowDigest[];
  constructor(
    rows: Map<string, string>,
    private readonly compare: KeyComparator,
    toKey: (k: string) => Key,
  ) {
    // The row text includes the key columns, as in the real adapters: values swapped between keys differ.
    this.rows = [...rows].map(([k, v]) => ({ key: toKey(k), digest: md5Hex(`${k}|${v}`) }));
    this.rows.sort((a, b) => compare(a.key, b.key));
  }
  private inRange(r: KeyRange): RowDigest[] {
    return this.rows.filter(
      (row) =>
        (r.lo === undefined || this.compare(row.key, r.lo) > 0) &&
        (r.hi === undefined || this.compare(row.key, r.hi) <= 0),
    );
  }
  async count(): Promise<number> {
    return this.rows.length;
  }
  async checksum(r: KeyRange): Promise<Checksum> {
    this.queries++;
    const rows = this.inRange(r);
    return { count: rows.length, sum: rows.reduce((s, row) => s + hash60(row.digest), 0n) };
  }
  async splitPoints(r: KeyRange, parts: number, n: number): Promise<Key[]> {
    this.queries++;
    const step = Math.ceil(n / parts);
    return this.inRange(r)
      .filter((_, i) => (i + 1) % step === 0 && i + 1 < n)
      .map((row) => row.key);
  }
  async *digests(r: KeyRange): AsyncIterable<RowDigest> {
    this.queries++;
    yield* this.inRange(r);
  }
  async digestsOf(keys: readonly Key[]): Promise<RowDigest[]> {
    const wanted = new Set(keys.map((k) => JSON.stringify(k)));
    return this.rows.filter((r) => wanted.has(JSON.stringify(r.key)));
  }
  async randomKeys(n: number): Promise<Key[]> {
    return this.rows.slice(0, n).map((r) => r.key);
  }
}

const intKey = keyComparator(["int"]);
const options = (sink: DifferenceSink, compare: KeyComparator = intKey) => ({
  factor: 8,
  leafRows: 16,
  segmentRows: 1000,
  compare,
  sink,
  stopAfter: 1000,
});

function table(n: number): Map<string, string> {
  return new Map(Array.from({ length: n }, (_, i) => [String(i + 1), `row ${i + 1}`]));
}

async function run(a: Map<string, string>, b: Map<string, string>, stopAfter = 1000) {
  const source = new MemorySide(a, intKey, (k) => [k]);
  const target = new MemorySide(b, intKey, (k) => [k]);
  const sink = new DifferenceSink(100);
  const result = await bisectTable(
    source,
    target,
    { source: a.size, target: b.size },
    { ...options(sink), stopAfter },
  );
  return { sink, result, queries: source.queries + target.queries };
}

describe("subRanges", () => {
  it("covers the range exactly with consecutive (lo, hi] pieces", () => {
    expect(subRanges({ lo: ["0"], hi: ["9"] }, [["3"], ["6"]])).toEqual([
      { lo: ["0"], hi: ["3"] },
      { lo: ["3"], hi: ["6"] },
      { lo: ["6"], hi: ["9"] },
    ]);
    expect(subRanges({}, [])).toEqual([{ lo: undefined, hi: undefined }]);
  });
});

describe("bisectTable", () => {
  it("finds nothing and stays cheap when the tables are identical", async () => {
    const { sink, result, queries } = await run(table(5000), table(5000));
    expect(sink.total).toBe(0);
    expect(result.leaves).toBe(0);
    expect(queries).toBeLessThanOrEqual(2 + 2 * 5); // one split-point query, then 5 segments × 2 sides
  });

  it("reports exactly one missing, one extra and one changed key", async () => {
    const target = table(5000);
    target.delete("1234");
    target.set("5001", "new row");
    target.set("4321", "edited");
    const { sink, result } = await run(table(5000), target);
    expect(sink.result.missing).toEqual([["1234"]]);
    expect(sink.result.extra).toEqual([["5001"]]);
    expect(sink.result.changed).toEqual([["4321"]]);
    expect(result.truncated).toBe(false);
  });

  it("stops exploring after stopAfter differences and says so", async () => {
    const { sink, result } = await run(table(3000), new Map(), 10);
    expect(result.truncated).toBe(true);
    expect(sink.total).toBeGreaterThanOrEqual(10);
    expect(sink.total).toBeLessThan(3000);
  });

  it("works with composite keys ordered column by column", async () => {
    const compare = keyComparator(["text", "int"]);
    const rows = (skip?: string) =>
      new Map(
        ["a", "b", "é"]
          .flatMap((shop) =>
            Array.from({ length: 40 }, (_, i) => [`${shop}|${i}`, `v${shop}${i}`] as [string, string]),
          )
          .filter(([k]) => k !== skip),
      );
    const split = (k: string): Key => k.split("|");
    const source = new MemorySide(rows(), compare, split);
    const target = new MemorySide(rows("b|17"), compare, split);
    const sink = new DifferenceSink(10);
    await bisectTable(
      source,
      target,
      { source: 120, target: 119 },
      { ...options(sink, compare), segmentRows: 50 },
    );
    expect(sink.result.missing).toEqual([["b", "17"]]);
    expect(sink.total).toBe(1);
  });

  it("reports exactly the symmetric difference for any pair of tables (property)", async () => {
    const rowsArb = fc.dictionary(
      fc.integer({ min: 1, max: 400 }).map(String),
      fc.constantFrom("x", "y", "z"),
      { maxKeys: 300 },
    );
    await fc.assert(
      fc.asyncProperty(rowsArb, rowsArb, async (a, b) => {
        const ma = new Map(Object.entries(a));
        const mb = new Map(Object.entries(b));
        const { sink } = await run(ma, mb);
        const sorted = (keys: string[]) =>
          keys
            .map(Number)
            .sort((x, y) => x - y)
            .map(String);
        expect(sink.result.missing.map((k) => k[0])).toEqual(
          sorted([...ma.keys()].filter((k) => !mb.has(k))),
        );
        expect(sink.result.extra.map((k) => k[0])).toEqual(sorted([...mb.keys()].filter((k) => !ma.has(k))));
        expect(sink.result.changed.map((k) => k[0])).toEqual(
          sorted([...ma.keys()].filter((k) => mb.has(k) && mb.get(k) !== ma.get(k))),
        );
      }),
      { numRuns: 200 },
    );
  });
});
