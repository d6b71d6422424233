import { REPLACE_ON_CHANGE, STATEFUL_TYPES } from "../contract/facts";
import type { RecordedResource } from "./synth";

/** One input that differs between two phases. */
export interface InputChange {
  readonly path: string;
  readonly before: unknown;
  readonly after: unknown;
}

export interface ResourceChange {
  readonly urn: string;
  readonly type: string;
  readonly name: string;
  readonly changes: readonly InputChange[];
  /** Create-only inputs among the changes: the provider will replace the resource. */
  readonly replaces: readonly string[];
  readonly stateful: boolean;
}

export interface PlanDiff {
  readonly added: readonly RecordedResource[];
  readonly removed: readonly RecordedResource[];
  readonly changed: readonly ResourceChange[];
}

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object";

/** A list whose items all carry a unique `name` (env vars, volumes): compared by name, not by position. */
function byName(v: unknown): Record<string, unknown> | undefined {
  if (!Array.isArray(v) || v.length === 0) return undefined;
  const names = v.map((x) => (isObj(x) && typeof x.name === "string" ? x.name : undefined));
  if (names.some((n) => n === undefined) || new Set(names).size !== names.length) return undefined;
  return Object.fromEntries(v.map((x, i) => [names[i]!, x]));
}

/** Leaf-level differences between two input trees (named lists by name, other arrays element-wise). */
export function diffInputs(before: unknown, after: unknown, path = ""): InputChange[] {
  if (JSON.stringify(before) === JSON.stringify(after)) return [];
  const [namedBefore, namedAfter] = [byName(before), byName(after)];
  if (namedBefore && namedAfter) {
    const keys = [...new Set([...Object.keys(namedBefore), ...Object.keys(namedAfter)])];
    return keys.flatMap((k) => diffInputs(namedBefore[k], namedAfter[k], `${path}[${k}]`));
  }
  if (isObj(before) && isObj(after) && Array.isArray(before) === Array.isArray(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
    return keys.flatMap((k) =>
      diffInputs(before[k], after[k], Array.isArray(after) ? `${path}[${k}]` : path ? `${path}.${k}` : k),
    );
  }
  return [{ path, before, after }];
}

/** What changes from synthesis `a` to synthesis `b`, by URN. */
export function diffSyntheses(a: readonly RecordedResource[], b: readonly RecordedResource[]): PlanDiff {
  const before = new Map(a.map((r) => [r.urn, r]));
  const after = new Map(b.map((r) => [r.urn, r]));
  const changed: ResourceChange[] = [];
  for (const [urn, r] of after) {
    const old = before.get(urn);
    if (!old) continue;
    const changes = diffInputs(old.inputs, r.inputs);
    if (changes.length > 0)
      changed.push({
        urn,
        type: r.type,
        name: r.name,
        changes,
        replaces: replacingChanges(old, r),
        stateful: STATEFUL_TYPES.has(r.type),
      });
  }
  return {
    added: b.filter((r) => !before.has(r.urn)),
    removed: a.filter((r) => !after.has(r.urn)),
    changed,
  };
}

function at(obj: unknown, path: string): unknown {
  return path.split(".").reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], obj);
}

/** The create-only inputs that differ between two registrations of the same resource. */
export function replacingChanges(before: RecordedResource, after: RecordedResource): string[] {
  return (REPLACE_ON_CHANGE[after.type] ?? []).filter(
    (f) => JSON.stringify(at(before.inputs, f)) !== JSON.stringify(at(after.inputs, f)),
  );
}

/** Stateful resources a transition deletes or replaces (must be empty between adjacent phases). */
export function destructiveChanges(diff: PlanDiff): string[] {
  return [
    ...diff.removed.filter((r) => STATEFUL_TYPES.has(r.type)).map((r) => `deletes ${r.type} ${r.name}`),
    ...diff.changed
      .filter((c) => c.stateful && c.replaces.length > 0)
      .map((c) => `replaces ${c.type} ${c.name} (${c.replaces.join(", ")})`),
  ];
}
