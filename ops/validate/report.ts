import type { EndpointFingerprint } from "../../infra/engine/gates";
/** Renders the results: one verdict line per table (plus the differing keys), or JSON for CI. */
import type { TableReport } from "./run";

export interface RunReport {
  readonly source: string;
  readonly target: string;
  readonly identical: boolean;
  readonly tables: readonly TableReport[];
  /** What each side was (host, port, database, system identifier), for the evidence; never credentials. */
  readonly endpoints?: readonly EndpointFingerprint[];
  /** Set when the run stopped on a failure (the tables before it are still reported). */
  readonly error?: { readonly message: string; readonly hint?: string };
  /** The slice of every table this run checked (`--shard`). */
  readonly shard?: { readonly index: number; readonly count: number };
  /**
   * A dual-write migration's background comparison (the comparison Worker's last summary, as its
   * committed evidence says), shown beside this run's verdict; null when none is recorded.
   */
  readonly backgroundComparison?: {
    readonly passed: boolean;
    readonly at: string;
    readonly position: string;
    readonly summary: string;
  } | null;
  /** What the run cost: wall seconds (connect to verdict), statements sent per side, peak RSS. */
  readonly stats?: {
    readonly seconds: number;
    readonly statements?: { readonly source: number; readonly target: number };
    /** Times a lost connection was reopened mid-run (a server restart ridden out). */
    readonly reconnects?: number;
    readonly peakRssMiB: number;
  };
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

export function verdictLine(t: TableReport): string {
  if (!t.counts) return `${t.table}: DIFFERENT (${t.notes[0]})`;
  const rows =
    t.counts.source === t.counts.target
      ? `rows ${t.counts.source} = ${t.counts.target}`
      : `rows ${t.counts.source} ≠ ${t.counts.target}`;
  const how =
    t.method === "sample"
      ? `sample of ${plural(t.sampled ?? 0, "row")}`
      : t.method === "table-checksum"
        ? "whole-table checksum"
        : "checksums over key ranges";
  if (t.identical) return `${t.table}: OK (${rows}; content equal by ${how})`;
  const found = [
    t.totals.missing && `${t.totals.missing} missing on target`,
    t.totals.extra && `${t.totals.extra} extra on target`,
    t.totals.changed && `${t.totals.changed} changed`,
  ].filter(Boolean);
  const columns = t.columnsOnlyInSource.length + t.columnsOnlyInTarget.length > 0 ? ["columns differ"] : [];
  const details = [...found, ...columns];
  return `${t.table}: DIFFERENT (${rows}; ${details.length ? details.join(", ") : `content differs by ${how}`}${t.truncated ? "; stopped early, more may differ" : ""})`;
}

export function renderText(report: RunReport): string {
  const lines = [`validate: source ${report.source}`, `          target ${report.target}`];
  for (const t of report.tables) {
    lines.push(verdictLine(t));
    if (t.differences.missing.length) lines.push(`  missing on target: ${t.differences.missing.join(" ")}`);
    if (t.differences.extra.length) lines.push(`  extra on target: ${t.differences.extra.join(" ")}`);
    if (t.differences.changed.length) lines.push(`  changed: ${t.differences.changed.join(" ")}`);
    if (t.columnsOnlyInSource.length)
      lines.push(`  columns only in source: ${t.columnsOnlyInSource.join(", ")}`);
    if (t.columnsOnlyInTarget.length)
      lines.push(`  columns only in target: ${t.columnsOnlyInTarget.join(", ")}`);
    for (const note of t.counts ? t.notes : t.notes.slice(1)) lines.push(`  note: ${note}`);
  }
  if (report.error) {
    lines.push(`ERROR: ${report.error.message}`);
    if (report.error.hint) lines.push(`  hint: ${report.error.hint}`);
  }
  if (report.backgroundComparison !== undefined)
    lines.push(
      report.backgroundComparison === null
        ? "background comparison: none recorded (cutover check compare status … --evidence)"
        : `background comparison: ${report.backgroundComparison.passed ? "pass" : "FAIL"} at ${report.backgroundComparison.position} on ${report.backgroundComparison.at}: ${report.backgroundComparison.summary}`,
    );
  if (report.stats?.reconnects)
    lines.push(`reconnected ${plural(report.stats.reconnects, "time")} after a lost connection`);
  const differing = report.tables.filter((t) => !t.identical).length;
  lines.push(
    report.error
      ? "Result: FAILED (validation did not finish)"
      : report.identical
        ? `Result: IDENTICAL (${plural(report.tables.length, "table")})`
        : `Result: DIFFERENT (${differing} of ${plural(report.tables.length, "table")} differ)`,
  );
  return lines.join("\n");
}
