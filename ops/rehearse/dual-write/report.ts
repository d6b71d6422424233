/**
 * What the runbook-2 rehearsal is asked and what it reports: per position the flags the Workers read,
 * the requests by store (errors, latency, stale reads), the divergence validate finds between the
 * stores and the gates' verdicts; in all, the writes acknowledged and lost, the stale reads, the change
 * capture's lag, the stores at the final cut, and per drill the service after the rollback.
 */
import type { ApiSample } from "./load";
import type { Check, Divergence } from "./gates";

export interface DualWriteRehearsalOptions {
  readonly stack: string;
  readonly migration?: string;
  /** Where the stack file is. @default the working directory */
  readonly dir?: string;
  /** Where the bundles and the local D1/KV state go. */
  readonly workDir: string;
  /** Rows seeded in legacy, over all the migration's tables. */
  readonly rows: number;
  /** Writes per second through the API, for the whole walk. */
  readonly rate: number;
  /** Seconds each position is held under load. */
  readonly bakeSeconds: number;
  /** Virtual users (each does one thing at a time). @default max(32, rate / 4) */
  readonly users?: number;
  /** Roll back from this phase instead of walking to the final cut, and check the service. */
  readonly drill?: string;
  readonly log?: (line: string) => void;
}

export interface StoreStats {
  readonly requests: number;
  readonly errors: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

export interface DualWriteBand {
  readonly position: string;
  readonly startMs: number;
  readonly endMs: number;
  /** The flags entry the program wrote for this position (none at baseline). */
  readonly flags: { readonly writeMode: string; readonly readPercent: number } | null;
  readonly writes: { readonly acknowledged: number; readonly errors: number };
  readonly reads: { readonly total: number; readonly stale: number; readonly errors: number };
  /** Reads per store that answered them, with errors and latency. */
  readonly readsByStore: Readonly<Record<string, StoreStats>>;
  readonly latencyMs: { readonly p50: number; readonly p99: number };
  /** Validate between legacy and each new store at the end of the position (from the backfill on). */
  readonly divergence?: readonly Divergence[];
  readonly checks: readonly Check[];
}

export interface DualWriteReport {
  readonly kind: "dual-write";
  readonly stack: string;
  readonly migration: string;
  readonly rows: number;
  readonly rate: number;
  readonly users: number;
  readonly durationMs: number;
  readonly phases: readonly DualWriteBand[];
  readonly writes: {
    readonly acknowledged: number;
    /** Acknowledged, but the authoritative store at the end holds something else (or nothing). */
    readonly lost: number;
    /** Deletes acknowledged whose row is back in the authoritative store. */
    readonly resurrected: number;
    /** Keys held twice in the authoritative store. */
    readonly duplicates: number;
    readonly errors: number;
    /** Requests sent again after a connection error (a redeploy of the API Worker). */
    readonly retried: number;
  };
  readonly reads: { readonly total: number; readonly stale: number; readonly errors: number };
  /**
   * Capture-to-apply time of the changes the capture Worker applied, over its runs: p50 the median of the
   * runs' medians (weighted by what each applied), p99 the highest run's.
   */
  readonly captureLagMs: {
    readonly applied: number;
    readonly runs: number;
    readonly p50: number;
    readonly p99: number;
    readonly max: number;
  };
  /** The store the end is judged against: the new stores after the final cut, legacy after a rollback. */
  readonly final: "new" | "legacy";
  /** At the final cut, once the capture drained: legacy and the new stores hold the same rows. */
  readonly storesEqualAtCut?: { readonly equal: boolean; readonly detail: string };
  readonly drill?: {
    readonly from: string;
    /** Requests answered without error after the rollback, reads served by legacy only, nothing lost. */
    readonly serviceOk: boolean;
    readonly detail: string;
  };
  readonly samples: readonly ApiSample[];
}

const pad = (s: string | number, n: number) => String(s).padStart(n);

/** Whether the walk (or drill) showed what it must: no lost write, no stale read, gates passed. */
export function dualWritePassed(r: DualWriteReport): boolean {
  return (
    r.writes.lost === 0 &&
    r.writes.resurrected === 0 &&
    r.writes.duplicates === 0 &&
    r.reads.stale === 0 &&
    r.phases.every((p) => p.checks.every((c) => c.ok)) &&
    (r.storesEqualAtCut?.equal ?? true) &&
    (r.drill?.serviceOk ?? true)
  );
}

export function renderDualWrite(r: DualWriteReport): string {
  const lines = [
    `${r.stack}/${r.migration}${r.drill ? ` — drill: rollback from ${r.drill.from}` : ""}: ${r.rows} rows seeded, ${r.rate} writes/s from ${r.users} users, ${(r.durationMs / 1000).toFixed(0)} s`,
    "",
    "  position            flags          writes  errors   reads  stale  legacy reads (p99)   new reads (p99)   divergence",
  ];
  for (const p of r.phases) {
    const by = (s: string) => {
      const x = p.readsByStore[s];
      return x
        ? `${pad(x.requests, 6)} ${pad(x.errors, 3)}e (${pad(x.p99Ms, 4)} ms)`
        : `${pad("-", 6)}                `;
    };
    const div = p.divergence
      ? p.divergence.reduce((n, d) => n + d.persistent, 0) === 0
        ? "equal"
        : `${p.divergence.reduce((n, d) => n + d.persistent, 0)} keys`
      : "-";
    lines.push(
      `  ${p.position.padEnd(18)} ${(p.flags ? `${p.flags.writeMode} ${p.flags.readPercent}%` : "none").padEnd(13)} ${pad(p.writes.acknowledged, 7)} ${pad(p.writes.errors, 7)} ${pad(p.reads.total, 7)} ${pad(p.reads.stale, 6)}  ${by("legacy")}  ${by("new")}  ${div}`,
    );
    for (const c of p.checks) lines.push(`      ${c.ok ? "ok  " : "FAIL"} ${c.name}: ${c.detail}`);
  }
  const w = r.writes;
  lines.push(
    "",
    `writes: ${w.acknowledged} acknowledged, ${w.lost} lost, ${w.resurrected} deleted rows back, ${w.duplicates} duplicates, ${w.errors} errors, ${w.retried} retried after a redeploy (judged against the ${r.final === "new" ? "new stores" : "legacy store"})`,
    `reads: ${r.reads.total}, ${r.reads.stale} stale (a read that missed the user's own acknowledged write), ${r.reads.errors} errors`,
    `change capture (the capture Worker, ${r.captureLagMs.runs} runs): ${r.captureLagMs.applied} changes applied, lag p50 ${r.captureLagMs.p50} ms, p99 ${r.captureLagMs.p99} ms, max ${r.captureLagMs.max} ms`,
  );
  if (r.storesEqualAtCut)
    lines.push(
      `stores at the final cut: ${r.storesEqualAtCut.equal ? "equal" : "DIFFERENT"} — ${r.storesEqualAtCut.detail}`,
    );
  if (r.drill)
    lines.push(
      `drill: ${r.drill.serviceOk ? "service back on legacy" : "SERVICE NOT OK"} — ${r.drill.detail}`,
    );
  lines.push(`verdict: ${dualWritePassed(r) ? "passed" : "FAILED"}`, "");
  return lines.join("\n");
}
