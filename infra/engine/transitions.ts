/**
 * Over 300 lines: one decision, the judge of deployed → proposed: the route's step walk, the refusal
 * reasons and the hints that name the allowed steps use each other and no one else.
 */
import { formatDuration, HOUR_MS } from "../../contract/facts";
import { KINDS, type MigrationKindName } from "./kinds";
import type { GateCheck, LedgerFactName, TransitionRow } from "./phase-row";

/**
 * Judging a change of phase against what is deployed. Everything a phase allows is data in the kind's
 * phase table (`rollback`, `back`, `records`); this module walks the runbook order and the ramp, and says
 * why a step is refused and which steps are allowed instead. Pure: the ledger provider, the offline plan
 * and the phase commands call the same function.
 */

export type { MigrationKindName } from "./kinds";

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

export interface Transition {
  readonly from: Position;
  readonly to: Position;
  readonly allowed: boolean;
  /** Why it is refused (absent when allowed). */
  readonly reason?: string;
  /** The full refusal, as the preview and the plan print it. */
  readonly message?: string;
  /** Every step allowed from `from` (staying put excluded). */
  readonly next: readonly Position[];
  /** A note that does not refuse (e.g. a window the offline plan cannot judge). */
  readonly note?: string;
  /** The facts applying `to` records, if any. */
  readonly records?: readonly LedgerFactName[];
}

/** Each kind's ramp: the phase that steps through it and the config key holding its percent. */
export const RAMP: Readonly<Record<MigrationKindName, KindRamp>> = {
  cloudsql: KINDS.cloudsql.ramp,
  "dual-write": KINDS["dual-write"].ramp,
};
type KindRamp = (typeof KINDS)[MigrationKindName]["ramp"];
const RAMPED = (kind: MigrationKindName) => RAMP[kind].phase;
const PERCENT_KEY = (kind: MigrationKindName) => RAMP[kind].percentKey;

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

function rowOf(kind: MigrationKindName, phase: string): TransitionRow | undefined {
  return Object.hasOwn(KINDS[kind].rows, phase) ? KINDS[kind].rows[phase] : undefined;
}

/** What walking a migration's runbook depends on: its kind, its ramp and its route. */
export type Walk = Pick<TransitionContext, "kind" | "ramp" | "route">;

const DEFAULT_ROUTE = (kind: MigrationKindName) => KINDS[kind].defaultRoute;

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

function indexOf(w: Walk, p: Position): number {
  return stepsOf(w).findIndex(
    (s) => s.phase === p.phase && (s.percent === undefined || s.percent === p.percent),
  );
}

/** Where a retry after rollback re-enters the runbook: what still exists decides. */
function retryOf(kind: MigrationKindName, from: Position): Position {
  return KINDS[kind].retry(from);
}

/** When decommission may run, if the ledger says; `undefined` when the facts are not known. */
function windowEnd(ctx: TransitionContext): number | undefined | "missing" {
  if (ctx.facts === undefined) return undefined;
  const at = ctx.facts[KINDS[ctx.kind].window.fact]?.at;
  return at === undefined ? "missing" : Date.parse(at) + ctx.windowHours * HOUR_MS;
}

