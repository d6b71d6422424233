import { IRREVERSIBLE_MARKER, RECREATE_COST, RUNS_WHEN_SET, STATEFUL_TYPES } from "../contract/facts";
import type { PlanDiff } from "./plan-diff";
import type { RecordedResource } from "./synth";

/**
 * What undoing a change costs, as the pull-request summary labels it:
 * - `irreversible`: data is deleted, or an action happens that no config change takes back;
 * - `reversible with cost`: putting the config back works, but re-creates something slow, billed, or
 *   serving (a DMS job copies everything again, a replaced service stops serving meanwhile);
 * - `reversible by config`: putting the config back restores it (traffic, env, flags, records).
 */
export type ChangeLabel = "irreversible" | "reversible with cost" | "reversible by config";

export const LABEL_ORDER: readonly ChangeLabel[] = [
  "irreversible",
  "reversible with cost",
  "reversible by config",
];

export interface LabeledChange {
  readonly label: ChangeLabel;
  readonly op: "create" | "delete" | "replace" | "update";
  readonly type: string;
  readonly name: string;
  /** Why it carries this label, in a few words. */
  readonly why: string;
  /** Changed input paths (update and replace). */
  readonly paths?: readonly string[];
}

const stateful = (type: string) => STATEFUL_TYPES.has(type);

/** The input among `paths` (or set at all, on create) whose value makes the provider run something. */
const runTrigger = (r: RecordedResource, paths?: readonly string[]) =>
  (RUNS_WHEN_SET[r.type] ?? []).find(
    (k) => r.inputs[k] !== undefined && r.inputs[k] !== null && (paths === undefined || paths.includes(k)),
  );
const ranWhy = (k: string) =>
  `the provider executes the job when ${k} is set: what the run changes stays changed`;

function labelCreate(r: RecordedResource): LabeledChange {
  const base = { op: "create" as const, type: r.type, name: r.name };
  const marker = r.inputs[IRREVERSIBLE_MARKER];
  if (typeof marker === "string") return { ...base, label: "irreversible", why: marker };
  const trigger = runTrigger(r);
  if (trigger) return { ...base, label: "irreversible", why: ranWhy(trigger) };
  if (stateful(r.type))
    return {
      ...base,
      label: "reversible with cost",
      why: "billed from creation; once it holds data, removing it needs deletion protection lifted",
    };
  return { ...base, label: "reversible by config", why: "putting the config back removes it" };
}

function labelDelete(r: RecordedResource): LabeledChange {
  const base = { op: "delete" as const, type: r.type, name: r.name };
  if (stateful(r.type)) return { ...base, label: "irreversible", why: "its data is deleted with it" };
  const cost = RECREATE_COST[r.type];
  if (cost) return { ...base, label: "reversible with cost", why: cost };
  if (typeof r.inputs[IRREVERSIBLE_MARKER] === "string")
    return { ...base, label: "reversible by config", why: "forgets the record only; what it did stays done" };
  return { ...base, label: "reversible by config", why: "putting the config back creates it again" };
}

/** Every change of a diff with its label, the ones that cost most first (then by type and name). */
export function labelChanges(diff: PlanDiff): LabeledChange[] {
  const changes: LabeledChange[] = [
    ...diff.added.filter((r) => r.custom).map(labelCreate),
    ...diff.removed.filter((r) => r.custom).map(labelDelete),
    ...diff.changed.map((c): LabeledChange => {
      const paths = c.changes.map((ch) => ch.path);
      const base = { type: c.type, name: c.name, paths };
      if (c.replaces.length > 0)
        return c.stateful
          ? {
              ...base,
              op: "replace",
              label: "irreversible",
              why: `replaced (${c.replaces.join(", ")}): the old one's data is deleted`,
            }
          : {
              ...base,
              op: "replace",
              label: "reversible with cost",
              why: `replaced (${c.replaces.join(", ")})${RECREATE_COST[c.type] ? `: ${RECREATE_COST[c.type]}` : ""}`,
            };
      const rerun = c.changes.find(
        (ch) =>
          (RUNS_WHEN_SET[c.type] ?? []).includes(ch.path) && ch.after !== undefined && ch.after !== null,
      );
      if (rerun) return { ...base, op: "update", label: "irreversible", why: ranWhy(rerun.path) };
      return { ...base, op: "update", label: "reversible by config", why: "updated in place" };
    }),
  ];
  const rank = (l: ChangeLabel) => LABEL_ORDER.indexOf(l);
  return changes.sort(
    (a, b) => rank(a.label) - rank(b.label) || a.type.localeCompare(b.type) || a.name.localeCompare(b.name),
  );
}
