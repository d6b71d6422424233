/**
 * What `GET /system/status` must say in each phase of a cloudsql migration (runbook phase E): Redis
 * is wired into the revision only from `stabilize` on; before that the app's in-memory fallback is fine.
 */
import type { CloudSqlPhase } from "../../infra/config/schema";

export interface StatusExpectation {
  readonly phase: CloudSqlPhase;
  /** `redis.configured=true` and `chatRealtime.effectiveMode=redis` are required. */
  readonly redisRequired: boolean;
}

export function expectationFor(phase: CloudSqlPhase): StatusExpectation {
  switch (phase) {
    case "baseline":
    case "provision":
    case "replicate":
    case "freeze":
    case "promote":
    case "canary":
    case "rollback": // serves the stable revision, which predates Redis
      return { phase, redisRequired: false };
    case "stabilize":
    case "decommission":
      return { phase, redisRequired: true };
    default: {
      const unknown: never = phase;
      throw new Error(`unhandled phase ${String(unknown)}`);
    }
  }
}
