/**
 * Migration flags for the Match-Auto Workers: one KV entry per migration, read at most once per
 * `ttlMs` per isolate, deciding per request where to write (legacy / both / new) and where to read.
 * No dependencies beyond metrics.ts beside it (store calls reported to Analytics Engine when the Worker
 * binds a dataset), so any Worker can copy or import the folder.
 *
 * Failing safe: the Worker is deployed with the phase's **floor** (the binding CUTOVER_FLAGS_FLOOR,
 * from the stack output `<migration>.flagsFloor`): legacy until the final cut, the new stores from the
 * final cut on. When the KV read fails, the entry is missing or malformed, or it asks for less than the
 * floor, the last known good flags are used if they are recent enough (`lastGoodMs`), else the floor.
 * So from the final cut on nothing can route a write to the store that is no longer read. Every
 * fallback is counted (`fallbackCounts()`) and logged once per KV refresh.
 */

import { timed, type MetricsDataset } from "./metrics";

export type WriteMode = "legacy" | "dual" | "new";
export type Store = "legacy" | "new";

/** The value of the KV entry `cutover:flags:<migration>` (written by the Pulumi program). */
export interface MigrationFlags {
  readonly phase: string;
  readonly writeMode: WriteMode;
  /** Share of reads (0–100) served by the new stores. */
  readonly readPercent: number;
  readonly updatedAt: string;
}

/** What a request does: the flags it saw and why (`kv` or the reason for the legacy fallback). */
export interface FlagsSnapshot {
  readonly flags: MigrationFlags;
  readonly source: string;
}

/** The minimal KV surface used (Workers `KVNamespace` satisfies it). */
export interface KvReader {
  get(key: string): Promise<string | null>;
}

export const LEGACY_FLAGS: MigrationFlags = {
  phase: "unknown",
  writeMode: "legacy",
  readPercent: 0,
  updatedAt: "1970-01-01T00:00:00Z",
};

const WRITE_MODES: readonly string[] = ["legacy", "dual", "new"];

/** The flags in force from the final cut on: the floor that no fallback may go below. */
export const CUT_FLAGS: MigrationFlags = {
  phase: "final-cut",
  writeMode: "new",
  readPercent: 100,
  updatedAt: "1970-01-01T00:00:00Z",
};

/** How far along the runbook a write mode is: a fallback never goes back past the floor's. */
const RANK: Record<WriteMode, number> = { legacy: 0, dual: 1, new: 2 };

/** Whether `flags` asks for at least what `floor` does (write mode and read share). */
export function meetsFloor(flags: MigrationFlags, floor: MigrationFlags): boolean {
  return RANK[flags.writeMode] >= RANK[floor.writeMode] && flags.readPercent >= floor.readPercent;
}

/**
 * The floor of one migration from the Worker's binding (JSON: migration → flags). No binding, or no
 * entry for this migration: legacy, as before the final cut — and said so, since after the cut a Worker
 * deployed without it would fall back to the abandoned store.
 */
export function floorOf(
  binding: string | undefined,
  migration: string,
): { floor: MigrationFlags; problem?: string } {
  if (binding === undefined || binding === "")
    return { floor: LEGACY_FLAGS, problem: "no CUTOVER_FLAGS_FLOOR binding: floor assumed legacy" };
  let parsed: unknown;
  try {
    parsed = JSON.parse(binding);
  } catch {
    return { floor: LEGACY_FLAGS, problem: "CUTOVER_FLAGS_FLOOR is not JSON: floor assumed legacy" };
  }
  const entry = (parsed as Record<string, unknown> | null)?.[migration];
  const snap = parseFlags(entry === undefined ? null : JSON.stringify(entry));
  if (snap.source !== "kv")
    return {
      floor: LEGACY_FLAGS,
      problem: `CUTOVER_FLAGS_FLOOR has no valid entry for ${migration}: floor assumed legacy`,
    };
  return { floor: snap.flags };
}

