/**
 * The plan as a pull-request comment. What cannot be undone comes first, so that a comment cut at
 * GitHub's 65,536-character limit still says it: per migration the transition and its irreversible
 * steps, then each change with what undoing it costs, the traffic before and after, gate evidence,
 * policy findings, what a first run still needs, and where each migration stands in its runbook (a
 * Mermaid state diagram). The full text plan follows, collapsed. Everything is read from the engine's
 * tables and the synthesized program; nothing here decides what a phase means.
 */
import type { CloudSqlPlan } from "../../infra/engine/cloudsql";
import { positionLabel, samePosition } from "../../infra/engine/transitions";
import { labelChanges, LABEL_ORDER, type ChangeLabel, type LabeledChange } from "../../tooling/change-labels";
import { diffSyntheses } from "../../tooling/plan-diff";
import type { DeployedSide } from "../../tooling/deployed";
import { diagramSection } from "./diagram";
import { firstRunNotes, type FirstRunNote } from "./first-run";
import { evaluateFindings } from "./findings";
import { cell, code, kindOf } from "./md-text";
import { renderPlan, type Finding } from "./render";
import {
  buildBefore,
  buildPlan,
  type BeforePlan,
  type MigrationReport,
  type PlanReport,
  type PlanRequest,
} from "./run";

/** GitHub refuses a comment body longer than this many characters. */
export const GITHUB_COMMENT_LIMIT = 65_536;
/** Most change rows shown in the summary table; the rest are in the collapsed details. */
const MAX_CHANGE_ROWS = 40;

export interface MarkdownInput {
  readonly report: PlanReport;
  readonly findings: readonly Finding[];
  readonly before?: BeforePlan;
  readonly deployedFrom?: string;
  readonly firstRun: readonly FirstRunNote[];
  /** The text plan, shown collapsed at the end. */
  readonly details: string;
  readonly now: Date;
  /** Longest output, in characters. @default GITHUB_COMMENT_LIMIT minus room for the sticky marker */
  readonly limit?: number;
}

const ICON: Record<ChangeLabel, string> = {
  irreversible: "🛑",
  "reversible with cost": "⚠️",
  "reversible by config": "↩️",
};

/** Text inside a table cell or inline code: pipes and backticks cannot break the table. */

function transitionSection(report: PlanReport, deployedFrom?: string): string[] {
  const judged = report.migrations.filter((m) => m.transition);
  if (judged.length === 0)
    return [
      "### Transitions",
      "",
      "Not judged: no deployed side was given (pass `--base <git-ref>` or `--deployed <outputs.json>`).",
      "",
    ];
  const refused = judged.filter((m) => !m.transition!.allowed);
  const lines = [
    refused.length ? `### ❌ ${refused.length} transition(s) refused` : "### ✅ Transitions",
    "",
    `Deployed side: ${cell(deployedFrom ?? "?")}.`,
    "",
    "| migration | deployed | proposed | verdict |",
    "|---|---|---|---|",
  ];
  for (const m of judged) {
    const t = m.transition!;
    const attempts = t.from.attempt !== t.to.attempt;
    const verdict = !t.allowed
      ? "❌ refused"
      : samePosition(t.from, t.to)
        ? "unchanged"
        : `✅ allowed${t.records ? ` (records ${t.records.join(", ")})` : ""}`;
    lines.push(
      `| ${code(m.name)} (${kindOf(m)}) | ${code(positionLabel(t.from, attempts))} | ${code(positionLabel(t.to, attempts))} | ${verdict} |`,
    );
  }
  lines.push("");
  for (const m of refused) lines.push(`> **${m.name}**: ${cell(m.transition!.message ?? "")}`, "");
  for (const m of judged.filter((x) => x.transition!.note))
    lines.push(`> note (${m.name}): ${cell(m.transition!.note!)}`, "");
  return lines;
}

/** The engine's irreversible steps of each migration that moves (a migration that stays put adds none). */
function irreversibleOf(m: MigrationReport): readonly string[] {
  if (m.transition && samePosition(m.transition.from, m.transition.to)) return [];
  return (m.planned.plan as { irreversible: readonly string[] }).irreversible;
}

