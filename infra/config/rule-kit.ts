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

export function duplicates(values: string[]): string[] {
  return [...new Set(values.filter((v, i) => values.indexOf(v) !== i))];
}
