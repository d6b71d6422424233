// The phase ledger's rules, apart from its provider and resource (phase-ledger.ts): what it records
// (inputs, state, history) and how a step is judged from the recorded state — the settings in force, a
// damaged record and its repair, the gates with the deployed scope and pins, the leading stack. Pure, like
// everything the provider's serialized closure reaches.
import { leaderProblem, type LeaderOverride, type LeaderView } from "../engine/leader";
import { damagedMessage, ledgerDamage, type LedgerRepair } from "../engine/ledger-health";
import {
  gateCommand,
  gateRefusal,
  judgeGates,
  type EvidenceRef,
  type EvidenceRequirement,
  type EvidenceTrust,
} from "../engine/gates";
import {
  BASELINE,
  positionLabel,
  type LedgerFacts,
  type MigrationKindName,
  type Position,
  type TransitionContext,
} from "../engine/transitions";

/** What the program tells the ledger each run: the position the stack file asks for. */
export interface LedgerInputs {
  readonly cutoverLedger: "v1";
  readonly migration: string;
  readonly kind: MigrationKindName;
  readonly stack: string;
  readonly position: Position;
  readonly ramp: readonly number[];
  /** The migration's route (cloudsql: `writeMove`); absent for a kind with one route. */
  readonly route?: string;
  /** Observation window (cloudsql) or soak (dual-write) before decommission, in hours. */
  readonly windowHours: number;
  /** The gate evidence committed with the stack file (digests checked by the program). */
  readonly evidence?: readonly GateEvidence[];
  /** How old gate evidence may be (the stack's `evidenceMaxAgeHours`). */
  readonly evidenceMaxAgeHours?: number;
  /** What each check's evidence must cover: stores, tables, endpoints (`infra/engine/evidence-scope.ts`). */
  readonly evidenceRequirements?: readonly EvidenceRequirement[];
  /** Whose signature the evidence needs (the stack's `evidenceSignedBy`; required on prod stacks). */
  readonly evidenceTrust?: EvidenceTrust;
  /** The stack that leads this one and where its ledger stands (a StackReference in the program). */
  readonly leader?: LeaderView;
  /** An emergency override of the leader rule for one step (config `followOverride`), recorded. */
  readonly followOverride?: LeaderOverride;
  /** What was really deployed, when the recorded state is damaged (config `ledgerRepair`). */
  readonly repair?: LedgerRepair;
}

/** A gate check's committed evidence, as the program reads it (`tooling/evidence.ts`). */
export type GateEvidence = EvidenceRef;

/** One applied change, as the ledger keeps it (the last {@link HISTORY_KEPT}). */
export interface LedgerEntry {
  readonly from: string;
  readonly to: string;
  readonly at: string;
  /**
   * For a step the runbook gates on data: each check, and the evidence committed for it when taken at
   * the step left (absent: none was committed; the step went through without `phase next`).
   */
  readonly gates?: readonly {
    readonly check: string;
    readonly store?: string;
    readonly evidence?: Pick<GateEvidence, "position" | "attempt" | "at" | "passed" | "digest"> & {
      readonly signed?: boolean;
    };
  }[];
  /** A repair of a damaged state: the reason the operator gave. */
  readonly repair?: string;
  /** A step taken ahead of the leading stack: the override's reason. */
  readonly aheadOfLeader?: string;
}

/** What the ledger records on `up`: the deployed position and the facts, never rewritten backwards. */
export interface LedgerState extends LedgerInputs {
  readonly deployed: Position;
  /** When the deployed position was applied. */
  readonly appliedAt: string;
  readonly facts: LedgerFacts;
  readonly history: readonly LedgerEntry[];
  /** System identifiers of the servers gates were passed on ({@link pinKey}): another one later refuses. */
  readonly pins?: Readonly<Record<string, string>>;
}

export const HISTORY_KEPT = 20;
const STATE_KEYS = ["deployed", "appliedAt", "facts", "history", "pins"] as const;

/**
 * The ramp and window the step is judged with: the deployed ones. A change that lowers them takes
 * effect for the steps after it, never for the step it comes with.
 */
export function settingsOf(old: Partial<LedgerInputs> | undefined, news: LedgerInputs) {
  const ramp =
    Array.isArray(old?.ramp) && old.ramp.length > 0 && old.ramp.every((n) => typeof n === "number")
      ? old.ramp
      : news.ramp;
  const windowHours =
    typeof old?.windowHours === "number" && Number.isFinite(old.windowHours) && old.windowHours > 0
      ? old.windowHours
      : news.windowHours;
  return { ramp, windowHours };
}

export function contextOf(
  i: LedgerInputs,
  now: Date,
  facts?: LedgerFacts,
  settings: { ramp: readonly number[]; windowHours: number } = i,
): TransitionContext {
  return {
    kind: i.kind,
    migration: i.migration,
    ramp: settings.ramp,
    route: i.route,
    windowHours: settings.windowHours,
    now,
    facts,
    stack: i.stack,
  };
}

