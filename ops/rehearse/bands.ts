/** A position's band of the rehearsal's timeline: its writes and their latency, from the recorded requests. */
import type { Load } from "./load";
import type { PhaseBand } from "./report";

export const accepted = (status: number) => status >= 200 && status < 300;

const pct = (sorted: readonly number[], p: number) =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

/** The band of `position` from `startMs` to `endMs` (ms since the load started). */
export function bandOf(
  load: Load,
  position: string,
  startMs: number,
  endMs: number,
  checks: PhaseBand["checks"],
): PhaseBand {
  const inBand = load.samples().filter((s) => s.kind === "write" && s.t >= startMs && s.t < endMs);
  const lat = inBand
    .filter((s) => s.status > 0)
    .map((s) => s.ms)
    .sort((a, b) => a - b);
  return {
    position,
    startMs,
    endMs,
    writes: {
      accepted: inBand.filter((s) => accepted(s.status)).length,
      refused: inBand.filter((s) => s.status === 503).length,
      errors: inBand.filter((s) => !accepted(s.status) && s.status !== 503).length,
    },
    latencyMs: { p50: pct(lat, 50), p99: pct(lat, 99) },
    checks,
  };
}