function irreversibleSection(report: PlanReport, changes: readonly LabeledChange[]): string[] {
  const steps = report.migrations.flatMap((m) => irreversibleOf(m).map((s) => `**${m.name}**: ${cell(s)}`));
  const resources = changes
    .filter((c) => c.label === "irreversible")
    .map((c) => `${c.op} ${code(c.name)} (${c.type}): ${cell(c.why)}`);
  if (steps.length === 0 && resources.length === 0)
    return ["### Irreversible: none", "", "Every change below is undone by putting the config back.", ""];
  return ["### 🛑 Irreversible", "", ...steps.map((s) => `- ${s}`), ...resources.map((s) => `- ${s}`), ""];
}

function changesSection(changes: readonly LabeledChange[], beforeFrom?: string): string[] {
  if (beforeFrom === undefined) return [];
  const count = (l: ChangeLabel) => changes.filter((c) => c.label === l).length;
  const lines = [
    `### Changes: ${LABEL_ORDER.map((l) => `${count(l)} ${l}`).join(" · ")}`,
    "",
    `Compared with ${cell(beforeFrom)}.`,
    "",
  ];
  if (changes.length === 0) return [...lines, "No resource changes.", ""];
  lines.push("| | change | resource | what undoing it costs |", "|---|---|---|---|");
  for (const c of changes.slice(0, MAX_CHANGE_ROWS)) {
    const paths = c.paths?.length
      ? ` — ${c.paths.slice(0, 4).map(code).join(", ")}${c.paths.length > 4 ? ", …" : ""}`
      : "";
    lines.push(
      `| ${ICON[c.label]} ${c.label} | ${c.op} | ${code(c.name)} ${cell(c.type)}${paths} | ${cell(c.why)} |`,
    );
  }
  if (changes.length > MAX_CHANGE_ROWS)
    lines.push(
      "",
      `…and ${changes.length - MAX_CHANGE_ROWS} more (all reversible-by-config rows come last; see the details).`,
    );
  lines.push("");
  return lines;
}

function trafficSection(report: PlanReport, before?: PlanReport): string[] {
  const lines: string[] = [];
  for (const m of report.migrations) {
    if (m.planned.plan.kind !== "cloudsql") continue;
    const after = m.planned.plan;
    const old = before?.migrations.find((b) => b.name === m.name)?.planned.plan as CloudSqlPlan | undefined;
    const percentIn = (p: CloudSqlPlan | undefined, rev: string) =>
      p?.traffic.find((t) => t.revision === rev)?.percent;
    const revisions = [
      ...new Set([...(old?.traffic ?? []).map((t) => t.revision), ...after.traffic.map((t) => t.revision)]),
    ];
    const changed = revisions.some((r) => percentIn(old, r) !== percentIn(after, r));
    lines.push(`### Traffic — ${m.name}${changed ? "" : " (unchanged)"}`, "");
    lines.push("| revision | before | after | database | writes | Redis |", "|---|---|---|---|---|---|");
    for (const rev of revisions) {
      const r = after.revisions.find((x) => x.name === rev) ?? old?.revisions.find((x) => x.name === rev);
      const [b, a] = [percentIn(old, rev), percentIn(after, rev)];
      const shown = (p: number | undefined) => (p === undefined ? "—" : `${p}%`);
      const arrow = b !== a ? `**${shown(a)}**` : shown(a);
      lines.push(
        `| ${code(rev)} | ${shown(b)} | ${arrow} | ${r?.database === "cloudsql" ? "Cloud SQL" : "source"} | ${r?.writes === false ? "off" : "on"} | ${r?.redis ? "yes" : "no"} |`,
      );
    }
    lines.push("");
  }
  return lines;
}

/** The gate of each migration's step: the evidence it needs, and whether the committed file holds. */
function evidenceSection(report: PlanReport): string[] {
  const lines = report.migrations.flatMap((m) =>
    (m.gates ?? []).map((g) => {
      const step = code(`${g.at} → ${positionLabel(m.transition!.to)}`);
      return g.problem
        ? `- ❌ **${m.name}** ${step} needs passing ${g.check} evidence taken at ${code(g.at)}: ${cell(g.problem)}. Run ${code(g.command)} and commit \`evidence/\`.`
        : `- ✅ **${m.name}** ${g.check} passed at ${code(g.at)} on ${g.evidence!.at} (digest checked): ${cell(g.evidence!.summary)}`;
    }),
  );
  if (lines.length === 0) return [];
  return ["### Gate evidence", "", ...lines, ""];
}

