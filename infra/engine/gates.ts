/**
 * The one gate judge. A forward step the phase table gates on data (`gates` of the row it enters) needs,
 * for each check, evidence that passed, was taken at the position being left, in this attempt, not in
 * the future and not older than the stack's `evidenceMaxAgeHours`. The same judgement refuses the step
 * at every door: `phase next|set` and `advance --apply` (from the committed files), the offline plan
 * (text and Markdown, exit 1), and the ledger at `pulumi preview` and `pulumi up` (from the evidence the
 * program hands it). Pure: the ledger's provider runs it inside the Pulumi engine.
 */
import type { GateCheck } from "./phase-row";
import { gatesOf, positionLabel, type Position, type Walk } from "./transitions";
import {
  coverageProblem,
  endpointProblem,
  pinProblem,
  signatureProblem,
  type CoveredTable,
  type EndpointFingerprint,
  type EvidenceRequirement,
  type EvidenceTrust,
} from "./evidence-binding";

// What evidence is bound to lives beside the judge; callers import both from here.
export * from "./evidence-binding";

/** Evidence as the judge sees it: what the file says, digest already checked by whoever read it. */
export interface EvidenceRef {
  readonly check: string;
  /** The store the file covers (dual-write validation, one file per store). */
  readonly store?: string;
  /** The position the migration was at when the check ran (`replicate`, `canary:10`), without attempt. */
  readonly position: string;
  /** The attempt it was taken in; absent in files written before attempts were recorded. */
  readonly attempt?: number;
  readonly at: string;
  readonly passed: boolean;
  readonly digest: string;
  /** The endpoints the check ran against; absent in files written before they were recorded. */
  readonly endpoints?: readonly EndpointFingerprint[];
  readonly tables?: readonly CoveredTable[];
  /** Base64 Ed25519 signature of the digest by the pipeline's key, when it signed. */
  readonly signature?: string;
}

export interface GateVerdict {
  readonly check: GateCheck;
  readonly store?: string;
  /** The position the evidence must have been taken at. */
  readonly at: string;
  readonly attempt: number;
  /** Why the evidence does not open the gate; absent when it does. */
  readonly problem?: string;
  readonly evidence?: EvidenceRef;
}

/** Clocks of the laptop, the runner and the engine disagree a little; more than this is a forgery or a bad clock. */
export const CLOCK_SKEW_MS = 5 * 60_000;

/** Why one check's evidence does not open the gate, or undefined when it does. */
export function evidenceRefProblem(
  e: EvidenceRef | undefined,
  want: { check: string; position: string; attempt: number; maxAgeHours: number; now: Date },
): string | undefined {
  if (e === undefined) return `no ${want.check} evidence`;
  if (!e.passed) return `the last ${want.check} did not pass (${e.at})`;
  if (e.position !== want.position)
    return `the ${want.check} evidence was taken at ${e.position}, not at ${want.position}`;
  if (e.attempt === undefined)
    return `the ${want.check} evidence does not say which attempt it was taken in (written by an older version): take it again`;
  if (e.attempt !== want.attempt)
    return `the ${want.check} evidence was taken in attempt ${e.attempt}, not in attempt ${want.attempt}`;
  const taken = Date.parse(e.at);
  if (!Number.isFinite(taken)) return `the ${want.check} evidence has no readable time (${e.at})`;
  if (taken > want.now.getTime() + CLOCK_SKEW_MS)
    return `the ${want.check} evidence is dated ${e.at}, in the future: a clock is wrong or the file was not written by the check`;
  const ageHours = (want.now.getTime() - taken) / 3_600_000;
  if (ageHours > want.maxAgeHours)
    return `the ${want.check} evidence is ${Math.floor(ageHours)} h old (more than ${want.maxAgeHours} h)`;
  return undefined;
}

