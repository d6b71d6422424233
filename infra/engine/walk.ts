/**
 * Where positions stand on a migration's route: the steps of the runbook order and the ramp, a
 * position's label, the step forward, the gates and the facts a step carries, all read from the kind's
 * phase table. The judge of deployed → proposed (transitions.ts) walks with these.
 */
import { KINDS, type MigrationKindName } from "./kinds";
import type { GateCheck, LedgerFactName, TransitionRow } from "./phase-row";

/** Where a migration stands: its phase, the ramp step, the phase a rollback left, the attempt. */
export interface Position {
  readonly phase: string;
  /** trafficPercent (cloudsql canary) or readPercent (dual-write read-switch). */
  readonly percent?: number;
  /** For rollback: the phase it left. */
  readonly rollbackFrom?: string;
  /** cloudsql retry counter; 1 for dual-write. */
  readonly attempt: number;
}

/** Facts the ledger records once (times are ISO-8601, taken when `pulumi up` applied the phase). */
export interface LedgerFacts {
  /** DMS promotions, one per attempt. */
  readonly promoted?: readonly { readonly attempt: number; readonly at: string }[];
  /** When the candidate reached 100% (cloudsql): the observation window counts from here. */
  readonly cutoverCompleted?: { readonly attempt: number; readonly at: string };
  /** When writes stopped going to legacy (dual-write): the soak counts from here. */
  readonly finalCut?: { readonly at: string };
  readonly decommissioned?: { readonly at: string };
}

/** What a transition needs besides the two positions. */
export interface TransitionContext {
  readonly kind: MigrationKindName;
  readonly migration: string;
  readonly ramp: readonly number[];
  /** The migration's route among its kind's (cloudsql: `writeMove`); undefined for a kind with one. */
  readonly route: string | undefined;
  /** Hours after `cutoverCompleted` (cloudsql) or `finalCut` (dual-write) before decommission. */
  readonly windowHours: number;
  readonly now: Date;
  /** The ledger's facts; undefined when only positions are known (offline `--base`): windows not judged. */
  readonly facts?: LedgerFacts;
  /** Stack name, for the commands printed in hints. @default "<stack>" */
  readonly stack?: string;
}

/** Each kind's ramp: the phase that steps through it and the config key holding its percent. */
export const RAMP: Readonly<Record<MigrationKindName, KindRamp>> = {
  cloudsql: KINDS.cloudsql.ramp,
  "dual-write": KINDS["dual-write"].ramp,
};

type KindRamp = (typeof KINDS)[MigrationKindName]["ramp"];

export const RAMPED = (kind: MigrationKindName) => RAMP[kind].phase;

export const PERCENT_KEY = (kind: MigrationKindName) => RAMP[kind].percentKey;

/**
 * The position a migration's fields ask for: phase, the ramp step (only in the ramp phase), the phase a
 * rollback leaves, the attempt (1 when absent). Lenient, so it also reads a spec from an older stack
 * file that today's schema would refuse; undefined without a phase.
 */
export function positionFromFields(raw: Record<string, unknown>): Position | undefined {
  if (typeof raw.phase !== "string") return undefined;
  const ramp = RAMP[raw.kind as MigrationKindName];
  const percent = ramp && raw.phase === ramp.phase ? raw[ramp.percentKey] : undefined;
  const from = raw.phase === "rollback" ? raw.rollbackFrom : undefined;
  return {
    phase: raw.phase,
    attempt: typeof raw.attempt === "number" ? raw.attempt : 1,
    ...(typeof percent === "number" ? { percent } : {}),
    ...(typeof from === "string" ? { rollbackFrom: from } : {}),
  };
}

export function rowOf(kind: MigrationKindName, phase: string): TransitionRow | undefined {
  return Object.hasOwn(KINDS[kind].rows, phase) ? KINDS[kind].rows[phase] : undefined;
}

/** What walking a migration's runbook depends on: its kind, its ramp and its route. */
export type Walk = Pick<TransitionContext, "kind" | "ramp" | "route">;

export const DEFAULT_ROUTE = (kind: MigrationKindName) => KINDS[kind].defaultRoute;

/** Whether `phase` is on the walk's route (a phase of another route is never taken). */
export function onRoute(phase: string, w: Pick<Walk, "kind" | "route">): boolean {
  const route = rowOf(w.kind, phase)?.route;
  return route === undefined || route === (w.route ?? DEFAULT_ROUTE(w.kind));
}

/** The runbook as a list of steps: each phase of the route once, the ramp phase once per ramp step. */
export function stepsOf(w: Walk, attempt = 1): Position[] {
  return KINDS[w.kind].order
    .filter((phase) => onRoute(phase, w))
    .flatMap((phase) =>
      phase === RAMPED(w.kind)
        ? w.ramp.map((percent) => ({ phase, percent, attempt }))
        : [{ phase, attempt }],
    );
}

/** `canary:50`, `rollback:canary`, `replicate` — with `(attempt n)` when asked. */
export function positionLabel(p: Position, withAttempt = false): string {
  const arg =
    p.percent !== undefined ? `:${p.percent}` : p.rollbackFrom !== undefined ? `:${p.rollbackFrom}` : "";
  return `${p.phase}${arg}${withAttempt ? ` (attempt ${p.attempt})` : ""}`;
}

/** The same position (a dual-write rollback without `rollbackFrom` matches any origin). */
export const samePosition = (a: Position, b: Position) =>
  a.phase === b.phase &&
  a.percent === b.percent &&
  a.attempt === b.attempt &&
  (a.phase !== "rollback" || b.rollbackFrom === undefined || a.rollbackFrom === b.rollbackFrom);

export function indexOf(w: Walk, p: Position): number {
  return stepsOf(w).findIndex(
    (s) => s.phase === p.phase && (s.percent === undefined || s.percent === p.percent),
  );
}

/** Where a retry after rollback re-enters the runbook: what still exists decides. */
export function retryOf(kind: MigrationKindName, from: Position): Position {
  return KINDS[kind].retry(from);
}

/**
 * The step forward from `from` (the retry after a rollback), whether or not a window still blocks it;
 * undefined at the end of the runbook.
 */
export function forwardStep(from: Position, ctx: Walk): Position | undefined {
  if (from.phase === "rollback") return retryOf(ctx.kind, from);
  const i = indexOf(ctx, from);
  return i < 0 ? undefined : stepsOf(ctx, from.attempt)[i + 1];
}

/** The checks whose passing evidence the forward step `from → to` needs (the phase table's `gates`). */
export function gatesOf(from: Position, to: Position, ctx: Walk): readonly GateCheck[] {
  const next = forwardStep(from, ctx);
  if (
    next === undefined ||
    from.phase === "rollback" ||
    next.phase !== to.phase ||
    next.percent !== to.percent
  )
    return [];
  return from.phase === to.phase ? [] : (rowOf(ctx.kind, to.phase)?.gates ?? []);
}

/** The facts applying `to` records (from the phase table); empty when none. */
export function factsOf(to: Position, ctx: Walk): readonly LedgerFactName[] {
  const rec = rowOf(ctx.kind, to.phase)?.records;
  if (rec === undefined) return [];
  if (rec.atLastStep && to.percent !== ctx.ramp[ctx.ramp.length - 1]) return [];
  return rec.facts;
}

/** The position a stack starts from when no ledger exists yet. */
export const BASELINE: Position = { phase: "baseline", attempt: 1 };
