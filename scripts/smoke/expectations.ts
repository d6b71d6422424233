/**
 * What `GET /system/status` must say in each phase of a cloudsql migration (runbook phase E): Redis is
 * required where the engine's phase table wires it into the serving revision (`resources.redisWired`);
 * before that the app's in-memory fallback is fine. Rollback serves the stable revision, which predates
 * Redis.
 */
import type { CloudSqlPhase } from "../../infra/config/schema";
import { CLOUDSQL_PHASE_TABLE } from "../../infra/engine/cloudsql-phases";

export interface StatusExpectation {
  readonly phase: CloudSqlPhase;
  /** `redis.configured=true` and `chatRealtime.effectiveMode=redis` are required. */
  readonly redisRequired: boolean;
}

export function expectationFor(phase: CloudSqlPhase): StatusExpectation {
  return {
    phase,
    redisRequired: phase !== "rollback" && CLOUDSQL_PHASE_TABLE[phase].resources.redisWired,
  };
}
