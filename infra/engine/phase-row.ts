/**
 * The shape shared by the phase tables of every kind: what a phase allows next. Transition rules are
 * data in each kind's table; `transitions.ts` only reads them.
 */

/** A step that is allowed, or the reason it is refused (said to the user as is). */
export type Permission = { readonly ok: true } | { readonly ok: false; readonly why: string };

export const ALLOWED: Permission = { ok: true };
export const refused = (why: string): Permission => ({ ok: false, why });

/** A fact the ledger records, once and for good, when a phase is applied. */
export type LedgerFactName = "promoted" | "cutoverCompleted" | "finalCut" | "decommissioned";

/**
 * A check whose passing evidence a step needs (written with `--evidence` by `validate`, `smoke`,
 * `d1:export`, `capture -- status`, `compare -- status` and `decommission -- check`).
 */
export const GATE_CHECKS = ["validate", "smoke", "export", "capture", "compare", "detached"] as const;
export type GateCheck = (typeof GATE_CHECKS)[number];

/** What a phase allows next; read by `judgeTransition`. */
export interface TransitionRow {
  /** Rollback may leave this phase, or why it may not. */
  readonly rollback: Permission;
  /** Going back by value to the previous step (phase or ramp step), or why not. */
  readonly back: Permission;
  /**
   * The facts applying this phase records; `atLastStep` for a ramp phase records them only when the ramp
   * reaches its last step (100%).
   */
  readonly records?: { readonly facts: readonly LedgerFactName[]; readonly atLastStep?: boolean };
  /**
   * The route this phase is on, when a kind has more than one (cloudsql's `writeMove`): a migration on
   * another route never takes it. Absent: on every route.
   */
  readonly route?: string;
  /**
   * Entering this phase from the step before needs passing evidence of each of these checks, taken at
   * that step (the runbook's data gates). A ramp phase gates its first step only.
   */
  readonly gates?: readonly GateCheck[];
}
