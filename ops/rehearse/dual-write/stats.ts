/** The figures of a band of requests: by the store that answered, errors, stale reads and latency. */
import type { CaptureSummary } from "../../capture/worker-spec";
import type { ApiSample } from "./load";
import type { StoreStats } from "./report";

export const ok = (status: number) => status >= 200 && status < 300;
export const pct = (sorted: readonly number[], p: number) =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const sortedMs = (s: readonly ApiSample[]) => s.map((x) => x.ms).sort((a, b) => a - b);

/** Requests of a band, by the store that answered reads, with errors and latency. */
export function bandStats(samples: readonly ApiSample[]) {
  const reads = samples.filter((s) => s.op === "read");
  const writes = samples.filter((s) => s.op !== "read");
  const readsByStore: Record<string, StoreStats> = {};
  for (const store of ["legacy", "new"]) {
    const of = reads.filter((s) => s.store === store);
    if (of.length === 0) continue;
    const ms = sortedMs(of);
    readsByStore[store] = {
      requests: of.length,
      errors: of.filter((s) => s.status !== 200 && s.status !== 404).length,
      p50Ms: pct(ms, 50),
      p99Ms: pct(ms, 99),
    };
  }
  const all = sortedMs(samples);
  return {
    writes: {
      acknowledged: writes.filter((s) => ok(s.status)).length,
      errors: writes.filter((s) => !ok(s.status)).length,
    },
    reads: {
      total: reads.length,
      stale: reads.filter((s) => s.stale).length,
      errors: reads.filter((s) => s.status !== 200 && s.status !== 404).length,
    },
    readsByStore,
    latencyMs: { p50: pct(all, 50), p99: pct(all, 99) },
  };
}

/**
 * The change capture's capture-to-apply time over the capture Worker's runs: the changes applied, the
 * median of the runs' medians weighted by what each applied, the highest run's p99 and the highest time.
 */
export function captureLagOf(runs: readonly CaptureSummary[]) {
  const applying = runs.filter((r) => r.applied > 0 && r.latencyMs.p50 !== null);
  const applied = applying.reduce((n, r) => n + r.applied, 0);
  const byMedian = [...applying].sort((a, b) => a.latencyMs.p50! - b.latencyMs.p50!);
  let seen = 0;
  const p50 = byMedian.find((r) => (seen += r.applied) >= applied / 2)?.latencyMs.p50 ?? 0;
  const highest = (f: (r: CaptureSummary) => number | null) => Math.max(0, ...applying.map((r) => f(r) ?? 0));
  return {
    applied,
    runs: runs.length,
    p50,
    p99: highest((r) => r.latencyMs.p99),
    max: highest((r) => r.latencyMs.max),
  };
}
