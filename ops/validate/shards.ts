/**
 * Sharded validation: `--shard i/n` checks one slice of every table's key space (an integer key in value
 * ranges every shard derives alike, any other key by a hash class), and the shard reports merge into
 * one verdict only when they cover the key space exactly: every shard present once, the value ranges
 * tiling it with no gap and no overlap. A Cloud Run Job runs the shards as parallel tasks
 * (`--shard auto` reads CLOUD_RUN_TASK_INDEX / CLOUD_RUN_TASK_COUNT); `--shards n` runs them here as n
 * processes; `--merge` joins reports written elsewhere (files, or `gcloud logging read --format=json`).
 */
import { ValidateError } from "./errors";
import type { RunReport } from "./report";
import type { TableReport } from "./run";
import type { DifferenceKind } from "./types";

export interface Shard {
  readonly index: number;
  readonly count: number;
}

/** `i/n` (0-based), or `auto` from the Cloud Run task environment. */
export function parseShard(value: string, env: NodeJS.ProcessEnv): Shard {
  if (value === "auto") {
    const [i, n] = [env.CLOUD_RUN_TASK_INDEX, env.CLOUD_RUN_TASK_COUNT];
    if (i === undefined || n === undefined)
      throw new ValidateError(
        "--shard auto needs CLOUD_RUN_TASK_INDEX and CLOUD_RUN_TASK_COUNT",
        "Cloud Run Jobs set them in each task; elsewhere pass --shard <i>/<n>",
      );
    return checked(Number(i), Number(n), `task ${i} of ${n}`);
  }
  const m = /^(\d+)\/(\d+)$/.exec(value);
  if (!m) throw new ValidateError(`--shard ${value}: expected <index>/<count>`, "e.g. --shard 0/4 (0-based)");
  return checked(Number(m[1]), Number(m[2]), value);
}

function checked(index: number, count: number, shown: string): Shard {
  if (!Number.isInteger(count) || count < 1 || !Number.isInteger(index) || index < 0 || index >= count)
    throw new ValidateError(
      `--shard ${shown}: the index must be 0 … count-1 and the count at least 1`,
      "e.g. --shard 3/4",
    );
  return { index, count };
}

/** Shard reports from files: a JSON report, JSON lines, or Cloud Logging entries (`jsonPayload`). */
export function parseShardReports(texts: readonly { name: string; text: string }[]): RunReport[] {
  const reports: RunReport[] = [];
  const take = (v: unknown) => {
    const payload = (v as { jsonPayload?: unknown })?.jsonPayload ?? v;
    if (payload && typeof payload === "object" && Array.isArray((payload as RunReport).tables))
      reports.push(payload as RunReport);
  };
  for (const { name, text } of texts) {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      try {
        doc = text
          .split("\n")
          .filter((l) => l.trim())
          .map((l) => JSON.parse(l));
      } catch {
        throw new ValidateError(
          `${name} is neither JSON nor JSON lines`,
          "pass the output of validate --shard … --json",
        );
      }
    }
    for (const v of Array.isArray(doc) ? doc : [doc]) take(v);
  }
  return reports;
}

const KINDS: readonly DifferenceKind[] = ["missing", "extra", "changed"];

