/**
 * The candidate revision's requests, 5xx answers and p95 latency over a window, from the Cloud
 * Monitoring API v3 (`projects.timeSeries.list`). Any failure is returned as data, never thrown: the
 * gate holds on it.
 */
import type { CandidateMetrics } from "./decide";

export interface MetricsQuery {
  readonly project: string;
  readonly service: string;
  readonly revision: string;
  readonly start: Date;
  readonly end: Date;
  /** OAuth access token (never printed). */
  readonly token: string;
  /** @default "https://monitoring.googleapis.com" */
  readonly endpoint?: string;
  readonly timeoutMs?: number;
}

interface TimeSeries {
  readonly metric?: { readonly labels?: Record<string, string> };
  readonly points?: readonly { readonly value?: { int64Value?: string; doubleValue?: number } }[];
}

function filterOf(q: MetricsQuery, metric: string): string {
  return [
    `metric.type="run.googleapis.com/${metric}"`,
    'resource.type="cloud_run_revision"',
    `resource.labels.service_name="${q.service}"`,
    `resource.labels.revision_name="${q.revision}"`,
  ].join(" AND ");
}

async function listTimeSeries(q: MetricsQuery, params: Record<string, string>): Promise<TimeSeries[]> {
  const url = new URL(
    `/v3/projects/${encodeURIComponent(q.project)}/timeSeries`,
    q.endpoint ?? "https://monitoring.googleapis.com",
  );
  const seconds = Math.max(60, Math.ceil((q.end.getTime() - q.start.getTime()) / 1000));
  const all: Record<string, string> = {
    "interval.startTime": q.start.toISOString(),
    "interval.endTime": q.end.toISOString(),
    "aggregation.alignmentPeriod": `${seconds}s`,
    ...params,
  };
  for (const [k, v] of Object.entries(all)) url.searchParams.set(k, v);
  const res = await fetch(url, {
    headers: { authorization: `Bearer ${q.token}` },
    signal: AbortSignal.timeout(q.timeoutMs ?? 15_000),
  });
  const text = await res.text();
  if (!res.ok) {
    const message = (() => {
      try {
        return (JSON.parse(text) as { error?: { message?: string } }).error?.message;
      } catch {
        return undefined;
      }
    })();
    throw new Error(`HTTP ${res.status}${message ? ` (${message})` : ""}`);
  }
  return ((JSON.parse(text) as { timeSeries?: TimeSeries[] }).timeSeries ?? []) as TimeSeries[];
}

const sumInt = (series: readonly TimeSeries[]) =>
  series.flatMap((s) => s.points ?? []).reduce((n, p) => n + Number(p.value?.int64Value ?? 0), 0);

export async function readCandidateMetrics(q: MetricsQuery): Promise<CandidateMetrics> {
  try {
    const counts = await listTimeSeries(q, {
      filter: filterOf(q, "request_count"),
      "aggregation.perSeriesAligner": "ALIGN_DELTA",
      "aggregation.crossSeriesReducer": "REDUCE_SUM",
      "aggregation.groupByFields": "metric.labels.response_code_class",
    });
    const latency = await listTimeSeries(q, {
      filter: filterOf(q, "request_latencies"),
      "aggregation.perSeriesAligner": "ALIGN_PERCENTILE_95",
      "aggregation.crossSeriesReducer": "REDUCE_MAX",
    });
    const p95 = latency.flatMap((s) => s.points ?? []).map((p) => p.value?.doubleValue);
    const known = p95.filter((v): v is number => typeof v === "number");
    return {
      kind: "data",
      requests: sumInt(counts),
      errors5xx: sumInt(counts.filter((s) => s.metric?.labels?.response_code_class === "5xx")),
      ...(known.length ? { latencyP95Ms: Math.max(...known) } : {}),
    };
  } catch (error) {
    return { kind: "error", message: (error as Error).message };
  }
}
