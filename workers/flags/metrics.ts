/**
 * Every store call the flags module makes, reported to Workers Analytics Engine when the Worker binds a
 * dataset (CUTOVER_METRICS): one data point per call — index1 the migration; blob1 the store (`legacy` or
 * `new`), blob2 the operation (`read`, `write`, `shadow-write`), blob3 the outcome (`ok`, `error`);
 * double1 its duration in ms. `cutover advance` judges the read switch from them (ops/advance/store-health.ts).
 * Writing a data point never blocks or fails the request.
 */
import type { Store } from "./flags";

/** The binding's surface (an AnalyticsEngineDataset). */
export interface MetricsDataset {
  writeDataPoint(point: { blobs?: string[]; doubles?: number[]; indexes?: string[] }): void;
}

export type StoreOp = "read" | "write" | "shadow-write";

/** Runs one store call and reports it; the call's result or error is passed on unchanged. */
export async function timed<T>(
  metrics: MetricsDataset | undefined,
  migration: string,
  store: Store,
  op: StoreOp,
  call: () => Promise<T>,
): Promise<T> {
  if (!metrics) return call();
  const started = Date.now();
  const report = (outcome: "ok" | "error") => {
    try {
      metrics.writeDataPoint({
        indexes: [migration],
        blobs: [store, op, outcome],
        doubles: [Date.now() - started],
      });
    } catch {
      // Metrics are never worth a failed request.
    }
  };
  try {
    const result = await call();
    report("ok");
    return result;
  } catch (error) {
    report("error");
    throw error;
  }
}
