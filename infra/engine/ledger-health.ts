/**
 * Whether a recorded ledger can be trusted. A ledger the engine cannot read is never taken for
 * baseline nor for a window that has passed: the ledger refuses every step until an explicit repair,
 * which the stack file states (`ledgerRepair`) and the ledger records. Pure: the ledger provider runs it.
 */
import { CLOUDSQL_PHASE_TABLE, type CloudSqlBasePhase } from "./cloudsql-phases";
import { KINDS } from "./kinds";
import { RAMP, type LedgerFacts, type MigrationKindName, type Position } from "./transitions";

/** What the operator states was really deployed, and why the ledger lost it. */
export interface LedgerRepair {
  readonly position: Position;
  readonly reason: string;
}

const isWhole = (n: unknown): n is number => typeof n === "number" && Number.isInteger(n) && n >= 1;

/** Why a position cannot be a recorded one of this kind and ramp (undefined when it can). */
export function positionDamage(
  p: unknown,
  kind: MigrationKindName,
  ramp: readonly number[],
): string | undefined {
  if (p === undefined || p === null || typeof p !== "object") return "no recorded position";
  const { phase, percent, rollbackFrom, attempt } = p as Partial<Position>;
  if (typeof phase !== "string" || (phase !== "rollback" && !KINDS[kind].order.includes(phase)))
    return `the recorded phase ${JSON.stringify(phase)} is not a phase of kind ${kind}`;
  if (!isWhole(attempt)) return `the recorded attempt ${JSON.stringify(attempt)} is not a whole number ≥ 1`;
  if (phase === RAMP[kind].phase && (typeof percent !== "number" || !ramp.includes(percent)))
    return `the recorded ${phase} has no ramp step (${RAMP[kind].percentKey} ${JSON.stringify(percent)}, ramp ${ramp.join(", ")})`;
  if (
    KINDS[kind].rollbackNamesOrigin &&
    phase === "rollback" &&
    !KINDS[kind].rollbackOrigins.includes(String(rollbackFrom))
  )
    return `the recorded rollback has no phase it left (rollbackFrom ${JSON.stringify(rollbackFrom)})`;
  return undefined;
}

/** Times the facts record that cannot be read (each named). */
function unreadableTimes(facts: LedgerFacts | undefined): string[] {
  if (facts === undefined) return [];
  const times: [string, unknown][] = [
    ...(facts.promoted ?? []).map((f, i): [string, unknown] => [`promoted[${i}].at`, f?.at]),
    ["cutoverCompleted.at", facts.cutoverCompleted?.at],
    ["finalCut.at", facts.finalCut?.at],
    ["decommissioned.at", facts.decommissioned?.at],
  ];
  const present = (key: string) =>
    key.startsWith("promoted") ||
    (key === "cutoverCompleted.at" && facts.cutoverCompleted !== undefined) ||
    (key === "finalCut.at" && facts.finalCut !== undefined) ||
    (key === "decommissioned.at" && facts.decommissioned !== undefined);
  return times
    .filter(([key, at]) => present(key) && (typeof at !== "string" || !Number.isFinite(Date.parse(at))))
    .map(([key, at]) => `${key} = ${JSON.stringify(at)}`);
}

/**
 * Why a recorded state cannot be trusted (undefined when it can): a missing or impossible position,
 * an unreadable recorded time, or a position that contradicts a recorded promotion.
 */
export function ledgerDamage(
  state: { readonly deployed?: unknown; readonly facts?: LedgerFacts },
  kind: MigrationKindName,
  ramp: readonly number[],
): string | undefined {
  const position = positionDamage(state.deployed, kind, ramp);
  if (position) return position;
  const times = unreadableTimes(state.facts);
  if (times.length) return `unreadable recorded time(s): ${times.join(", ")}`;
  const deployed = state.deployed as Position;
  if (kind === "cloudsql" && deployed.phase !== "rollback") {
    const promotedAt = state.facts?.promoted?.find((f) => f.attempt === deployed.attempt);
    const row = CLOUDSQL_PHASE_TABLE[deployed.phase as CloudSqlBasePhase];
    const before = row !== undefined && !row.promoted;
    if (promotedAt && before)
      return `the ledger records attempt ${deployed.attempt} promoted at ${promotedAt.at}, yet its position is ${deployed.phase}`;
  }
  return undefined;
}

/** The refusal of a damaged ledger, with the explicit way out. */
export function damagedMessage(migration: string, damage: string): string {
  return `${migration}: the phase ledger's recorded state cannot be trusted (${damage}), so no step is judged from it and nothing was changed; hint: find what really runs (pulumi stack output ${migration}, the Cloud Run service's traffic, DMS or the replication jobs), then state it in the stack file as cutover:migrations.${migration}.ledgerRepair = { phase, percent?, rollbackFrom?, attempt, reason } for one pulumi up: the ledger records the repair, restarts any unreadable window at the repair, and judges the step from there`;
}
