/**
 * The rehearsal as a picture: a timeline (SVG) with the positions as bands, writes accepted and refused
 * per second as stacked bars, errors, p99 latency as a line, and the write-unavailability window marked;
 * and an HTML report that embeds it beside the figures. Plain SVG, no script, no external resource.
 */
import { esc, greatest, p99Of, timelineChart } from "./chart";
import type { RehearsalReport } from "./run";

interface Second {
  accepted: number;
  refused: number;
  errors: number;
  p99: number;
}

/** Writes of each second of the run. */
export function perSecond(report: RehearsalReport): Second[] {
  const writes = report.samples.filter((s) => s.kind === "write");
  const seconds = Math.max(1, Math.ceil(greatest(writes, (s) => s.t) / 1000) + 1);
  const out: Second[] = Array.from({ length: seconds }, () => ({
    accepted: 0,
    refused: 0,
    errors: 0,
    p99: 0,
  }));
  const lat: number[][] = out.map(() => []);
  for (const s of writes) {
    const i = Math.floor(s.t / 1000);
    if (s.status >= 200 && s.status < 300) out[i].accepted++;
    else if (s.status === 503) out[i].refused++;
    else out[i].errors++;
    if (s.status > 0) lat[i].push(s.ms);
  }
  lat.forEach((l, i) => (out[i].p99 = p99Of(l)));
  return out;
}

export function timelineSvg(report: RehearsalReport): string {
  const w = report.window;
  return timelineChart({
    title: `Rehearsal of ${report.stack}/${report.migration}: ${report.writes.acknowledged} writes acknowledged, ${report.writes.lost} lost`,
    yLabel: "writes / s",
    stacks: [
      { what: "accepted", color: "#2ca02c", label: "writes accepted" },
      { what: "refused", color: "#ff7f0e", label: "writes refused (503)" },
      { what: "errors", color: "#d62728", label: "errors" },
    ],
    seconds: perSecond(report).map((s) => ({ counts: [s.accepted, s.refused, s.errors], p99: s.p99 })),
    bands: report.phases.map((p) => ({
      ...p,
      title: `${p.position}: ${p.writes.accepted} accepted, ${p.writes.refused} refused, p99 ${p.latencyMs.p99} ms`,
    })),
    // The two windows: some writes refused (outer, lighter), all writes refused (inner).
    windows: [
      ...(w.firstRefusedMs !== null && w.allAcceptedMs !== null
        ? [
            {
              from: w.firstRefusedMs,
              to: w.allAcceptedMs,
              cls: "window-some",
              label: "some writes refused",
              opacity: 0.08,
              y: 32,
            },
          ]
        : []),
      ...(w.firstRefusedMs !== null && w.firstOnDestinationMs !== null
        ? [
            {
              from: w.firstRefusedMs,
              to: w.firstOnDestinationMs,
              cls: "window",
              label: "all writes refused",
              opacity: 0.18,
              y: 16,
            },
          ]
        : []),
    ],
    footer: `${report.writes.acknowledged} acknowledged · ${report.writes.lost} lost · ${report.sequenceCollisions} sequence collisions`,
  });
}

/** The HTML report: the figures, the timeline, the positions. */
const secondsOf = (ms: number | null) => (ms === null ? "n/a" : `${(ms / 1000).toFixed(1)} s`);

export function reportHtml(
  report: RehearsalReport,
  text: string,
  drills: readonly RehearsalReport[] = [],
): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Rehearsal ${esc(report.stack)}/${esc(report.migration)}</title>
<style>body{font-family:system-ui,sans-serif;margin:24px;color:#1b2433}pre{background:#f5f7fa;padding:12px;overflow:auto}
.ok{color:#2c7a2c}.bad{color:#b32020}</style></head><body>
<h1>Rehearsal of ${esc(report.stack)}/${esc(report.migration)}</h1>
<p class="${report.writes.lost === 0 && report.sequenceCollisions === 0 ? "ok" : "bad"}"><strong>${report.writes.lost} writes lost</strong>, ${report.sequenceCollisions} sequence collisions, ${report.writes.acknowledged} writes acknowledged; all writes refused ${secondsOf(report.window.allRefusedMs)}, some writes refused ${secondsOf(report.window.someRefusedMs)} here; projected in production ${Math.round(report.projection.allRefusedSeconds)} s and ${Math.round(report.projection.someRefusedSeconds)} s.</p>
${timelineSvg(report)}
<pre>${esc(text)}</pre>
${drills.map((d) => `<h2>Drill: rollback from ${esc(d.drill!.from)}</h2>\n${timelineSvg(d)}`).join("\n")}
</body></html>
`;
}