/** One table's shard reports joined, after checking they cover its key space exactly. */
function mergeTable(name: string, parts: readonly TableReport[], count: number): TableReport {
  const sliced = parts.filter((p) => p.slice);
  if (sliced.length === 0) return parts[0]; // e.g. a missing table: every shard says the same
  const byIndex = new Map<number, TableReport>();
  for (const p of sliced) {
    const s = p.slice!;
    if (s.count !== count)
      throw new ValidateError(
        `${name}: a report of shard ${s.index}/${s.count} among shards of ${count}`,
        "merge the reports of one run",
      );
    if (byIndex.has(s.index))
      throw new ValidateError(
        `${name}: shard ${s.index}/${count} reported twice`,
        "merge the reports of one run",
      );
    byIndex.set(s.index, p);
  }
  const absent = Array.from({ length: count }, (_, i) => i).filter((i) => !byIndex.has(i));
  if (absent.length)
    throw new ValidateError(
      `${name}: no report from shard(s) ${absent.map((i) => `${i}/${count}`).join(", ")}: the key space is not covered`,
      "rerun the missing shards (or the whole job) before merging",
    );
  const ordered = Array.from({ length: count }, (_, i) => byIndex.get(i)!);
  const kinds = new Set(ordered.map((p) => p.slice!.kind));
  if (kinds.size !== 1)
    throw new ValidateError(`${name}: shards sliced the key space in different ways`, "rerun the job");
  if (ordered[0].slice!.kind === "range") {
    const ranges = ordered.map((p) => p.slice as { lo?: string; hi?: string });
    const gaps = ranges.flatMap((r, i) =>
      (i === 0 && r.lo !== undefined) ||
      (i === count - 1 && r.hi !== undefined) ||
      (i > 0 && ranges[i - 1].hi !== r.lo)
        ? [i]
        : [],
    );
    if (gaps.length)
      throw new ValidateError(
        `${name}: the shards' key ranges do not tile the key space (at shard ${gaps.join(", ")}): the table changed while the shards started`,
        "rerun the job while writes are frozen",
      );
  }
  const sum = (f: (p: TableReport) => number) => ordered.reduce((a, p) => a + f(p), 0);
  const counts = {
    source: sum((p) => p.counts?.source ?? 0),
    target: sum((p) => p.counts?.target ?? 0),
  };
  const totals = Object.fromEntries(KINDS.map((k) => [k, sum((p) => p.totals[k])])) as Record<
    DifferenceKind,
    number
  >;
  // Each shard kept at most --max-differences keys per kind: together at most n times that.
  const differences = Object.fromEntries(
    KINDS.map((k) => [k, ordered.flatMap((p) => p.differences[k])]),
  ) as Record<DifferenceKind, string[]>;
  const first = ordered[0];
  const { slice: _slice, ...rest } = first;
  void _slice;
  return {
    ...rest,
    identical: ordered.every((p) => p.identical),
    counts,
    differences,
    totals,
    truncated: ordered.some((p) => p.truncated),
    notes: [...new Set(ordered.flatMap((p) => p.notes)), `merged from ${count} shards`],
  };
}

/** The shard reports of one run as one report; refuses anything short of full coverage. */
export function mergeShardReports(reports: readonly RunReport[]): RunReport {
  if (reports.length === 0)
    throw new ValidateError(
      "no shard reports to merge",
      "pass the files written by validate --shard … --json",
    );
  const failed = reports.find((r) => r.error);
  if (failed)
    throw new ValidateError(
      `a shard could not validate: ${failed.error!.message}`,
      failed.error!.hint ?? "rerun the job",
    );
  const counts = new Set(reports.map((r) => r.shard?.count));
  if (counts.size !== 1 || counts.has(undefined))
    throw new ValidateError("the reports are not the shards of one run", "merge the reports of one run only");
  const count = [...counts][0]!;
  const names = [...new Set(reports.flatMap((r) => r.tables.map((t) => t.table)))];
  const tables = names.map((name) =>
    mergeTable(
      name,
      reports.flatMap((r) => r.tables.filter((t) => t.table === name)),
      count,
    ),
  );
  // Every slice must have read the same two servers, or the merge is not one run's verdict.
  const sides = new Set(reports.map((r) => JSON.stringify(r.endpoints ?? null)));
  if (sides.size !== 1)
    throw new ValidateError(
      "the shard reports were taken against different servers",
      "merge the reports of one job execution only",
    );
  return {
    source: reports[0].source,
    target: reports[0].target,
    identical: tables.every((t) => t.identical),
    tables,
    ...(reports[0].endpoints ? { endpoints: reports[0].endpoints } : {}),
    stats: {
      seconds: Math.max(...reports.map((r) => r.stats?.seconds ?? 0)),
      statements: {
        source: reports.reduce((a, r) => a + (r.stats?.statements?.source ?? 0), 0),
        target: reports.reduce((a, r) => a + (r.stats?.statements?.target ?? 0), 0),
      },
      peakRssMiB: Math.max(...reports.map((r) => r.stats?.peakRssMiB ?? 0)),
    },
  };
}
