/**
 * What `GET /system/status` must say in each phase of a cloudsql migration (runbook phase E): Redis is
 * required where the engine's phase table wires it into the serving revision (`resources.redisWired`);
 * before that the app's in-memory fallback is fine. Rollback serves the stable revision, which predates
 * Redis.
 */
import type { CloudSqlPhase } from "../../infra/config/schema";
import { CLOUDSQL_PHASE_TABLE, REVISION_TRAITS } from "../../infra/engine/cloudsql-phases";

export interface StatusExpectation {
  readonly phase: CloudSqlPhase;
  /** `redis.configured=true` and `chatRealtime.effectiveMode=redis` are required. */
  readonly redisRequired: boolean;
  /**
   * The revision checked takes writes: false only for the frozen one. In canary and promote smoke is run
   * against the candidate's tag URL, which writes; rollback serves the stable revision, which writes.
   */
  readonly writes: boolean;
}

export function expectationFor(phase: CloudSqlPhase): StatusExpectation {
  if (phase === "rollback") return { phase, redisRequired: false, writes: REVISION_TRAITS.stable.writes };
  const row = CLOUDSQL_PHASE_TABLE[phase];
  return { phase, redisRequired: row.resources.redisWired, writes: REVISION_TRAITS[row.templateRole].writes };
}
