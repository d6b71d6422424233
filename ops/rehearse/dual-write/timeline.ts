/**
 * The runbook-2 rehearsal as a picture: per second, writes and the reads each store served (legacy, the
 * new stores), errors and stale reads, p99 latency, with the positions as bands; and the HTML report.
 */
import { esc, greatest, p99Of, timelineChart } from "../chart";
import { dualWritePassed, type DualWriteReport } from "./report";

const STACKS = [
  { what: "writes", color: "#7f7f7f", label: "writes" },
  { what: "legacy-reads", color: "#1f77b4", label: "reads from legacy" },
  { what: "new-reads", color: "#2ca02c", label: "reads from new stores" },
  { what: "errors", color: "#d62728", label: "errors" },
  { what: "stale", color: "#000000", label: "stale reads" },
] as const;

/** Requests of each second, counted per stack, with their p99 latency. */
export function dualWritePerSecond(r: DualWriteReport): { counts: number[]; p99: number }[] {
  const seconds = Math.max(1, Math.ceil(greatest(r.samples, (s) => s.t) / 1000) + 1);
  const out = Array.from({ length: seconds }, () => ({ counts: STACKS.map(() => 0), p99: 0 }));
  const lat: number[][] = out.map(() => []);
  for (const s of r.samples) {
    const i = Math.floor(s.t / 1000);
    const failed = s.status === 0 || s.status >= 500;
    const k = failed ? 3 : s.stale ? 4 : s.op !== "read" ? 0 : s.store === "new" ? 2 : 1;
    out[i].counts[k]++;
    if (s.status > 0) lat[i].push(s.ms);
  }
  lat.forEach((l, i) => (out[i].p99 = p99Of(l)));
  return out;
}

export function dualWriteTimelineSvg(r: DualWriteReport): string {
  return timelineChart({
    title: `Rehearsal of ${r.stack}/${r.migration}${r.drill ? ` (drill: rollback from ${r.drill.from})` : ""}: ${r.writes.acknowledged} writes acknowledged, ${r.writes.lost} lost, ${r.reads.stale} stale reads`,
    yLabel: "requests / s",
    stacks: STACKS,
    seconds: dualWritePerSecond(r),
    bands: r.phases.map((p) => ({
      ...p,
      title: `${p.position}: flags ${p.flags ? `${p.flags.writeMode} ${p.flags.readPercent}%` : "none"}, ${p.writes.acknowledged} writes, ${p.reads.total} reads (${p.reads.stale} stale), p99 ${p.latencyMs.p99} ms`,
    })),
    footer: `${r.writes.acknowledged} acknowledged · ${r.writes.lost} lost · ${r.reads.stale} stale reads`,
  });
}

export function dualWriteReportHtml(
  r: DualWriteReport,
  text: string,
  drills: readonly DualWriteReport[],
): string {
  const ok = dualWritePassed(r) && drills.every(dualWritePassed);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Rehearsal ${esc(r.stack)}/${esc(r.migration)}</title>
<style>body{font-family:system-ui,sans-serif;margin:24px;color:#1b2433}pre{background:#f5f7fa;padding:12px;overflow:auto}
.ok{color:#2c7a2c}.bad{color:#b32020}</style></head><body>
<h1>Rehearsal of ${esc(r.stack)}/${esc(r.migration)} (dual-write)</h1>
<p class="${ok ? "ok" : "bad"}"><strong>${r.writes.lost} writes lost</strong>, ${r.reads.stale} stale reads, ${r.writes.acknowledged} writes acknowledged; stores at the final cut ${r.storesEqualAtCut ? (r.storesEqualAtCut.equal ? "equal" : "DIFFERENT") : "not reached"}; ${drills.length} drill(s), ${drills.filter((d) => d.drill?.serviceOk).length} back to a working service.</p>
${dualWriteTimelineSvg(r)}
<pre>${esc(text)}</pre>
${drills.map((d) => `<h2>Drill: rollback from ${esc(d.drill!.from)}</h2>\n${dualWriteTimelineSvg(d)}`).join("\n")}
</body></html>
`;
}
