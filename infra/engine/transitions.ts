import { formatDuration, HOUR_MS } from "../../contract/facts";
import { KINDS } from "./kinds";
import type { LedgerFactName } from "./phase-row";
import {
  DEFAULT_ROUTE,
  factsOf,
  indexOf,
  onRoute,
  PERCENT_KEY,
  positionLabel,
  RAMPED,
  retryOf,
  rowOf,
  samePosition,
  stepsOf,
  type LedgerFacts,
  type Position,
  type TransitionContext,
} from "./walk";

/**
 * Judging a change of phase against what is deployed. Everything a phase allows is data in the kind's
 * phase table (`rollback`, `back`, `records`); this module walks the runbook order and the ramp, and says
 * why a step is refused and which steps are allowed instead. Pure: the ledger provider, the offline plan
 * and the phase commands call the same function.
 */

export type { MigrationKindName } from "./kinds";
export {
  BASELINE,
  factsOf,
  forwardStep,
  gatesOf,
  onRoute,
  positionFromFields,
  positionLabel,
  RAMP,
  samePosition,
  stepsOf,
  type LedgerFacts,
  type Position,
  type TransitionContext,
  type Walk,
} from "./walk";

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
