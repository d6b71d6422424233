/**
 * The write window of a cloudsql cutover, term by term: from the freeze (the first write refused) until
 * the candidate takes every write. Two figures, because a frozen share keeps refusing writes after the
 * candidate has started taking them:
 *   - all writes refused: until the first position where the candidate takes a share has converged;
 *   - some writes refused: until the position where no frozen share is left has converged.
 * On the ramp route the positions come from the transition table (forward steps) and the shares from
 * the phase table, so the projection changes with them. On the switch route every term is inside one
 * `pulumi up`: the switch job's terms, then the service's traffic update and its convergence. Platform
 * terms are modelled (`PLATFORM_DELAYS`, each with its source in docs/platform-facts.md); the work of the
 * gates is measured by the rehearsal and passed in.
 */
import type { CloudSqlMigration } from "../config/cloudsql";
import { CLOUDSQL_PHASE_TABLE, revisionsOf, type CloudSqlBasePhase } from "./cloudsql-phases";
import { forwardStep, positionLabel, type Position } from "./transitions";

/** What the platform costs, modelled: none of these happen on a laptop. */
export interface PlatformDelays {
  /** One `pulumi up` that changes the service (a new revision or a traffic split). */
  readonly upSeconds: number;
  /** After Cloud Run reports the traffic change, until no request reaches the old split. */
  readonly convergenceSeconds: number;
  /** DMS's promote operation (the DMS path only). */
  readonly dmsPromoteSeconds: number;
  /** A Cloud Run Job execution from start to its container running (each one-off job). */
  readonly jobStartSeconds: number;
  /** Cloud Run request metrics become visible in Cloud Monitoring after at most this. */
  readonly monitoringDelaySeconds: number;
  /** A service update that changes only the traffic split (no new revision), inside a `pulumi up`. */
  readonly trafficUpdateSeconds: number;
}

/**
 * Defaults, with their sources (docs/platform-facts.md, "The write window"): DMS documents that promotion
 * "can take several minutes"; Google documents no Cloud Run traffic convergence time (in-flight requests
 * may reach either revision); Cloud Run's request metrics are sampled every 60 s and visible after up to
 * 180 s. `upSeconds`, `jobStartSeconds` and `trafficUpdateSeconds` are assumptions to replace with
 * `time pulumi up` on staging.
 */
export const PLATFORM_DELAYS: PlatformDelays = {
  upSeconds: 90,
  convergenceSeconds: 30,
  dmsPromoteSeconds: 300,
  jobStartSeconds: 30,
  monitoringDelaySeconds: 180,
  trafficUpdateSeconds: 30,
};

/** Work the gates and steps do, measured (by the rehearsal); absent terms are left out and said so. */
export interface MeasuredWork {
  /** The freeze's gate: replication caught up and the validation, in seconds. */
  readonly freezeGateSeconds?: number;
  /** The promotion's own work beyond the platform: the logical stop's catch-up, the fix-ups, the schema command. */
  readonly promoteWorkSeconds?: number;
  /** Smoke of the candidate before it takes traffic. */
  readonly smokeSeconds?: number;
}

export interface WindowTerm {
  readonly position: string;
  readonly term: string;
  readonly seconds: number;
  /** What bounds it (a setting, a measurement, a modelled platform delay). */
  readonly bound: string;
  /** Which writes are refused while it lasts. */
  readonly refusing: "all" | "some";
}

export interface WindowProjection {
  readonly terms: readonly WindowTerm[];
  readonly allRefusedSeconds: number;
  readonly someRefusedSeconds: number;
  /** Terms the projection could not include (no measurement given). */
  readonly missing: readonly string[];
}