function findingsSection(findings: readonly Finding[]): string[] {
  if (findings.length === 0) return ["### Policy findings: none", ""];
  const mandatory = findings.filter((f) => f.level === "mandatory").length;
  return [
    `### Policy findings: ${mandatory} mandatory, ${findings.length - mandatory} advisory`,
    "",
    ...findings.map(
      (f) =>
        `- ${f.level === "mandatory" ? "🛑" : "⚠️"} **${f.policy}**: ${cell(f.message)}${f.urn ? ` (${code(f.urn.split("::").pop()!)})` : ""}`,
    ),
    "",
  ];
}

function firstRunSection(notes: readonly FirstRunNote[]): string[] {
  if (notes.length === 0) return [];
  return [
    "### ⚠️ Before the first real `pulumi up`",
    "",
    ...notes.map((n) => `- ${cell(n.what)}. Fix: ${code(n.hint)}`),
    "",
  ];
}

/** Cuts `text` to at most `max` characters at a line boundary, closing a code block left open. */
function cutAt(text: string, max: number, note: string): string {
  const room = max - note.length - 32;
  let cut = text.slice(0, Math.max(0, room));
  const nl = cut.lastIndexOf("\n");
  if (nl > 0) cut = cut.slice(0, nl);
  const fences = (cut.match(/^```/gm) ?? []).length;
  if (fences % 2 === 1) cut += "\n```";
  if ((cut.match(/<details>/g) ?? []).length > (cut.match(/<\/details>/g) ?? []).length)
    cut += "\n</details>";
  return `${cut}\n\n${note}\n`;
}

/** The pull-request comment, at most `limit` characters, the summary first. */
export function renderMarkdown(input: MarkdownInput): string {
  const { report, before } = input;
  const limit = input.limit ?? GITHUB_COMMENT_LIMIT - 200;
  const changes =
    before === undefined
      ? []
      : labelChanges(
          diffSyntheses(
            before.report?.migrations.flatMap((m) => m.resources) ?? [],
            report.migrations.flatMap((m) => m.resources),
          ),
        );
  const summary = [
    `## cutover plan · stack ${code(report.stack)}`,
    "",
    `Offline on Pulumi's mock runtime from ${code(report.path.split("/").pop()!)}; \`pulumi preview\` follows.`,
    "",
    ...transitionSection(report, input.deployedFrom),
    ...irreversibleSection(report, changes),
    ...changesSection(changes, before?.from),
    ...trafficSection(report, before?.report),
    ...evidenceSection(report),
    ...findingsSection(input.findings),
    ...firstRunSection(input.firstRun),
    ...diagramSection(report),
  ].join("\n");
  const hint = `_Cut to fit a comment: run ${code(`cutover plan -s ${report.stack}`)} for the whole plan._`;
  if (summary.length > limit) return cutAt(summary, limit, hint);
  const details = [
    "",
    "<details><summary>Full offline plan</summary>",
    "",
    "```text",
    input.details.trimEnd(),
    "```",
    "",
    "</details>",
    "",
  ].join("\n");
  const whole = summary + details;
  return whole.length <= limit ? whole : cutAt(whole, limit, hint);
}

/**
 * Plans the stack, the deployed side and the comparison, and renders the comment: what
 * `cutover plan -s <stack> --markdown --base <ref>` prints. `refused` and `mandatory` set the exit code.
 */
export async function planMarkdown(
  req: PlanRequest & { readonly limit?: number },
): Promise<{ markdown: string; refused: boolean; mandatory: boolean }> {
  const now = req.now ?? new Date();
  const report = await buildPlan({ ...req, now });
  const findings = evaluateFindings(report.resources);
  const deployed: DeployedSide | undefined = req.deployed;
  const firstRun = firstRunNotes(report, deployed);
  const before = deployed ? await buildBefore({ ...req, now }, deployed) : undefined;
  const markdown = renderMarkdown({
    report,
    findings,
    before,
    deployedFrom: deployed?.source,
    firstRun,
    details: renderPlan(report, findings, deployed?.source, firstRun),
    now,
    limit: req.limit,
  });
  return {
    markdown,
    refused: report.migrations.some((m) => m.transition && !m.transition.allowed),
    mandatory: findings.some((f) => f.level === "mandatory"),
  };
}