/** Unreadable recorded times restart at the repair: a window never passes on a time nobody can read. */
export function restartUnreadable(facts: LedgerFacts | undefined, at: string): LedgerFacts {
  const ok = (t: unknown) => typeof t === "string" && Number.isFinite(Date.parse(t));
  const f = facts ?? {};
  return {
    ...(f.promoted ? { promoted: f.promoted.map((p) => (ok(p?.at) ? p : { ...p, at })) } : {}),
    ...(f.cutoverCompleted
      ? { cutoverCompleted: ok(f.cutoverCompleted.at) ? f.cutoverCompleted : { ...f.cutoverCompleted, at } }
      : {}),
    ...(f.finalCut ? { finalCut: ok(f.finalCut.at) ? f.finalCut : { at } } : {}),
    ...(f.decommissioned ? { decommissioned: ok(f.decommissioned.at) ? f.decommissioned : { at } } : {}),
  };
}

/**
 * The position and facts a step is judged from: the recorded ones when they can be trusted; a damaged
 * state refuses every step unless the stack file states a repair, which is checked and recorded.
 */
export function trustedStart(
  old: LedgerState | undefined,
  news: LedgerInputs,
  now: Date,
): { from: Position; facts: LedgerFacts; repaired?: LedgerEntry } {
  const at = now.toISOString();
  if (old === undefined) {
    if (news.repair)
      throw new Error(
        `${news.migration}: ledgerRepair is set but the ledger has no recorded state to repair; hint: remove ledgerRepair from the stack file`,
      );
    return { from: BASELINE, facts: {} };
  }
  const { ramp } = settingsOf(old, news);
  const damage = ledgerDamage(old, news.kind, ramp);
  if (damage === undefined) {
    if (news.repair)
      throw new Error(
        `${news.migration}: ledgerRepair is set but the ledger's recorded state is sound (deployed ${positionLabel(old.deployed, true)}); hint: remove ledgerRepair from the stack file`,
      );
    return { from: old.deployed, facts: old.facts ?? {} };
  }
  if (!news.repair) throw new Error(damagedMessage(news.migration, damage));
  const facts = restartUnreadable(old.facts, at);
  const still = ledgerDamage({ deployed: news.repair.position, facts }, news.kind, ramp);
  if (still)
    throw new Error(
      `${news.migration}: ledgerRepair does not give a state the ledger can trust: ${still}; nothing was changed`,
    );
  return {
    from: news.repair.position,
    facts,
    repaired: {
      from: `(damaged: ${damage})`,
      to: positionLabel(news.repair.position, true),
      at,
      repair: news.repair.reason,
    },
  };
}

/** Evidence older than this is refused when the stack names no age (the config's default). */
const DEFAULT_EVIDENCE_MAX_AGE_HOURS = 24;

/**
 * The gate refusal of a forward step, if any: the one judge (`infra/engine/gates.ts`) on the evidence
 * the program handed over, with the stricter of the deployed and the proposed maximum age (raising it
 * cannot open the gate it comes with).
 */
export function gateProblem(
  old: Partial<LedgerInputs> | undefined,
  news: LedgerInputs,
  from: Position,
  ctx: TransitionContext,
): string | undefined {
  const ages = [old?.evidenceMaxAgeHours, news.evidenceMaxAgeHours].filter(
    (h): h is number => typeof h === "number" && Number.isFinite(h) && h > 0,
  );
  const maxAgeHours = ages.length ? Math.min(...ages) : DEFAULT_EVIDENCE_MAX_AGE_HOURS;
  const verdicts = judgeGates(from, news.position, ctx, news.evidence ?? [], {
    maxAgeHours,
    now: ctx.now,
    ...scopeOf(old, news),
    ...(pinsOf(old) ? { pins: pinsOf(old) } : {}),
  });
  return gateRefusal(news.migration, from, news.position, verdicts, (check, store) =>
    gateCommand(check, news.stack, news.migration, store),
  );
}

/**
 * What the evidence must cover and whose signature it needs: the deployed settings when there are any,
 * like the ramp (a change that narrows the tables, moves an endpoint or drops the signing key takes
 * effect for the steps after it, never for the gated step it comes with).
 */
export function scopeOf(old: Partial<LedgerInputs> | undefined, news: LedgerInputs) {
  const requirements = Array.isArray(old?.evidenceRequirements)
    ? old.evidenceRequirements
    : news.evidenceRequirements;
  const oldKey = old?.evidenceTrust?.publicKey;
  const trust: EvidenceTrust | undefined =
    typeof oldKey === "string" && oldKey.length > 0
      ? { ...news.evidenceTrust, publicKey: oldKey }
      : news.evidenceTrust;
  return { ...(requirements ? { requirements } : {}), ...(trust ? { trust } : {}) };
}

/** Why the step would run ahead of the leading stack (undefined: no leader, or not ahead), with the override. */
export function aheadProblem(
  news: LedgerInputs,
  from: Position,
  override?: LeaderOverride,
): string | undefined {
  const leader = news.leader;
  if (!leader || typeof leader.stack !== "string") return undefined;
  return leaderProblem(news.migration, news.stack, from, news.position, news.kind, leader, override);
}

/** The pins recorded in a state, when it has readable ones. */
export function pinsOf(old: Partial<LedgerState> | undefined): Record<string, string> | undefined {
  const p = (old as Partial<LedgerState> | undefined)?.pins;
  if (!p || typeof p !== "object") return undefined;
  return Object.fromEntries(Object.entries(p).filter(([, v]) => typeof v === "string"));
}

export function inputsOf(state: Partial<LedgerState>): Partial<LedgerInputs> {
  const copy: Record<string, unknown> = { ...state };
  for (const k of STATE_KEYS) delete copy[k];
  return copy as Partial<LedgerInputs>;
}