/** The share of traffic served by a revision that refuses writes, at a position. */
function servingAt(
  spec: CloudSqlMigration,
  migration: string,
  p: Position,
): { share: number; split: string } {
  const at = { ...spec, phase: p.phase as CloudSqlMigration["phase"], trafficPercent: p.percent };
  const revisions = revisionsOf(at);
  const { traffic } = CLOUDSQL_PHASE_TABLE[p.phase as CloudSqlBasePhase].serving({
    spec: at,
    migration,
    revisions,
    window: () => "",
  });
  const refusing = new Set(
    Object.values(revisions)
      .filter((r) => !r.writes)
      .map((r) => r.name),
  );
  return {
    share: traffic.filter((t) => refusing.has(t.revision)).reduce((sum, t) => sum + t.percent, 0),
    split: traffic
      .filter((t) => t.percent > 0)
      .map((t) => `${t.revision}=${t.percent}`)
      .sort()
      .join(","),
  };
}

/** Projects the window of `spec`'s walk from the freeze on, with the platform delays and measured work. */
export function projectWindow(
  migration: string,
  spec: CloudSqlMigration,
  measured: MeasuredWork = {},
  delays: PlatformDelays = PLATFORM_DELAYS,
): WindowProjection {
  return spec.writeMove === "switch"
    ? projectSwitch(spec, measured, delays)
    : projectRamp(migration, spec, measured, delays);
}

/**
 * The switch: the job has started before it freezes (its start is outside the window); from the freeze
 * every write is refused until the candidate's traffic has converged, so both figures are the same.
 */
function projectSwitch(
  spec: CloudSqlMigration,
  measured: MeasuredWork,
  delays: PlatformDelays,
): WindowProjection {
  const terms: WindowTerm[] = [];
  const missing: string[] = [];
  const add = (term: string, seconds: number, bound: string) =>
    terms.push({ position: "switch", term, seconds, bound, refusing: "all" });
  if (measured.freezeGateSeconds !== undefined)
    add(
      "freeze, marker and validation",
      measured.freezeGateSeconds,
      "measured: the source frozen, replication at the marker, the exact validation",
    );
  else missing.push("the freeze, the marker and the validation");
  if (spec.replication === "dms")
    add("DMS promote", delays.dmsPromoteSeconds, "modelled: DMS documents several minutes");
  add("migrate job start", delays.jobStartSeconds, "modelled (PLATFORM_DELAYS.jobStartSeconds)");
  if (measured.promoteWorkSeconds !== undefined)
    add(
      "promotion work",
      measured.promoteWorkSeconds,
      `measured: ${spec.replication === "logical" ? "the logical stop, " : ""}the fix-ups and the schema command`,
    );
  else missing.push("the promotion's work (fix-ups, schema command)");
  if (measured.smokeSeconds !== undefined) add("candidate smoke", measured.smokeSeconds, "measured");
  else missing.push("the candidate's smoke");
  add(
    "traffic update",
    delays.trafficUpdateSeconds,
    "modelled (PLATFORM_DELAYS.trafficUpdateSeconds): the service update after the switch job",
  );
  add("traffic convergence", delays.convergenceSeconds, "modelled: Google documents none");
  const total = terms.reduce((sum, t) => sum + t.seconds, 0);
  return { terms, allRefusedSeconds: total, someRefusedSeconds: total, missing };
}

