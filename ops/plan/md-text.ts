/** Small Markdown helpers shared by the pull-request comment and its runbook diagram. */
import type { MigrationReport } from "./run";

/** Text safe in a table cell. */
export const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");
/** Inline code. */
export const code = (s: string) => "`" + s.replace(/`/g, "'") + "`";

export const kindOf = (m: MigrationReport) => m.planned.spec.kind;
