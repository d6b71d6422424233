/** Shared pieces of the cross-field rules: a rule returns the problems it finds in one spec. */

export type Path = (string | number)[];
export interface Problem {
  path: Path;
  message: string;
}
/** One cross-field rule: `when` returns the problems it finds (empty when the spec complies). */
export interface Rule<T> {
  when: (spec: T, now: Date) => Problem[];
}
export const check = (failed: boolean, path: Path, message: string): Problem[] =>
  failed ? [{ path, message }] : [];

/** What the ramp rules read of a spec: its phase, ramp and the ramp's percent key. */
type Ramped = { readonly phase: string; readonly ramp: readonly number[] } & Partial<Record<string, unknown>>;

/**
 * The rules every kind with a ramp shares: the percent is one of the ramp steps, the ramp phase needs it,
 * and no other phase carries it. Same messages for both kinds.
 */
export function rampRules<T extends Ramped>(key: string, rampPhase: string): Rule<T>[] {
  const pct = (s: T) => s[key] as number | undefined;
  return [
    {
      when: (s) =>
        check(
          pct(s) !== undefined && !s.ramp.includes(pct(s)!),
          [key],
          `expected one of the ramp steps ${s.ramp.join(", ")}, got ${pct(s)}; hint: add the step to ramp or pick one of its values`,
        ),
    },
    {
      when: (s) =>
        check(
          s.phase === rampPhase && pct(s) === undefined,
          [key],
          `phase ${rampPhase} needs ${key} (one of ${s.ramp.join(", ")}); hint: pulumi config set --path 'cutover:migrations.<name>.${key}' ${s.ramp[0]}`,
        ),
    },
    onlyInPhase<T>(key, rampPhase),
  ];
}

/** A key that applies in one phase only: anywhere else it is refused, always with the same message. */
export function onlyInPhase<T extends { readonly phase: string }>(key: string, phase: string): Rule<T> {
  return {
    when: (s) =>
      check(
        s.phase !== phase && (s as Record<string, unknown>)[key] !== undefined,
        [key],
        `${key} only applies in phase ${phase} (phase is ${s.phase}); hint: remove it when moving on`,
      ),
  };
}

export function duplicates(values: string[]): string[] {
  return [...new Set(values.filter((v, i) => values.indexOf(v) !== i))];
}
