/**
 * Staging leads prod: a stack that follows another (`follows: staging`) may not move a migration to a
 * position its leader has not reached. Rollbacks, and steps back along the runbook, are never held. The
 * leader's position is what its ledger recorded (the program reads it with a StackReference; the offline
 * plan from a `--leader-deployed` file or the leader's file at the base ref; `phase` from the leader's
 * file). An emergency override names the one position it opens and why; the ledger records it.
 * Pure: the ledger's provider runs it inside the Pulumi engine.
 */
import { KINDS } from "./kinds";
import { positionLabel, type MigrationKindName, type Position } from "./transitions";

/** What the follower knows of its leader for one migration. */
export interface LeaderView {
  /** The leading stack's name, e.g. `staging`. */
  readonly stack: string;
  /** Where the leader's ledger stands; absent when it has none for this migration (never applied). */
  readonly position?: Position;
}

/** A stated override of the rule for one step: the position it opens and the reason, recorded. */
export interface LeaderOverride {
  readonly position: string;
  readonly reason: string;
}

/**
 * How far along the runbook a position is (phase order, then the ramp's percent); a rollback has no
 * rank: it is not progress. Attempts do not count: a retry covers ground the leader already covered.
 */
export function progressRank(p: Position, kind: MigrationKindName): number | undefined {
  const i = KINDS[kind].order.indexOf(p.phase);
  if (i < 0) return undefined;
  return i * 1000 + (p.percent ?? 0);
}

/** Why the follower may not take `from → to` ahead of its leader, or undefined. */
export function leaderProblem(
  migration: string,
  follower: string,
  from: Position,
  to: Position,
  kind: MigrationKindName,
  leader: LeaderView,
  override?: LeaderOverride,
): string | undefined {
  const want = progressRank(to, kind);
  if (want === undefined) return undefined; // a rollback is never held back
  const was = progressRank(from, kind);
  if (was !== undefined && want <= was) return undefined; // back along the runbook, or no move
  const at = leader.position ? progressRank(leader.position, kind) : 0;
  if (at !== undefined && want <= at) return undefined;
  if (override && override.position === positionLabel(to)) return undefined;
  const where = leader.position
    ? `${leader.stack} is at ${positionLabel(leader.position)}`
    : `${leader.stack} has not applied ${migration} yet (baseline)`;
  const why =
    at === undefined
      ? `${leader.stack} is rolled back: ${follower} may only roll back or stay until ${leader.stack} moves forward again`
      : `${follower} may not move past where ${leader.stack} is`;
  return `${migration}: ${positionLabel(from)} → ${positionLabel(to)} is refused on ${follower}: ${where}; ${why}. hint: take ${leader.stack} to ${positionLabel(to)} first (and let its checks pass), or, in an emergency, state followOverride: { position: "${positionLabel(to)}", reason: "…" } for this one step (it is recorded)`;
}
