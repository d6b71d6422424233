/**
 * What differs between the kinds of migration, in one table beside the per-phase tables: the phase order
 * and rows, where a rollback may leave from, the ramp phase and its percent key, the route taken when
 * none is named, what starts the window before decommission, where a retry re-enters, and which gate
 * checks its phases use. Exhaustive over the kinds: a third kind is a compile error until every fact is
 * given, instead of a two-way branch silently giving it one side's answer.
 */
import { DEFAULT_WRITE_MOVE } from "../config/cloudsql";
import { CLOUDSQL_ORDER, CLOUDSQL_PHASE_TABLE, CLOUDSQL_ROLLBACK_ORIGINS } from "./cloudsql-phases";
import {
  DUAL_WRITE_ORDER,
  DUAL_WRITE_PHASE_TABLE,
  DUAL_WRITE_ROLLBACK_ORIGINS_OF_TABLE,
} from "./dual-write-phases";
import type { GateCheck, LedgerFactName, TransitionRow } from "./phase-row";

export type MigrationKindName = "cloudsql" | "dual-write";

/** A position, as far as the kinds' facts need one. */
interface At {
  readonly phase: string;
  readonly rollbackFrom?: string;
  readonly attempt: number;
}

export interface KindFacts {
  /** Forward phases in runbook order, every route's (the phase table's key order). */
  readonly order: readonly string[];
  readonly rows: Readonly<Record<string, TransitionRow>>;
  /** Phases a rollback can leave, from the table. */
  readonly rollbackOrigins: readonly string[];
  /** The phase that steps through the ramp, and the config key holding its percent. */
  readonly ramp: { readonly phase: string; readonly percentKey: "trafficPercent" | "readPercent" };
  /** The route of a migration that names none (cloudsql's `writeMove`); undefined with one route. */
  readonly defaultRoute: string | undefined;
  /** The window before decommission: the fact that starts it, and how it is said. */
  readonly window: {
    readonly fact: Extract<LedgerFactName, "cutoverCompleted" | "finalCut">;
    readonly name: (hours: number) => string;
    readonly since: string;
    /** The phase to stay in until it has passed. */
    readonly stay: string;
    /** Its name alone, for the offline note. */
    readonly noun: string;
  };
  /** Where a retry after a rollback re-enters (what still exists decides), and what it costs. */
  readonly retry: (from: At) => At;
  readonly retryNote: (retry: At) => string;
  /** Whether a retry takes a new attempt (new job and revision names). */
  readonly attempts: boolean;
  /**
   * The config key a step written by `cutover phase` sets to the time it is written, so that what the
   * step deploys carries when it took effect (dual-write: the flags entry's `updatedAt`).
   */
  readonly stepTimeKey?: "flagsUpdatedAt";
  /**
   * Whether a rollback names the phase it left (cloudsql keeps that phase's resources); a dual-write
   * rollback keeps what exists whatever it left, and may name none.
   */
  readonly rollbackNamesOrigin: boolean;
  /** The gate checks the kind's phases declare. */
  readonly checks: readonly GateCheck[];
}

const checksOf = (rows: Readonly<Record<string, TransitionRow>>): GateCheck[] => [
  ...new Set(Object.values(rows).flatMap((r) => r.gates ?? [])),
];

export const KINDS: Readonly<Record<MigrationKindName, KindFacts>> = {
  cloudsql: {
    order: CLOUDSQL_ORDER,
    rows: CLOUDSQL_PHASE_TABLE,
    rollbackOrigins: CLOUDSQL_ROLLBACK_ORIGINS,
    ramp: { phase: "canary", percentKey: "trafficPercent" },
    defaultRoute: DEFAULT_WRITE_MOVE,
    window: {
      fact: "cutoverCompleted",
      name: (hours) => `the ${hours} h observation window`,
      since: "the candidate reached 100%",
      stay: "stabilize",
      noun: "observation window",
    },
    // Cloud SQL (and Redis) survive a rollback; a new attempt needs a new replication: replicate again.
    retry: (from) => ({
      phase: from.rollbackFrom === "provision" ? "provision" : "replicate",
      attempt: from.attempt + 1,
    }),
    retryNote: (retry) => ` with attempt ${retry.attempt}`,
    attempts: true,
    rollbackNamesOrigin: true,
    checks: checksOf(CLOUDSQL_PHASE_TABLE),
  },
  "dual-write": {
    order: DUAL_WRITE_ORDER,
    rows: DUAL_WRITE_PHASE_TABLE,
    rollbackOrigins: DUAL_WRITE_ROLLBACK_ORIGINS_OF_TABLE,
    ramp: { phase: "read-switch", percentKey: "readPercent" },
    defaultRoute: undefined,
    window: {
      fact: "finalCut",
      name: (hours) => `the ${hours / 24}-day soak`,
      since: "the final cut",
      stay: "final-cut",
      noun: "soak",
    },
    // The new stores missed every write made since the rollback: backfill again.
    retry: (from) => ({ phase: "backfill", attempt: from.attempt }),
    retryNote: () => " (the new stores missed the writes made since the rollback)",
    attempts: false,
    stepTimeKey: "flagsUpdatedAt",
    rollbackNamesOrigin: false,
    checks: checksOf(DUAL_WRITE_PHASE_TABLE),
  },
};
