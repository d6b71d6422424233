/**
 * `cutover rehearse --migration <dual-write migration>`: runbook 2's dress rehearsal (ops/rehearse/
 * dual-write): the walk from baseline to the final cut under load through the API Worker, then one
 * drill per phase asked, each on a fresh stand-in; the report as text or JSON, the timelines (SVG) and
 * the HTML report in --out. Exit 0 when no acknowledged write was lost, no read was stale, the stores
 * were equal at the cut, and every gate and drill passed.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { KINDS } from "../../infra/engine/kinds";
import { UsageError } from "../shell";
import { dualWritePassed, renderDualWrite, type DualWriteReport } from "../../ops/rehearse/dual-write/report";
import { rehearseDualWrite } from "../../ops/rehearse/dual-write/run";
import { dualWriteReportHtml, dualWriteTimelineSvg } from "../../ops/rehearse/dual-write/timeline";

/** What a rehearsal leaves in --out: the timelines, the HTML report and the full JSON. */
export function writeRehearsalFiles(
  out: string,
  files: {
    readonly timeline: string;
    readonly drills: readonly { readonly from: string; readonly timeline: string }[];
    readonly html: string;
    readonly json: unknown;
  },
): void {
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, "timeline.svg"), files.timeline);
  for (const d of files.drills) fs.writeFileSync(path.join(out, `timeline-drill-${d.from}.svg`), d.timeline);
  fs.writeFileSync(path.join(out, "report.html"), files.html);
  fs.writeFileSync(path.join(out, "report.json"), JSON.stringify(files.json) + "\n");
  process.stderr.write(
    `rehearse: timeline ${path.join(out, "timeline.svg")}, report ${path.join(out, "report.html")}\n`,
  );
}

export interface DualWriteFlags {
  readonly stack: string;
  readonly migration: string;
  readonly rows: number;
  readonly rate: number;
  readonly bake: number;
  readonly users?: number;
  readonly drill?: string;
  readonly json?: boolean;
  readonly out: string;
}

/** The cloudsql rehearsal's own flags: named when given to a dual-write one. */
export const CLOUDSQL_ONLY = [
  ["appCmd", "--app-cmd"],
  ["schemaCmd", "--schema-cmd"],
  ["seedSql", "--seed-sql"],
  ["write", "--write"],
  ["writeBody", "--write-body"],
  ["read", "--read"],
  ["ack", "--ack"],
  ["replication", "--replication"],
  ["writeMove", "--write-move"],
  ["promoteDelay", "--promote-delay"],
  ["upSeconds", "--up-seconds"],
  ["convergenceSeconds", "--convergence-seconds"],
] as const;

export function dualWriteDrills(drill: string | undefined): string[] {
  const origins = KINDS["dual-write"].rollbackOrigins;
  const drills = drill === "all" ? [...origins] : (drill?.split(",").filter(Boolean) ?? []);
  const unknown = drills.filter((d) => !origins.includes(d));
  if (unknown.length)
    throw new UsageError(
      `--drill ${unknown.join(",")}: not a phase a dual-write rollback can leave`,
      `one or more of ${origins.join(", ")}, or all`,
    );
  return drills;
}

export async function rehearseDualWriteCommand(
  opts: DualWriteFlags,
  log: (prefix: string) => (line: string) => void,
): Promise<number> {
  const drills = dualWriteDrills(opts.drill);
  fs.mkdirSync(opts.out, { recursive: true });
  const common = {
    stack: opts.stack,
    migration: opts.migration,
    rows: opts.rows,
    rate: opts.rate,
    bakeSeconds: opts.bake,
    ...(opts.users !== undefined ? { users: opts.users } : {}),
  };
  const work = path.join(opts.out, "stand-in");
  const report = await rehearseDualWrite({ ...common, workDir: path.join(work, "walk"), log: log("") });
  const drillRuns: DualWriteReport[] = [];
  for (const d of drills)
    drillRuns.push(
      await rehearseDualWrite({
        ...common,
        drill: d,
        workDir: path.join(work, `drill-${d}`),
        log: log(`[drill ${d}] `),
      }),
    );
  const ok = dualWritePassed(report) && drillRuns.every(dualWritePassed);
  const text = [report, ...drillRuns].map(renderDualWrite).join("\n");
  writeRehearsalFiles(opts.out, {
    timeline: dualWriteTimelineSvg(report),
    drills: drillRuns.map((r) => ({ from: r.drill!.from, timeline: dualWriteTimelineSvg(r) })),
    html: dualWriteReportHtml(report, text, drillRuns),
    json: { passed: ok, ...report, drills: drillRuns },
  });
  if (opts.json) {
    const brief = ({ samples, ...rest }: DualWriteReport) => ({ ...rest, samples: samples.length });
    process.stdout.write(
      JSON.stringify({ passed: ok, ...brief(report), drills: drillRuns.map(brief) }, null, 2) + "\n",
    );
  } else process.stdout.write(text);
  return ok ? 0 : 1;
}