export function flagsKey(migration: string): string {
  return `cutover:flags:${migration}`;
}

/** Validates the entry; `null` when missing. Returns the reason as `source` when it falls back. */
export function parseFlags(raw: string | null): FlagsSnapshot {
  if (raw === null) return { flags: LEGACY_FLAGS, source: "fallback: flags entry missing" };
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return { flags: LEGACY_FLAGS, source: "fallback: flags entry is not JSON" };
  }
  if (typeof value !== "object" || value === null) {
    return { flags: LEGACY_FLAGS, source: "fallback: flags entry is not an object" };
  }
  const v = value as Record<string, unknown>;
  if (typeof v.writeMode !== "string" || !WRITE_MODES.includes(v.writeMode)) {
    return { flags: LEGACY_FLAGS, source: "fallback: writeMode must be legacy, dual or new" };
  }
  const pct = v.readPercent;
  if (typeof pct !== "number" || !Number.isInteger(pct) || pct < 0 || pct > 100) {
    return { flags: LEGACY_FLAGS, source: "fallback: readPercent must be an integer 0-100" };
  }
  // Reading from a store that is not written would serve stale data: refuse the combination.
  if ((v.writeMode === "legacy" && pct > 0) || (v.writeMode === "new" && pct < 100)) {
    return {
      flags: LEGACY_FLAGS,
      source: `fallback: readPercent ${pct} contradicts writeMode ${v.writeMode}`,
    };
  }
  return {
    flags: {
      phase: typeof v.phase === "string" ? v.phase : "unknown",
      writeMode: v.writeMode as WriteMode,
      readPercent: pct,
      updatedAt: typeof v.updatedAt === "string" ? v.updatedAt : LEGACY_FLAGS.updatedAt,
    },
    source: "kv",
  };
}

/** Stable bucket 0–99 of a request key (FNV-1a over UTF-16 units): a user always lands in the same one. */
export function readBucket(requestKey: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < requestKey.length; i++) {
    hash ^= requestKey.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % 100;
}

/** Where this request reads: buckets below `readPercent` go to the new store (0 and 100 are exact). */
export function readStore(flags: MigrationFlags, requestKey: string): Store {
  return readBucket(requestKey) < flags.readPercent ? "new" : "legacy";
}

/** Stores written, in order: legacy first while it is the source of truth. */
export function writeStores(flags: MigrationFlags): readonly Store[] {
  switch (flags.writeMode) {
    case "legacy":
      return ["legacy"];
    case "dual":
      return ["legacy", "new"];
    case "new":
      return ["new"];
    default: {
      const never: never = flags.writeMode;
      return never;
    }
  }
}

export interface FlagsOptions {
  /** How long an isolate reuses the entry. @default 5000 */
  readonly ttlMs?: number;
  /** The phase's floor (see `floorOf`): what any fallback uses at least. @default LEGACY_FLAGS */
  readonly floor?: MigrationFlags;
  /** How long last known good flags stand in for an unreadable or bad entry. @default 600000 (10 min) */
  readonly lastGoodMs?: number;
  /** Called once per KV refresh that falls back, with the reason. @default console.warn (one JSON line) */
  readonly onFallback?: (event: { migration: string; reason: string; using: string }) => void;
  /** Clock (tests). @default Date.now */
  readonly now?: () => number;
  /** Called when the shadow write to the new store fails in `dual` mode. @default console.error */
  readonly onShadowWriteError?: (error: unknown) => void;
  /** The Analytics Engine dataset each store call is reported to (metrics.ts); none: nothing reported. */
  readonly metrics?: MetricsDataset;
}

interface CacheEntry {
  readonly expires: number;
  readonly snapshot: Promise<FlagsSnapshot>;
}
// Module scope = one cache per isolate; requests share the promise so a burst makes one KV read.
const cache = new Map<string, CacheEntry>();
/** The last entry read from KV that was valid and met the floor, per key, with when it was read. */
const lastGood = new Map<string, { readonly flags: MigrationFlags; readonly at: number }>();
/** Fallbacks per reason, per isolate. */
const fallbacks = new Map<string, number>();

