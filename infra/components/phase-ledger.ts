// The phase ledger: a dynamic resource whose provider runs in the Pulumi engine's process, serialized
// with its closure. It may import only pure modules with no Pulumi or I/O at load time: the engine's
// phase tables and transitions (plain data and functions) — nothing that reads files or the network.
import * as pulumi from "@pulumi/pulumi";
import { stableJson } from "./stable-json";
import { positionDamage, damagedMessage } from "../engine/ledger-health";
import { pinKey } from "../engine/gates";
import {
  BASELINE,
  gatesOf,
  judgeTransition,
  positionLabel,
  recordFacts,
  type Position,
  type LedgerFacts,
} from "../engine/transitions";
import {
  aheadProblem,
  contextOf,
  gateProblem,
  HISTORY_KEPT,
  inputsOf,
  pinsOf,
  settingsOf,
  trustedStart,
  type LedgerEntry,
  type LedgerInputs,
  type LedgerState,
} from "./ledger-rules";
import type { LeaderView } from "../engine/leader";

// The ledger's records and rules live in ledger-rules.ts; callers import them from here too.
export * from "./ledger-rules";

/** Applies `news` on top of what is deployed (refusing an illegal step), recording the facts. */
function apply(old: LedgerState | undefined, news: LedgerInputs, now: Date): LedgerState {
  const { from, facts, repaired } = trustedStart(old, news, now);
  const ctx = contextOf(news, now, facts, settingsOf(old, news));
  const t = judgeTransition(from, news.position, ctx);
  if (!t.allowed) throw new Error(t.message);
  const ahead = news.repair ? undefined : aheadProblem(news, from, news.followOverride);
  if (ahead) throw new Error(ahead);
  // Taken ahead of the leader only by the stated override: its reason goes into the history.
  const overridden =
    !news.repair && aheadProblem(news, from) !== undefined ? news.followOverride?.reason : undefined;
  const refused = news.repair ? undefined : gateProblem(old, news, from, ctx);
  if (refused) throw new Error(refused);
  const moved = positionLabel(from, true) !== positionLabel(news.position, true);
  const at = now.toISOString();
  const checks = moved ? gatesOf(from, news.position, ctx) : [];
  const wanted = news.evidenceRequirements ?? [];
  const pins: Record<string, string> = { ...pinsOf(old) };
  const gates = checks.flatMap((check) => {
    const stores = wanted.filter((r) => r.check === check).map((r) => r.store);
    return (stores.length ? stores : [undefined]).map((store) => {
      const used = news.evidence?.find(
        (e) =>
          e.check === check &&
          e.store === store &&
          e.position === positionLabel(from) &&
          e.attempt === from.attempt,
      );
      // The servers this gate was passed on: a different cluster at the same address later refuses.
      for (const ep of used?.endpoints ?? [])
        if (ep.systemIdentifier) pins[pinKey(from.attempt, ep)] ??= ep.systemIdentifier;
      return {
        check,
        ...(store !== undefined ? { store } : {}),
        ...(used
          ? {
              evidence: {
                position: used.position,
                attempt: used.attempt,
                at: used.at,
                passed: used.passed,
                digest: used.digest,
                signed: used.signature !== undefined,
              },
            }
          : {}),
      };
    });
  });
  const gated = gates.length > 0 ? { gates } : {};
  const history = [...(old?.history ?? []), ...(repaired ? [repaired] : [])];
  return {
    ...news,
    deployed: news.position,
    appliedAt: moved || old === undefined || repaired ? at : old.appliedAt,
    facts: moved ? recordFacts(facts, news.position, ctx) : facts,
    pins,
    history: (moved
      ? [
          ...history,
          {
            from: positionLabel(from, true),
            to: positionLabel(news.position, true),
            at,
            ...gated,
            ...(overridden ? { aheadOfLeader: overridden } : {}),
          },
        ]
      : history
    ).slice(-HISTORY_KEPT),
  };
}

/**
 * The provider, with its clock injectable for tests. `check` runs at preview and at up: it judges the
 * position the stack file asks for against the position last applied (its previous inputs), so an illegal
 * step fails `pulumi preview` with the refusal. `diff` judges again against the recorded state, which
 * also carries the facts with their times: the decommission windows are judged there.
 */
