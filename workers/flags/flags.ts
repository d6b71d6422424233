/**
 * Migration flags for the Match-Auto Workers: one KV entry per migration, read at most once per
 * `ttlMs` per isolate, deciding per request where to write (legacy / both / new) and where to read.
 * No dependencies, so any Worker can copy or import it. Anything wrong with the entry means legacy:
 * the legacy store stays the source of truth until the final cut, so it is always the safe answer.
 */

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
  /** Clock (tests). @default Date.now */
  readonly now?: () => number;
  /** Called when the shadow write to the new store fails in `dual` mode. @default console.error */
  readonly onShadowWriteError?: (error: unknown) => void;
}

interface CacheEntry {
  readonly expires: number;
  readonly snapshot: Promise<FlagsSnapshot>;
}
// Module scope = one cache per isolate; requests share the promise so a burst makes one KV read.
const cache = new Map<string, CacheEntry>();

export function clearFlagsCache(): void {
  cache.clear();
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
  const onShadowWriteError =
    opts.onShadowWriteError ?? ((e: unknown) => console.error("shadow write failed", e));
  const key = flagsKey(migration);

  function snapshot(): Promise<FlagsSnapshot> {
    const hit = cache.get(key);
    if (hit && hit.expires > now()) return hit.snapshot;
    const fresh = kv.get(key).then(parseFlags, () => ({
      flags: LEGACY_FLAGS,
      source: "fallback: KV read failed",
    }));
    cache.set(key, { expires: now() + ttlMs, snapshot: fresh });
    return fresh;
  }

  return {
    snapshot,
    async read(requestKey, by) {
      const { flags } = await snapshot();
      return by[readStore(flags, requestKey)]();
    },
    async write(by) {
      const { flags } = await snapshot();
      const [truth, shadow] = writeStores(flags);
      const result = await by[truth]();
      // While legacy is the truth, a failed shadow write must not fail the user's request:
      // the incremental backfill (updated_at watermark) copies the row on its next run.
      if (shadow) await by[shadow]().catch(onShadowWriteError);
      return result;
    },
  };
}
