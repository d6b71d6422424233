/**
 * What the comparison Worker compares and what it writes, shared by the Worker and the scripts that
 * configure it and read its summary. Plain data, no runtime dependencies: it runs in workerd and in Node.
 */

/** One table of the migration as the Worker compares it. */
export interface CompareTableSpec {
  /** Name in the legacy schema. */
  readonly name: string;
  readonly store: "d1" | "supabase";
  /** The Worker's binding of the table's D1 database (store d1). */
  readonly d1Binding?: string;
  /** Name in the new store when the migration renamed it. */
  readonly targetName?: string;
  /** Renamed columns: new name → legacy name. */
  readonly columns?: Readonly<Record<string, string>>;
}

/** The Worker's `COMPARE_SPEC` variable (JSON), rendered from the stack by `cutover check compare config`. */
export interface CompareSpec {
  readonly stack: string;
  readonly migration: string;
  /** Random keys per table and run. */
  readonly sample: number;
  readonly legacySchema: string;
  readonly targetSchema: string;
  readonly tables: readonly CompareTableSpec[];
}

/** One table's result in a run. */
export interface TableSummary {
  readonly table: string;
  readonly store: "d1" | "supabase";
  readonly sampled: number;
  readonly equal: number;
  /** Keys (as `id=7`) missing from the new store, or present with other values; at most a few per kind. */
  readonly missing: readonly string[];
  readonly changed: readonly string[];
  /** How many keys differ in all (the lists above may be cut). */
  readonly differing: number;
  /** Keys that differed when first read and were equal when read again (a write in flight). */
  readonly inFlight?: number;
  /** Why the table could not be compared (no table, no connection, …). */
  readonly error?: string;
}

/** What one scheduled run found, as written to KV under {@link summaryKey}. */
export interface CompareSummary {
  readonly stack: string;
  readonly migration: string;
  /** When the run started (ISO-8601) and what triggered it. */
  readonly at: string;
  readonly cron: string;
  readonly durationMs: number;
  readonly sampled: number;
  readonly equal: number;
  readonly differing: number;
  /** Every sampled key equal and no table in error. */
  readonly identical: boolean;
  readonly tables: readonly TableSummary[];
}

/** The KV key of a migration's last summary (in the flags namespace the Workers already bind). */
export const summaryKey = (migration: string) => `cutover:${migration}:compare`;

/** Parses the Worker's COMPARE_SPEC variable, saying what is wrong rather than failing later. */
export function parseCompareSpec(text: string | undefined): CompareSpec {
  if (text === undefined || text === "")
    throw new Error("COMPARE_SPEC is not set: deploy the Worker with cutover check compare config");
  let spec: CompareSpec;
  try {
    spec = JSON.parse(text) as CompareSpec;
  } catch {
    throw new Error("COMPARE_SPEC is not JSON: render it again with cutover check compare config");
  }
  if (
    typeof spec.migration !== "string" ||
    !Number.isInteger(spec.sample) ||
    spec.sample < 1 ||
    !Array.isArray(spec.tables)
  )
    throw new Error(
      "COMPARE_SPEC lacks migration, sample (a whole number ≥ 1) or tables: render it again with cutover check compare config",
    );
  return spec;
}

/**
 * Whether a summary is younger than `maxAgeMinutes` at `now`; a stale one means the cron stopped.
 */
export function summaryAgeMinutes(summary: CompareSummary, now: Date): number {
  return (now.getTime() - Date.parse(summary.at)) / 60_000;
}