export function makeLedgerProvider(clock: () => Date = () => new Date()): pulumi.dynamic.ResourceProvider {
  return {
    async check(olds: Partial<LedgerInputs>, news: LedgerInputs): Promise<pulumi.dynamic.CheckResult> {
      const fresh = olds === undefined || Object.keys(olds).length === 0;
      const settings = settingsOf(fresh ? undefined : olds, news);
      let from: Position = BASELINE;
      if (!fresh) {
        const damage = positionDamage(olds.position, news.kind, settings.ramp);
        // A damaged record is judged by diff, against the full state, with the repair if one is stated.
        if (damage !== undefined && news.repair === undefined)
          return {
            inputs: news,
            failures: [{ property: "position", reason: damagedMessage(news.migration, damage) }],
          };
        if (damage !== undefined) return { inputs: news, failures: [] };
        from = olds.position as Position;
      }
      if (news.repair) return { inputs: news, failures: [] };
      const ctx = contextOf(news, clock(), undefined, settings);
      const t = judgeTransition(from, news.position, ctx);
      if (!t.allowed) return { inputs: news, failures: [{ property: "position", reason: t.message ?? "" }] };
      const ahead = aheadProblem(news, from, news.followOverride);
      if (ahead) return { inputs: news, failures: [{ property: "leader", reason: ahead }] };
      const refused = gateProblem(fresh ? undefined : olds, news, from, ctx);
      return { inputs: news, failures: refused ? [{ property: "evidence", reason: refused }] : [] };
    },

    async diff(_id: string, olds: LedgerState, news: LedgerInputs): Promise<pulumi.dynamic.DiffResult> {
      // A thrown error fails the preview with this message (check could not see the recorded times).
      const { from, facts } = trustedStart(olds, news, clock());
      const ctx = contextOf(news, clock(), facts, settingsOf(olds, news));
      const t = judgeTransition(from, news.position, ctx);
      if (!t.allowed) throw new Error(t.message);
      const ahead = news.repair ? undefined : aheadProblem(news, from, news.followOverride);
      if (ahead) throw new Error(ahead);
      const refused = news.repair ? undefined : gateProblem(olds, news, from, ctx);
      if (refused) throw new Error(refused);
      return {
        changes: stableJson(inputsOf(olds)) !== stableJson(news),
        replaces: [],
        deleteBeforeReplace: false,
      };
    },

    async create(inputs: LedgerInputs): Promise<pulumi.dynamic.CreateResult> {
      const outs = apply(undefined, inputs, clock());
      return { id: `${inputs.stack}/${inputs.migration}`, outs };
    },

    async update(_id: string, olds: LedgerState, news: LedgerInputs): Promise<pulumi.dynamic.UpdateResult> {
      return { outs: apply(olds, news, clock()) };
    },

    // The ledger is its own truth: refresh keeps what was recorded.
    async read(id: string, props: LedgerState): Promise<pulumi.dynamic.ReadResult> {
      return { id, props };
    },

    // Removing a migration from the stack forgets its ledger; nothing outside Pulumi's state to delete.
    async delete(): Promise<void> {},
  };
}

export const phaseLedgerProvider = makeLedgerProvider();

/** What the program passes: the inputs without the contract marker; the leader's view may be an output. */
export type PhaseLedgerArgs = Omit<LedgerInputs, "cutoverLedger" | "leader"> & {
  readonly leader?: pulumi.Input<LeaderView>;
};

/**
 * Records, in the Pulumi state, the phase each `up` applied and the facts that cannot be undone
 * (promotion per attempt, the candidate at 100%, the final cut, decommission). Every other resource of
 * the migration depends on it, so an illegal step is refused before anything changes.
 */
export class PhaseLedger extends pulumi.dynamic.Resource {
  declare public readonly deployed: pulumi.Output<Position>;
  declare public readonly appliedAt: pulumi.Output<string>;
  declare public readonly facts: pulumi.Output<LedgerFacts>;
  declare public readonly history: pulumi.Output<readonly LedgerEntry[]>;
  declare public readonly pins: pulumi.Output<Readonly<Record<string, string>> | undefined>;

  constructor(name: string, args: PhaseLedgerArgs, opts?: pulumi.CustomResourceOptions) {
    const inputs = { cutoverLedger: "v1" as const, ...args };
    super(
      phaseLedgerProvider,
      name,
      {
        ...inputs,
        deployed: undefined,
        appliedAt: undefined,
        facts: undefined,
        history: undefined,
        pins: undefined,
      },
      opts,
    );
  }
}

/** A transformation that makes every resource of a component (descendants included) depend on `gate`. */
export function dependOn(gate: pulumi.Resource): pulumi.ResourceTransformation {
  return (args) =>
    args.resource === gate
      ? undefined
      : { props: args.props, opts: pulumi.mergeOptions(args.opts, { dependsOn: [gate] }) };
}