/** Everything the judge weighs beyond the step: age, what the evidence must cover, whom to trust. */
export interface JudgeOptions {
  readonly maxAgeHours: number;
  readonly now: Date;
  /** What each check's evidence must cover (from the stack's config); none: one file, no scope. */
  readonly requirements?: readonly EvidenceRequirement[];
  readonly trust?: EvidenceTrust;
  /** System identifiers the ledger pinned when earlier gates were passed ({@link pinKey}). */
  readonly pins?: Readonly<Record<string, string>>;
}

/** Each gate of `from → to` with its verdict (none when the step is not gated); one per file a check needs. */
export function judgeGates(
  from: Position,
  to: Position,
  ctx: Walk,
  evidence: readonly EvidenceRef[],
  o: JudgeOptions,
): GateVerdict[] {
  const at = positionLabel(from);
  return gatesOf(from, to, ctx).flatMap((check) => {
    const wanted = o.requirements?.filter((r) => r.check === check) ?? [];
    return (wanted.length ? wanted : [{ check } as EvidenceRequirement]).map((req) => {
      // The best candidate: one taken at the position left in this attempt, else whatever there is.
      const mine = evidence.filter((e) => e.check === check && e.store === req.store);
      const e =
        mine.find((x) => x.position === at && x.attempt === from.attempt) ??
        mine.find((x) => x.position === at) ??
        mine[0];
      const named = req.store ? `${check} (${req.store})` : check;
      const problem =
        evidenceRefProblem(e, { check: named, position: at, attempt: from.attempt, ...o }) ??
        endpointProblem(named, e!.endpoints, req.endpoints ?? []) ??
        pinProblem(named, e!.endpoints, o.pins, from.attempt) ??
        coverageProblem(named, e!.tables, req.tables ?? []) ??
        signatureProblem(e!, o.trust);
      const store = req.store ? { store: req.store } : {};
      return { check, ...store, at, attempt: from.attempt, ...(problem ? { problem } : { evidence: e }) };
    });
  });
}

/** The command that writes a gate's evidence. */
export function gateCommand(check: GateCheck, stack: string, migration: string, store?: string): string {
  switch (check) {
    case "validate": {
      const target =
        store === "d1"
          ? " --target d1:remote:<accountId>/<databaseId>"
          : store === undefined
            ? ""
            : " --target <the new schema's postgres:// URL>";
      return `cutover check validate --stack ${stack} --migration ${migration}${target} --evidence`;
    }
    case "smoke":
      return `cutover check smoke <candidate tag URL> --stack ${stack} --migration ${migration} --evidence`;
    case "export":
      return `cutover data export --stack ${stack} --migration ${migration} --remote --evidence`;
    case "capture":
      return `cutover check capture --stack ${stack} --migration ${migration} --evidence`;
    case "detached":
      return `cutover check decommission --stack ${stack} --migration ${migration} --evidence`;
    case "compare":
      return `cutover check compare status --stack ${stack} --migration ${migration} --remote --evidence`;
    default: {
      const unreachable: never = check;
      throw new Error(`unknown gate check ${String(unreachable)}`);
    }
  }
}

/** One refusal line per failing gate, or undefined when every gate of the step holds. */
export function gateRefusal(
  migration: string,
  from: Position,
  to: Position,
  verdicts: readonly GateVerdict[],
  commandOf: (check: GateCheck, store?: string) => string,
): string | undefined {
  // commandOf: gateCommand bound to the stack and migration (kept a parameter for other wordings).
  const failing = verdicts.filter((v) => v.problem !== undefined);
  if (failing.length === 0) return undefined;
  return failing
    .map(
      (v) =>
        `${migration}: ${positionLabel(from)} → ${positionLabel(to)} needs passing ${v.check}${v.store ? ` (${v.store})` : ""} evidence taken at ${v.at} (attempt ${v.attempt}): ${v.problem}; hint: ${commandOf(v.check, v.store)}, then commit evidence/ with the change`,
    )
    .join("\n");
}
