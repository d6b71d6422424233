import type { Migration } from "../config/schema";
import { planCloudSql, type CloudSqlPlan } from "./cloudsql";
import { planDualWrite, type DualWritePlan } from "./dual-write";

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
export function planMigration(name: string, spec: Migration, now: Date = new Date()): MigrationPlan {
  switch (spec.kind) {
    case "cloudsql":
      return { name, spec, plan: planCloudSql(name, spec) };
    case "dual-write":
      return { name, spec, plan: planDualWrite(name, spec, now) };
    default: {
      const unreachable: never = spec;
      throw new Error(`unknown migration kind ${JSON.stringify(unreachable)}`);
    }
  }
}
