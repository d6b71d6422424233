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

const HOUR_MS = 3_600_000;
/** Milliseconds left until `hours` after `since` (negative once the window is over). */
export const waitLeft = (since: string, hours: number, now: Date): number =>
  Date.parse(since) + hours * HOUR_MS - now.getTime();
export const formatDuration = (ms: number): string => {
  const h = Math.ceil(ms / HOUR_MS);
  return h >= 48 ? `${Math.floor(h / 24)} d ${h % 24} h` : `${h} h`;
};

export function duplicates(values: string[]): string[] {
  return [...new Set(values.filter((v, i) => values.indexOf(v) !== i))];
}