/** Every step allowed from `from`, staying put excluded; windows judged when the facts are known. */
export function allowedSteps(from: Position, ctx: TransitionContext): Position[] {
  if (from.phase === "rollback") return [retryOf(ctx.kind, from)];
  const steps = stepsOf(ctx, from.attempt);
  const i = indexOf(ctx, from);
  const row = rowOf(ctx.kind, from.phase);
  if (i < 0 || row === undefined) return [];
  const out: Position[] = [];
  const next = steps[i + 1];
  if (next !== undefined && !(next.phase === "decommission" && windowBlocks(ctx) !== undefined))
    out.push(next);
  if (i > 0 && row.back.ok) out.push(steps[i - 1]);
  if (row.rollback.ok) out.push({ phase: "rollback", rollbackFrom: from.phase, attempt: from.attempt });
  return out;
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

/** The refusal a decommission window gives now, if any. */
function windowBlocks(ctx: TransitionContext): string | undefined {
  const end = windowEnd(ctx);
  if (end === undefined) return undefined;
  const w = KINDS[ctx.kind].window;
  const [what, since, stay] = [w.name(ctx.windowHours), w.since, w.stay];
  if (end === "missing")
    return `the ledger has no record of when ${since}, so ${what} cannot have passed; stay in ${stay}`;
  if (!Number.isFinite(end))
    return `the ledger's record of when ${since} cannot be read, so ${what} cannot be judged to have passed; stay in ${stay}`;
  const left = end - ctx.now.getTime();
  return left > 0
    ? `${what} after ${since} ends at ${new Date(end).toISOString()} (${formatDuration(left)} left); stay in ${stay} until then`
    : undefined;
}

/** Why `to` is refused from `from` (undefined when allowed). */
function reasonOf(from: Position, to: Position, ctx: TransitionContext): string | undefined {
  const { kind, ramp } = ctx;
  if (samePosition(from, to)) return undefined;
  const route = ctx.route ?? DEFAULT_ROUTE(kind);
  const routeOf = (phase: string) => rowOf(kind, phase)?.route;
  // After a rollback the retry re-enters at a phase both routes share: a new attempt may change route.
  const deployedPhase = from.phase === "rollback" ? undefined : from.phase;
  if (deployedPhase !== undefined && routeOf(deployedPhase) !== undefined && !onRoute(deployedPhase, ctx))
    return `the deployed ${deployedPhase} is on writeMove ${routeOf(deployedPhase)}, but the stack file says writeMove ${route}; hint: set writeMove: ${routeOf(deployedPhase)} to finish this attempt on the route it started (a new attempt may take the other one)`;
  for (const p of [to, ...(to.rollbackFrom ? [{ phase: to.rollbackFrom }] : [])])
    if (p.phase !== "rollback" && routeOf(p.phase) !== undefined && !onRoute(p.phase, ctx))
      return `${p.phase} is not on this migration's route (writeMove: ${route}): ${p.phase} belongs to writeMove ${routeOf(p.phase)}; hint: change writeMove only at a phase both routes share (baseline, provision, replicate)`;
  if (from.phase === "rollback") {
    const retry = retryOf(kind, from);
    if (to.phase === "rollback")
      return `the deployed rollback left ${from.rollbackFrom ?? "an earlier phase"}; rollbackFrom stays what it was until the migration moves forward again`;
    if (KINDS[kind].attempts && to.attempt !== retry.attempt)
      return `a retry after rollback needs a new attempt (attempt ${retry.attempt}): the DMS job and revisions of attempt ${from.attempt} are spent`;
    if (samePosition(to, retry)) return undefined;
    return `after a rollback the migration moves forward again from what still exists, at ${positionLabel(retry)}${KINDS[kind].retryNote(retry)}`;
  }
  if (KINDS[kind].attempts && to.attempt !== from.attempt)
    return `attempt changes only when retrying after a rollback (deployed attempt ${from.attempt}); hint: roll back first`;
  const row = rowOf(kind, from.phase);
  if (row === undefined) return `${from.phase} is not a phase of kind ${kind}`;
  if (to.phase === "rollback") {
    if (!row.rollback.ok) return `rollback is refused from ${from.phase}: ${row.rollback.why}`;
    if (to.rollbackFrom !== undefined && to.rollbackFrom !== from.phase)
      return `rollbackFrom must be the deployed phase (${from.phase}), not ${to.rollbackFrom}: a rollback keeps what the deployed phase created`;
    return undefined;
  }
  const i = indexOf(ctx, from);
  const j = indexOf(ctx, to);
  if (j < 0)
    return to.phase === RAMPED(kind)
      ? `${to.phase} needs ${PERCENT_KEY(kind)} set to one of the ramp steps ${ramp.join(", ")}`
      : `${to.phase} is not a phase of kind ${kind}`;
  if (j > i + 1) {
    const skipped = stepsOf(ctx)
      .slice(i + 1, j)
      .map((s) => positionLabel(s));
    return `it skips ${skipped.join(", ")}: the runbook moves one step at a time, so that each pull request previews one step and each step can be checked before the next`;
  }
  if (j === i + 1) {
    if (to.phase === "decommission") return windowBlocks(ctx);
    return undefined;
  }
  // j < i: back by value.
  if (!row.back.ok) return `${from.phase} cannot go back by value: ${row.back.why}`;
  if (j < i - 1)
    return `going back by value moves one step at a time, to ${positionLabel(stepsOf(ctx)[i - 1])}`;
  return undefined;
}

/** The command that sets a position in the stack file (the phase key, and the ramp/rollback key). */
export function setCommand(
  p: Position,
  ctx: Pick<TransitionContext, "kind" | "migration" | "stack">,
): string {
  const key = (k: string) => `'cutover:migrations.${ctx.migration}.${k}'`;
  const stack = ctx.stack ?? "<stack>";
  const parts = [`pulumi config set --stack ${stack} --path ${key("phase")} ${p.phase}`];
  if (p.percent !== undefined)
    parts.push(`pulumi config set --stack ${stack} --path ${key(PERCENT_KEY(ctx.kind))} ${p.percent}`);
  if (p.rollbackFrom !== undefined)
    parts.push(`pulumi config set --stack ${stack} --path ${key("rollbackFrom")} ${p.rollbackFrom}`);
  return parts.join(" && ");
}

/** The facts applying `to` records (from the phase table); empty when none. */
export function factsOf(to: Position, ctx: Walk): readonly LedgerFactName[] {
  const rec = rowOf(ctx.kind, to.phase)?.records;
  if (rec === undefined) return [];
  if (rec.atLastStep && to.percent !== ctx.ramp[ctx.ramp.length - 1]) return [];
  return rec.facts;
}

/** Judges deployed → proposed: allowed or refused, with the reason and the allowed next steps. */
export function judgeTransition(from: Position, to: Position, ctx: TransitionContext): Transition {
  const next = allowedSteps(from, ctx);
  const reason = reasonOf(from, to, ctx);
  const note =
    reason === undefined && !samePosition(from, to) && to.phase === "decommission" && ctx.facts === undefined
      ? `the ${KINDS[ctx.kind].window.noun} before decommission is judged from the time the ledger recorded: the preview checks it (offline, pass --deployed with the stack outputs)`
      : undefined;
  const base = {
    from,
    to,
    next,
    ...(note ? { note } : {}),
    ...(reason === undefined && !samePosition(from, to) ? withFacts(factsOf(to, ctx)) : {}),
  };
  if (reason === undefined) return { ...base, allowed: true };
  const attempts = from.attempt !== to.attempt;
  const allowedText = next.length
    ? `allowed from ${positionLabel(from, attempts)}: ${next.map((n) => positionLabel(n, attempts)).join(", ")}`
    : `nothing moves on from ${positionLabel(from)}`;
  const hint = refusalHint(from, to, next, ctx);
  const message = `${ctx.migration}: ${positionLabel(from, attempts)} → ${positionLabel(to, attempts)} is refused: ${reason}. ${allowedText[0].toUpperCase()}${allowedText.slice(1)}${hint}`;
  return { ...base, allowed: false, reason, message };
}

const withFacts = (f: readonly LedgerFactName[]) => (f.length ? { records: f } : {});

/**
 * What to do about a refusal: wait when only a window stands in the way; else the first allowed step
 * that is not a rollback; a rollback only when it is the only way out, and then saying so.
 */
function refusalHint(
  from: Position,
  to: Position,
  next: readonly Position[],
  ctx: TransitionContext,
): string {
  const end = windowEnd(ctx);
  if (
    to.phase === "decommission" &&
    typeof end === "number" &&
    Number.isFinite(end) &&
    end > ctx.now.getTime()
  )
    return `; hint: wait until ${new Date(end).toISOString()} (${formatDuration(end - ctx.now.getTime())} left), then take the step again`;
  const safe = next.find((n) => n.phase !== "rollback");
  if (safe) return `; hint: ${setCommand(safe, ctx)}`;
  if (next.length)
    return `; hint: the only step allowed from ${positionLabel(from)} is a rollback (cutover plan names what it leaves behind before you apply it): ${setCommand(next[0], ctx)}`;
  return "";
}

/** Applies an allowed transition to the facts: the ledger's record of what happened, monotonic. */
export function recordFacts(facts: LedgerFacts, to: Position, ctx: TransitionContext): LedgerFacts {
  return factsOf(to, ctx).reduce((f, fact) => recordFact(f, fact, to, ctx), facts);
}

function recordFact(
  facts: LedgerFacts,
  fact: LedgerFactName,
  to: Position,
  ctx: TransitionContext,
): LedgerFacts {
  const at = ctx.now.toISOString();
  switch (fact) {
    case "promoted":
      if (facts.promoted?.some((p) => p.attempt === to.attempt)) return facts;
      return { ...facts, promoted: [...(facts.promoted ?? []), { attempt: to.attempt, at }] };
    case "cutoverCompleted":
      if (facts.cutoverCompleted?.attempt === to.attempt) return facts;
      return { ...facts, cutoverCompleted: { attempt: to.attempt, at } };
    case "finalCut":
      return facts.finalCut ? facts : { ...facts, finalCut: { at } };
    case "decommissioned":
      return facts.decommissioned ? facts : { ...facts, decommissioned: { at } };
    default: {
      const unreachable: never = fact;
      throw new Error(`unknown fact ${String(unreachable)}`);
    }
  }
}

/** The position a stack starts from when no ledger exists yet. */
export const BASELINE: Position = { phase: "baseline", attempt: 1 };
