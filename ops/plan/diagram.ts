/**
 * Where each migration stands in its runbook, as a Mermaid state diagram for the pull-request comment:
 * the route's phases, the gated steps, the rollback edges the phase table allows and where a retry
 * re-enters, with the deployed and the proposed phase marked. Read from the engine's tables.
 */
import { KINDS } from "../../infra/engine/kinds";
import { positionOf, transitionContextOf } from "../../infra/engine/plan";
import {
  forwardStep,
  gatesOf,
  onRoute,
  positionLabel,
  RAMP,
  samePosition,
  type Position,
} from "../../infra/engine/transitions";
import { code, kindOf } from "./md-text";
import type { MigrationReport, PlanReport } from "./run";

const stateId = (phase: string) => phase.replace(/[^a-z0-9]/gi, "_");

/**
 * The runbook of one migration as a Mermaid state diagram: its phases in order (the gated steps
 * labelled with their check), the rollback edges the phase table allows and where a retry re-enters,
 * with the deployed and the proposed phase marked.
 */
export function runbookDiagram(m: MigrationReport): string[] {
  const spec = m.planned.spec;
  const ctx = transitionContextOf(m.name, spec, { now: new Date(0) });
  const order = KINDS[spec.kind].order.filter((p) => onRoute(p, ctx));
  const origins = KINDS[spec.kind].rollbackOrigins.filter((p) => onRoute(p, ctx));
  const proposed = m.transition?.to ?? positionOf(spec);
  const deployed: Position | undefined = m.transition?.from;
  const ramped = RAMP[spec.kind].phase;
  const label = (phase: string) => {
    const marks: string[] = [];
    const at = (p: Position | undefined) =>
      p && p.phase === phase
        ? p.percent !== undefined
          ? ` ${p.percent}%`
          : p.rollbackFrom
            ? ` from ${p.rollbackFrom}`
            : ""
        : undefined;
    const d = at(deployed);
    const p = at(proposed);
    const unchanged = deployed !== undefined && samePosition(deployed, proposed);
    if (deployed && d !== undefined) marks.push(`deployed${d}${unchanged ? ", unchanged" : ""}`);
    if (p !== undefined && !unchanged) marks.push(`proposed${p}`);
    const ramp = phase === ramped ? ` ${ctx.ramp.join("→")}%` : "";
    return `${phase}${ramp}${marks.length ? ` · ${marks.join(", ")}` : ""}`;
  };
  const phases = [...order, "rollback"];
  const lines = ["```mermaid", "stateDiagram-v2", "  direction LR"];
  for (const p of phases) lines.push(`  state "${label(p)}" as ${stateId(p)}`);
  lines.push(`  [*] --> ${stateId(order[0])}`);
  for (let i = 0; i + 1 < order.length; i++) {
    const from: Position = {
      phase: order[i],
      attempt: 1,
      ...(order[i] === ramped ? { percent: ctx.ramp.at(-1) } : {}),
    };
    const to = forwardStep(from, ctx);
    const gates = to ? gatesOf(from, to, ctx) : [];
    lines.push(
      `  ${stateId(order[i])} --> ${stateId(order[i + 1])}${gates.length > 0 ? ` : ${gates.join(" + ")}` : ""}`,
    );
  }
  lines.push(`  ${stateId(order[order.length - 1])} --> [*]`);
  for (const o of origins) lines.push(`  ${stateId(o)} --> rollback`);
  const retries = new Set(
    origins.map((o) => forwardStep({ phase: "rollback", rollbackFrom: o, attempt: 1 }, ctx)!.phase),
  );
  for (const r of retries) lines.push(`  rollback --> ${stateId(r)} : retry`);
  lines.push(
    "  classDef deployed fill:#e3f2fd,stroke:#1565c0,stroke-width:2px",
    "  classDef proposed fill:#fff8e1,stroke:#e65100,stroke-width:3px",
  );
  const same = deployed && deployed.phase === proposed.phase;
  if (deployed && !same) lines.push(`  class ${stateId(deployed.phase)} deployed`);
  lines.push(`  class ${stateId(proposed.phase)} proposed`);
  lines.push("```");
  return lines;
}

export function diagramSection(report: PlanReport): string[] {
  const lines = ["### Where each migration stands", ""];
  for (const m of report.migrations) {
    const t = m.transition;
    const where = t
      ? samePosition(t.from, t.to)
        ? `stays at ${code(positionLabel(t.from))}`
        : `${code(positionLabel(t.from))} (deployed, blue) → ${code(positionLabel(t.to))} (proposed, orange)`
      : `${code(positionLabel(positionOf(m.planned.spec)))} (this file)`;
    lines.push(`**${m.name}** (${kindOf(m)}): ${where}`, "", ...runbookDiagram(m), "");
  }
  return lines;
}
