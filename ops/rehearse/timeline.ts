/**
 * The rehearsal as a picture: a timeline (SVG) with the positions as bands, writes accepted and refused
 * per second as stacked bars, errors, p99 latency as a line, and the write-unavailability window marked;
 * and an HTML report that embeds it beside the figures. Plain SVG, no script, no external resource.
 */
import type { RehearsalReport } from "./run";

const W = 1100;
const H = 380;
const M = { left: 56, right: 64, top: 48, bottom: 64 };
const esc = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

interface Second {
  accepted: number;
  refused: number;
  errors: number;
  p99: number;
}

/** Writes of each second of the run. */
export function perSecond(report: RehearsalReport): Second[] {
  const writes = report.samples.filter((s) => s.kind === "write");
  const seconds = Math.max(1, Math.ceil(Math.max(0, ...writes.map((s) => s.t)) / 1000) + 1);
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
  lat.forEach((l, i) => {
    l.sort((a, b) => a - b);
    out[i].p99 = l.length ? l[Math.min(l.length - 1, Math.floor(0.99 * l.length))] : 0;
  });
  return out;
}

export function timelineSvg(report: RehearsalReport): string {
  const secs = perSecond(report);
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const x = (ms: number) => M.left + (ms / 1000 / secs.length) * plotW;
  // Headroom above the tallest bar for the window's label.
  const maxWrites = Math.ceil(Math.max(1, ...secs.map((s) => s.accepted + s.refused + s.errors)) * 1.3);
  const maxLat = Math.max(1, ...secs.map((s) => s.p99));
  const yW = (n: number) => M.top + plotH - (n / maxWrites) * plotH;
  const yL = (ms: number) => M.top + plotH - (ms / maxLat) * plotH;
  const barW = Math.max(1, plotW / secs.length - 1);
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="system-ui, sans-serif" font-size="11">`,
    `<title>Rehearsal of ${esc(report.stack)}/${esc(report.migration)}: ${report.writes.acknowledged} writes acknowledged, ${report.writes.lost} lost</title>`,
    `<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`,
  );
  // Positions as bands.
  report.phases.forEach((p, i) => {
    const x0 = x(p.startMs);
    const x1 = x(p.endMs);
    parts.push(
      `<rect class="band" x="${x0.toFixed(1)}" y="${M.top}" width="${Math.max(0, x1 - x0).toFixed(1)}" height="${plotH}" fill="${i % 2 ? "#f3f6fa" : "#e8eef6"}"><title>${esc(p.position)}: ${p.writes.accepted} accepted, ${p.writes.refused} refused, p99 ${p.latencyMs.p99} ms</title></rect>`,
      `<text x="${((x0 + x1) / 2).toFixed(1)}" y="${M.top - 8 - (i % 2) * 12}" text-anchor="middle" fill="#33415c">${esc(p.position)}</text>`,
    );
  });
  // Writes per second: accepted (green), refused (orange) and errors (red), stacked.
  secs.forEach((s, i) => {
    const bx = (M.left + (i / secs.length) * plotW).toFixed(1);
    let base = 0;
    for (const [n, color, what] of [
      [s.accepted, "#2ca02c", "accepted"],
      [s.refused, "#ff7f0e", "refused"],
      [s.errors, "#d62728", "errors"],
    ] as const) {
      if (n === 0) continue;
      parts.push(
        `<rect class="${what}" x="${bx}" y="${yW(base + n).toFixed(1)}" width="${barW.toFixed(1)}" height="${(yW(base) - yW(base + n)).toFixed(1)}" fill="${color}" fill-opacity="0.85"><title>${i} s: ${n} ${what}</title></rect>`,
      );
      base += n;
    }
  });
  // Position boundaries over the bars.
  for (const p of report.phases.slice(1))
    parts.push(
      `<line x1="${x(p.startMs).toFixed(1)}" y1="${M.top}" x2="${x(p.startMs).toFixed(1)}" y2="${M.top + plotH}" stroke="#33415c" stroke-opacity="0.5" stroke-dasharray="2 3"/>`,
    );
  // The two windows: some writes refused (outer, lighter), all writes refused (inner).
  const w = report.window;
  const band = (from: number, to: number, cls: string, label: string, opacity: number, y: number) => {
    const x0 = x(from);
    const x1 = x(to);
    const seconds = ((to - from) / 1000).toFixed(1);
    parts.push(
      `<rect class="${cls}" x="${x0.toFixed(1)}" y="${M.top}" width="${(x1 - x0).toFixed(1)}" height="${plotH}" fill="#d62728" fill-opacity="${opacity}" stroke="#d62728" stroke-width="1.5" stroke-dasharray="5 3"><title>${label}: ${seconds} s</title></rect>`,
      `<text x="${((x0 + x1) / 2).toFixed(1)}" y="${M.top + y}" text-anchor="middle" fill="#b31b1b" font-weight="700" font-size="12">${label} ${seconds} s</text>`,
    );
  };
  if (w.firstRefusedMs !== null && w.allAcceptedMs !== null)
    band(w.firstRefusedMs, w.allAcceptedMs, "window-some", "some writes refused", 0.08, 32);
  if (w.firstRefusedMs !== null && w.firstOnDestinationMs !== null)
    band(w.firstRefusedMs, w.firstOnDestinationMs, "window", "all writes refused", 0.18, 16);
  // p99 latency per second.
  const pts = secs
    .map((s, i) =>
      s.p99 > 0 ? `${(M.left + ((i + 0.5) / secs.length) * plotW).toFixed(1)},${yL(s.p99).toFixed(1)}` : "",
    )
    .filter(Boolean);
  if (pts.length > 1)
    parts.push(
      `<polyline class="p99" points="${pts.join(" ")}" fill="none" stroke="#1f3b73" stroke-width="1.5"/>`,
    );
  // Axes and legend.
  const bottom = M.top + plotH;
  parts.push(
    `<line x1="${M.left}" y1="${bottom}" x2="${W - M.right}" y2="${bottom}" stroke="#555"/>`,
    `<line x1="${M.left}" y1="${M.top}" x2="${M.left}" y2="${bottom}" stroke="#555"/>`,
    `<line x1="${W - M.right}" y1="${M.top}" x2="${W - M.right}" y2="${bottom}" stroke="#555"/>`,
    `<text x="${M.left - 6}" y="${M.top + 4}" text-anchor="end">${maxWrites}</text>`,
    `<text x="${M.left - 6}" y="${bottom}" text-anchor="end">0</text>`,
    `<text x="14" y="${M.top + plotH / 2}" transform="rotate(-90 14 ${M.top + plotH / 2})" text-anchor="middle">writes / s</text>`,
    `<text x="${W - M.right + 6}" y="${M.top + 4}">${maxLat} ms</text>`,
    `<text x="${W - 14}" y="${M.top + plotH / 2}" transform="rotate(90 ${W - 14} ${M.top + plotH / 2})" text-anchor="middle">p99 latency</text>`,
  );
  const step = secs.length > 120 ? 30 : secs.length > 40 ? 10 : 5;
  for (let t = 0; t < secs.length; t += step)
    parts.push(`<text x="${x(t * 1000).toFixed(1)}" y="${bottom + 14}" text-anchor="middle">${t} s</text>`);
  const ly = H - 18;
  const legend: [string, string][] = [
    ["#2ca02c", "writes accepted"],
    ["#ff7f0e", "writes refused (503)"],
    ["#d62728", "errors"],
    ["#1f3b73", "p99 latency"],
  ];
  legend.forEach(([color, label], i) => {
    const lx = M.left + i * 170;
    parts.push(
      `<rect x="${lx}" y="${ly - 9}" width="12" height="10" fill="${color}"/>`,
      `<text x="${lx + 16}" y="${ly}">${label}</text>`,
    );
  });
  parts.push(
    `<text x="${W - M.right}" y="${ly}" text-anchor="end">${report.writes.acknowledged} acknowledged · ${report.writes.lost} lost · ${report.sequenceCollisions} sequence collisions</text>`,
    "</svg>",
  );
  return parts.join("\n") + "\n";
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