export function clearFlagsCache(): void {
  cache.clear();
  lastGood.clear();
  fallbacks.clear();
}

/** How many KV refreshes fell back, by reason, since the isolate started (for a metrics endpoint). */
export function fallbackCounts(): Record<string, number> {
  return Object.fromEntries(fallbacks);
}

export type ByStore<T> = { readonly legacy: () => Promise<T>; readonly new: () => Promise<T> };

export interface Flags {
  snapshot(): Promise<FlagsSnapshot>;
  /** Runs the read on the store this request key is bucketed to. */
  read<T>(requestKey: string, by: ByStore<T>): Promise<T>;
  /** Runs the write on every store of the write mode; returns the source of truth's result. */
  write<T>(by: ByStore<T>): Promise<T>;
}

/** `migrationFlags(env.FLAGS, "matchauto").read(userId, { legacy: …, new: … })` — one line per call site. */
export function migrationFlags(kv: KvReader, migration: string, opts: FlagsOptions = {}): Flags {
  const ttlMs = opts.ttlMs ?? 5000;
  const now = opts.now ?? Date.now;
  const floor = opts.floor ?? LEGACY_FLAGS;
  const lastGoodMs = opts.lastGoodMs ?? 600_000;
  const onShadowWriteError =
    opts.onShadowWriteError ?? ((e: unknown) => console.error("shadow write failed", e));
  const onFallback =
    opts.onFallback ??
    ((e: { migration: string; reason: string; using: string }) =>
      console.warn(JSON.stringify({ cutoverFlagsFallback: e })));
  const key = flagsKey(migration);

  /** The flags to use when the entry cannot be: last known good if recent and above the floor, else the floor. */
  function fallBack(reason: string): FlagsSnapshot {
    fallbacks.set(reason, (fallbacks.get(reason) ?? 0) + 1);
    const good = lastGood.get(key);
    const snap =
      good && now() - good.at <= lastGoodMs && meetsFloor(good.flags, floor)
        ? { flags: good.flags, source: `last known good (${reason})` }
        : { flags: floor, source: `floor ${floor.writeMode} (${reason})` };
    onFallback({ migration, reason, using: snap.source });
    return snap;
  }

  function judged(raw: string | null): FlagsSnapshot {
    const snap = parseFlags(raw);
    if (snap.source !== "kv") return fallBack(snap.source.replace(/^fallback: /, ""));
    if (!meetsFloor(snap.flags, floor))
      return fallBack(
        `entry (${snap.flags.writeMode}, ${snap.flags.readPercent}%) is below the deployed floor (${floor.writeMode}, ${floor.readPercent}%)`,
      );
    lastGood.set(key, { flags: snap.flags, at: now() });
    return snap;
  }

  function snapshot(): Promise<FlagsSnapshot> {
    const hit = cache.get(key);
    if (hit && hit.expires > now()) return hit.snapshot;
    const fresh = kv.get(key).then(judged, () => fallBack("KV read failed"));
    cache.set(key, { expires: now() + ttlMs, snapshot: fresh });
    return fresh;
  }

  return {
    snapshot,
    async read(requestKey, by) {
      const { flags } = await snapshot();
      const store = readStore(flags, requestKey);
      return timed(opts.metrics, migration, store, "read", by[store]);
    },
    async write(by) {
      const { flags } = await snapshot();
      const [truth, shadow] = writeStores(flags);
      const result = await timed(opts.metrics, migration, truth, "write", by[truth]);
      // While legacy is the truth, a failed shadow write must not fail the user's request:
      // the incremental backfill (updated_at watermark) copies the row on its next run.
      if (shadow)
        await timed(opts.metrics, migration, shadow, "shadow-write", by[shadow]).catch(onShadowWriteError);
      return result;
    },
  };
}
