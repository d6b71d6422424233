/**
 * One rehearsal timeline as plain SVG (no script, no external resource): the positions as bands,
 * requests per second as stacked bars, p99 latency as a line, and optional windows marked. Both
 * rehearsals (cloudsql and dual-write) draw with it.
 */

/**
 * The greatest `of(x)` over `xs` (at least `floor`), by a loop: `Math.max(...xs)` passes every value as
 * an argument and overflows the stack past ~100,000 of them — the samples of a million-row rehearsal.
 */
export function greatest<T>(xs: readonly T[], of: (x: T) => number, floor = 0): number {
  let m = floor;
  for (const x of xs) m = Math.max(m, of(x));
  return m;
}

const W = 1100;
const H = 380;
const M = { left: 56, right: 64, top: 48, bottom: 64 };
export const esc = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** One stacked part of a second's bar. */
export interface Stack {
  readonly what: string;
  readonly color: string;
  readonly label: string;
}

export interface ChartSpec {
  readonly title: string;
  readonly yLabel: string;
  readonly stacks: readonly Stack[];
  /** Per second: a count per stack (same order) and the p99 latency. */
  readonly seconds: readonly { readonly counts: readonly number[]; readonly p99: number }[];
  readonly bands: readonly {
    readonly position: string;
    readonly startMs: number;
    readonly endMs: number;
    readonly title: string;
  }[];
  readonly windows?: readonly {
    readonly from: number;
    readonly to: number;
    readonly cls: string;
    readonly label: string;
    readonly opacity: number;
    readonly y: number;
  }[];
  readonly footer: string;
}

/** p99 of each second's latencies (sorted in place). */
export const p99Of = (l: number[]) => {
  l.sort((a, b) => a - b);
  return l.length ? l[Math.min(l.length - 1, Math.floor(0.99 * l.length))] : 0;
};

export function timelineChart(c: ChartSpec): string {
  const secs = c.seconds.length ? c.seconds : [{ counts: c.stacks.map(() => 0), p99: 0 }];
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const x = (ms: number) => M.left + (ms / 1000 / secs.length) * plotW;
  // Headroom above the tallest bar for the window's label.
  const maxN = Math.ceil(greatest(secs, (s) => s.counts.reduce((a, b) => a + b, 0), 1) * 1.3);
  const maxLat = Math.max(1, ...secs.map((s) => s.p99));
  const yW = (n: number) => M.top + plotH - (n / maxN) * plotH;
  const yL = (ms: number) => M.top + plotH - (ms / maxLat) * plotH;
  const barW = Math.max(1, plotW / secs.length - 1);
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="system-ui, sans-serif" font-size="11">`,
    `<title>${esc(c.title)}</title>`,
    `<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`,
  );
  // Positions as bands.
  c.bands.forEach((p, i) => {
    const x0 = x(p.startMs);
    const x1 = x(p.endMs);
    parts.push(
      `<rect class="band" x="${x0.toFixed(1)}" y="${M.top}" width="${Math.max(0, x1 - x0).toFixed(1)}" height="${plotH}" fill="${i % 2 ? "#f3f6fa" : "#e8eef6"}"><title>${esc(p.title)}</title></rect>`,
      `<text x="${((x0 + x1) / 2).toFixed(1)}" y="${M.top - 8 - (i % 2) * 12}" text-anchor="middle" fill="#33415c">${esc(p.position)}</text>`,
    );
  });
  // Requests per second, stacked.
  secs.forEach((s, i) => {
    const bx = (M.left + (i / secs.length) * plotW).toFixed(1);
    let base = 0;
    c.stacks.forEach((stack, k) => {
      const n = s.counts[k];
      if (n === 0) return;
      parts.push(
        `<rect class="${stack.what}" x="${bx}" y="${yW(base + n).toFixed(1)}" width="${barW.toFixed(1)}" height="${(yW(base) - yW(base + n)).toFixed(1)}" fill="${stack.color}" fill-opacity="0.85"><title>${i} s: ${n} ${stack.what}</title></rect>`,
      );
      base += n;
    });
  });
  // Position boundaries over the bars.
  for (const p of c.bands.slice(1))
    parts.push(
      `<line x1="${x(p.startMs).toFixed(1)}" y1="${M.top}" x2="${x(p.startMs).toFixed(1)}" y2="${M.top + plotH}" stroke="#33415c" stroke-opacity="0.5" stroke-dasharray="2 3"/>`,
    );
  for (const w of c.windows ?? []) {
    const x0 = x(w.from);
    const x1 = x(w.to);
    const seconds = ((w.to - w.from) / 1000).toFixed(1);
    parts.push(
      `<rect class="${w.cls}" x="${x0.toFixed(1)}" y="${M.top}" width="${(x1 - x0).toFixed(1)}" height="${plotH}" fill="#d62728" fill-opacity="${w.opacity}" stroke="#d62728" stroke-width="1.5" stroke-dasharray="5 3"><title>${w.label}: ${seconds} s</title></rect>`,
      `<text x="${((x0 + x1) / 2).toFixed(1)}" y="${M.top + w.y}" text-anchor="middle" fill="#b31b1b" font-weight="700" font-size="12">${w.label} ${seconds} s</text>`,
    );
  }
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
    `<text x="${M.left - 6}" y="${M.top + 4}" text-anchor="end">${maxN}</text>`,
    `<text x="${M.left - 6}" y="${bottom}" text-anchor="end">0</text>`,
    `<text x="14" y="${M.top + plotH / 2}" transform="rotate(-90 14 ${M.top + plotH / 2})" text-anchor="middle">${esc(c.yLabel)}</text>`,
    `<text x="${W - M.right + 6}" y="${M.top + 4}">${maxLat} ms</text>`,
    `<text x="${W - 14}" y="${M.top + plotH / 2}" transform="rotate(90 ${W - 14} ${M.top + plotH / 2})" text-anchor="middle">p99 latency</text>`,
  );
  const step = secs.length > 120 ? 30 : secs.length > 40 ? 10 : 5;
  for (let t = 0; t < secs.length; t += step)
    parts.push(`<text x="${x(t * 1000).toFixed(1)}" y="${bottom + 14}" text-anchor="middle">${t} s</text>`);
  const ly = H - 18;
  const legend: [string, string][] = [
    ...c.stacks.map((s) => [s.color, s.label] as [string, string]),
    ["#1f3b73", "p99 latency"],
  ];
  legend.forEach(([color, label], i) => {
    const lx = M.left + i * 150;
    parts.push(
      `<rect x="${lx}" y="${ly - 9}" width="12" height="10" fill="${color}"/>`,
      `<text x="${lx + 16}" y="${ly}">${label}</text>`,
    );
  });
  parts.push(`<text x="${W - M.right}" y="${ly}" text-anchor="end">${esc(c.footer)}</text>`, "</svg>");
  return parts.join("\n") + "\n";
}
