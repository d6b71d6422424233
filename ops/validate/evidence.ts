/**
 * A validation's place in a migration's gates: the verdict recorded as the `validate` evidence of the
 * position being left (one file per store for a dual-write migration), and the comparison Worker's last
 * committed verdict to show beside it.
 */
import { positionOf } from "../../infra/engine/plan";
import { positionLabel } from "../../infra/engine/transitions";
import { readEvidence, recordEvidence } from "../../infra/evidence";
import { loadMigration } from "../../tooling/stack-file";
import type { RunReport } from "./report";

export interface Where {
  readonly stack: string;
  readonly migration: string;
  /** Where the stack file and evidence/ are. @default the working directory */
  readonly dir?: string;
}

/** A dual-write migration's committed comparison-Worker evidence, to show beside the verdict. */
export function backgroundComparison(where: Where): Pick<RunReport, "backgroundComparison"> {
  const dir = where.dir ?? process.cwd();
  if (loadMigration(where.stack, where.migration, { dir }).kind !== "dual-write") return {};
  const read = readEvidence(dir, where.stack, where.migration, "compare");
  if ("problem" in read) return { backgroundComparison: null };
  const { passed, at, position, summary } = read.evidence;
  return { backgroundComparison: { passed, at, position, summary } };
}

/** Writes the run's verdict as the migration's validate evidence at its current position; returns the file. */
export function recordValidation(where: Where, report: RunReport): string {
  const dir = where.dir ?? process.cwd();
  const spec = loadMigration(where.stack, where.migration, { dir });
  const reports = report.tables;
  // A dual-write migration's validation is one file per store, each covering that store's tables.
  const toD1 = report.endpoints?.some(
    (e) => e.role === "target" && (e.host.startsWith("d1") || e.host.startsWith("cloudflare:")),
  );
  const store = spec.kind === "dual-write" ? { store: toD1 ? "d1" : "supabase" } : {};
  return recordEvidence(dir, {
    stack: where.stack,
    migration: where.migration,
    check: "validate",
    ...store,
    ...(report.endpoints ? { endpoints: report.endpoints } : {}),
    tables: reports.map((t) => ({
      name: t.table,
      rows: t.counts?.source ?? 0,
      ...(t.sampled !== undefined ? { sampled: true as const } : {}),
    })),
    position: positionLabel(positionOf(spec)),
    attempt: positionOf(spec).attempt,
    passed: report.identical,
    summary: `${reports.length} table(s) ${report.identical ? "identical" : report.error ? "not compared (error)" : "differ"}: ${reports.map((t) => `${t.table}${t.identical ? "" : " (DIFFERENT)"}`).join(", ")}`,
    report: JSON.stringify(report),
  });
}