function projectRamp(
  migration: string,
  spec: CloudSqlMigration,
  measured: MeasuredWork,
  delays: PlatformDelays,
): WindowProjection {
  const ctx = { kind: "cloudsql" as const, ramp: spec.ramp, route: spec.writeMove };
  const terms: WindowTerm[] = [];
  const missing: string[] = [];
  let p: Position | undefined = { phase: "freeze", attempt: spec.attempt };
  let first = true;
  // Until a position's traffic change has converged, the previous split still serves.
  let before: WindowTerm["refusing"] = "all";
  let previousSplit = "";
  while (p) {
    const { share, split } = servingAt(spec, migration, p);
    const label = positionLabel(p);
    const after: WindowTerm["refusing"] = share >= 100 ? "all" : "some";
    let refusing = before;
    const add = (term: string, seconds: number, bound: string) =>
      terms.push({ position: label, term, seconds, bound, refusing });
    // The freeze's own `up` happens before any write is refused: its convergence is where refusals start.
    if (!first) add("pulumi up", delays.upSeconds, "modelled (PLATFORM_DELAYS.upSeconds)");
    if (p.phase === "promote") {
      if (spec.replication === "dms")
        add("DMS promote", delays.dmsPromoteSeconds, "modelled: DMS documents several minutes");
      else add("stop job start", delays.jobStartSeconds, "modelled (PLATFORM_DELAYS.jobStartSeconds)");
      add("migrate job start", delays.jobStartSeconds, "modelled (PLATFORM_DELAYS.jobStartSeconds)");
      if (measured.promoteWorkSeconds !== undefined)
        add(
          "promotion work",
          measured.promoteWorkSeconds,
          "measured: catch-up, fix-ups and the schema command",
        );
      else missing.push("the promotion's work (fix-ups, schema command)");
    }
    // Only a change of the serving split has to converge (a tagged revision at 0% serves no share).
    if (split !== previousSplit)
      add("traffic convergence", delays.convergenceSeconds, "modelled: Google documents none");
    previousSplit = split;
    if (share === 0) break;
    refusing = after;
    before = after;
    if (p.phase === "freeze") {
      if (measured.freezeGateSeconds !== undefined)
        add("freeze gate", measured.freezeGateSeconds, "measured: replication caught up, then validation");
      else missing.push("the freeze gate (replication caught up, then validation)");
    } else if (p.phase === "promote") {
      if (measured.smokeSeconds !== undefined) add("candidate smoke", measured.smokeSeconds, "measured");
    } else if (p.phase === "canary") {
      add(
        "bake",
        spec.advance.bakeMinutes * 60,
        `advance.bakeMinutes (at least the ${delays.monitoringDelaySeconds} s Cloud Monitoring needs to show it)`,
      );
    }
    first = false;
    p = forwardStep(p, ctx);
  }
  const sum = (ts: readonly WindowTerm[]) => ts.reduce((s, t) => s + t.seconds, 0);
  return {
    terms,
    allRefusedSeconds: sum(terms.filter((t) => t.refusing === "all")),
    someRefusedSeconds: sum(terms),
    missing,
  };
}

/** `9 min 30 s`, `45 s`. */
export function formatSeconds(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  return s % 60 === 0 ? `${m} min` : `${m} min ${s % 60} s`;
}

/** One line for the plan and the rehearsal. */
export function describeProjection(w: WindowProjection): string {
  const missing = w.missing.length ? `, plus ${w.missing.join(" and ")}` : "";
  return `all writes refused ≈ ${formatSeconds(w.allRefusedSeconds)}, some writes refused ≈ ${formatSeconds(w.someRefusedSeconds)}${missing}`;
}

/**
 * The other ways to move writes, projected with the same measured work, side by side: the other
 * `writeMove`, and on the ramp route the ramp in one step (`ramp: [100]`) when the stack ramps.
 */
export function projectAlternatives(
  migration: string,
  spec: CloudSqlMigration,
  measured: MeasuredWork = {},
  delays: PlatformDelays = PLATFORM_DELAYS,
): { readonly name: string; readonly projection: WindowProjection }[] {
  const ramp = { ...spec, writeMove: "ramp" as const };
  const out = [];
  if (spec.writeMove !== "switch")
    out.push({
      name: "writeMove: switch",
      projection: projectWindow(migration, { ...spec, writeMove: "switch" }, measured, delays),
    });
  else out.push({ name: "writeMove: ramp", projection: projectWindow(migration, ramp, measured, delays) });
  if (ramp.ramp.length > 1)
    out.push({
      name: "writeMove: ramp, ramp: [100]",
      projection: projectWindow(migration, { ...ramp, ramp: [100] }, measured, delays),
    });
  return out;
}
