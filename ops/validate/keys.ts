/**
 * Key order in Node must match the ORDER BY both databases use: integers numerically, every other key
 * byte-wise on its normalized text (PostgreSQL's COLLATE "C", SQLite's BINARY).
 */
import type { DifferenceKind, Differences, Family, Key } from "./types";

export type KeyComparator = (a: Key, b: Key) => number;

function compareNumbers(a: string, b: string): number {
  try {
    const x = BigInt(a);
    const y = BigInt(b);
    return x < y ? -1 : x > y ? 1 : 0;
  } catch {
    return Number(a) - Number(b);
  }
}

export function keyComparator(families: readonly Family[]): KeyComparator {
  return (a, b) => {
    for (let i = 0; i < families.length; i++) {
      const family = families[i];
      const c =
        family === "int" || family === "numeric" || family === "float" || family === "float4"
          ? compareNumbers(a[i], b[i])
          : Buffer.compare(Buffer.from(a[i], "utf8"), Buffer.from(b[i], "utf8"));
      if (c !== 0) return c;
    }
    return 0;
  };
}

/** `id=42` or `(shopId=1, id=7)`: what an operator pastes into a WHERE clause. */
export function formatKey(names: readonly string[], key: Key): string {
  const parts = names.map((n, i) => `${n}=${key[i]}`);
  return parts.length === 1 ? parts[0] : `(${parts.join(", ")})`;
}

/** Collects differences, keeping at most `limit` keys of each kind so memory stays bounded. */
export class DifferenceSink {
  readonly result: Differences = {
    missing: [],
    extra: [],
    changed: [],
    totals: { missing: 0, extra: 0, changed: 0 },
  };
  constructor(private readonly limit: number) {}

  add(kind: DifferenceKind, key: Key): void {
    this.result.totals[kind]++;
    if (this.result[kind].length < this.limit) this.result[kind].push(key);
  }

  get total(): number {
    const t = this.result.totals;
    return t.missing + t.extra + t.changed;
  }
}
