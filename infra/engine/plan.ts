import { DAY_HOURS } from "../../contract/facts";
import type { Migration } from "../config/schema";
import { planCloudSql, type CloudSqlPlan } from "./cloudsql";
import { planDualWrite, type DualWritePlan } from "./dual-write";
import { positionFromFields, type LedgerFacts, type Position, type TransitionContext } from "./transitions";

/** A migration's name, its spec and its phase's desired state. */
export type MigrationPlan =
  | {
      readonly name: string;
      readonly spec: Extract<Migration, { kind: "cloudsql" }>;
      readonly plan: CloudSqlPlan;
    }
  | {
      readonly name: string;
      readonly spec: Extract<Migration, { kind: "dual-write" }>;
      readonly plan: DualWritePlan;
    };

/**
 * Dispatches on kind (exhaustive: a new kind cannot be half-added). `now` only feeds countdowns shown
 * by the plan (dual-write soak), never a resource input.
 */
export function planMigration(
  name: string,
  spec: Migration,
  now: Date = new Date(),
  facts?: LedgerFacts,
): MigrationPlan {
  switch (spec.kind) {
    case "cloudsql":
      return { name, spec, plan: planCloudSql(name, spec) };
    case "dual-write":
      return { name, spec, plan: planDualWrite(name, spec, now, facts?.finalCut?.at) };
    default: {
      const unreachable: never = spec;
      throw new Error(`unknown migration kind ${JSON.stringify(unreachable)}`);
    }
  }
}

/** Where a spec stands, as the transition rules see it. */
export function positionOf(spec: Migration): Position {
  // A parsed spec always has its phase: the lenient reader cannot come back empty here.
  return positionFromFields(spec as unknown as Record<string, unknown>)!;
}

/** The transition context of a spec (the ramp and the decommission window it configures). */
export function transitionContextOf(
  name: string,
  spec: Migration,
  opts: { now: Date; facts?: LedgerFacts; stack?: string },
): TransitionContext {
  return { kind: spec.kind, migration: name, ramp: spec.ramp, ...routeAndWindow(spec), ...opts };
}

/** The route a spec takes and its window before decommission, in hours (exhaustive over kinds). */
function routeAndWindow(spec: Migration): { route: string | undefined; windowHours: number } {
  switch (spec.kind) {
    case "cloudsql":
      return { route: spec.writeMove, windowHours: spec.observeHours };
    case "dual-write":
      return { route: undefined, windowHours: spec.soakDays * DAY_HOURS };
    default: {
      const unreachable: never = spec;
      throw new Error(`unknown migration kind ${JSON.stringify(unreachable)}`);
    }
  }
}
