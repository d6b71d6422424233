import fc from "fast-check";
import { ROLLBACK_ORIGINS } from "../../infra/config/cloudsql";
import { DUAL_WRITE_ROLLBACK_ORIGINS } from "../../infra/config/dual-write";
import { CLOUDSQL_ROLLBACK_ORIGINS, DMS_OWNS_BACKUPS_IN } from "../../infra/engine/cloudsql-phases";
import { DUAL_WRITE_ROLLBACK_ORIGINS_OF_TABLE } from "../../infra/engine/dual-write-phases";
import {
  allowedSteps,
  BASELINE,
  judgeTransition,
  positionLabel,
  recordFacts,
  stepsOf,
  type LedgerFacts,
  type MigrationKindName,
  type Position,
  type TransitionContext,
} from "../../infra/engine/transitions";

const NOW = new Date("2026-11-25T12:00:00Z");
const RAMP = [10, 50, 100];
const ctxOf = (kind: MigrationKindName, extra: Partial<TransitionContext> = {}): TransitionContext => ({
  kind,
  migration: kind === "cloudsql" ? "avvivo" : "matchauto",
  ramp: RAMP,
  route: kind === "cloudsql" ? "ramp" : undefined,
  windowHours: kind === "cloudsql" ? 48 : 7 * 24,
  now: NOW,
  stack: "prod",
  ...extra,
});
const p = (phase: string, extra: Partial<Position> = {}): Position => ({ phase, attempt: 1, ...extra });
const judge = (
  kind: MigrationKindName,
  from: Position,
  to: Position,
  extra: Partial<TransitionContext> = {},
) => judgeTransition(from, to, ctxOf(kind, extra));
const hoursAgo = (h: number) => new Date(NOW.getTime() - h * 3_600_000).toISOString();

describe("the phase tables agree with the config's lists", () => {
  it("rollback origins: the config enums are the tables' (decommission and the cut excluded)", () => {
    expect([...ROLLBACK_ORIGINS]).toEqual([...CLOUDSQL_ROLLBACK_ORIGINS]);
    expect([...DUAL_WRITE_ROLLBACK_ORIGINS]).toEqual([...DUAL_WRITE_ROLLBACK_ORIGINS_OF_TABLE]);
  });
  it("DMS owns the destination's backups from replicate until promotion's traffic: replicate, switch, freeze, promote", () => {
    expect(DMS_OWNS_BACKUPS_IN).toEqual(["replicate", "switch", "freeze", "promote"]);
  });
});

// Every case of the "Why", refused with both phases named and the allowed steps listed.
const refusals: {
  what: string;
  kind: MigrationKindName;
  from: Position;
  to: Position;
  extra?: Partial<TransitionContext>;
  says: string[];
}[] = [
  {
    what: "baseline → canary written directly",
    kind: "cloudsql",
    from: BASELINE,
    to: p("canary", { percent: 10 }),
    says: [
      "baseline → canary:10 is refused",
      "it skips provision, replicate, freeze, promote",
      "Allowed from baseline: provision",
    ],
  },
  {
    what: "replicate → promote, skipping freeze",
    kind: "cloudsql",
    from: p("replicate"),
    to: p("promote"),
    says: [
      "replicate → promote is refused",
      "it skips freeze",
      "Allowed from replicate: freeze, provision, rollback:replicate",
    ],
  },
  {
    what: "replicate put back after promotion",
    kind: "cloudsql",
    from: p("canary", { percent: 50 }),
    to: p("replicate"),
    says: ["canary:50 → replicate is refused", "promotion has happened", "use rollback"],
  },
  {
    what: "freeze put back after promotion",
    kind: "cloudsql",
    from: p("promote"),
    to: p("freeze"),
    says: ["promote → freeze is refused", "use rollback", "rollback:promote"],
  },
  {
    what: "a ramp step back after promotion",
    kind: "cloudsql",
    from: p("canary", { percent: 50 }),
    to: p("canary", { percent: 10 }),
    says: ["canary:50 → canary:10 is refused", "use rollback"],
  },
  {
    what: "read-switch put back after the final cut",
    kind: "dual-write",
    from: p("final-cut"),
    to: p("read-switch", { percent: 50 }),
    says: ["final-cut → read-switch:50 is refused", "the final cut has happened"],
  },
  {
    what: "rollback after the final cut",
    kind: "dual-write",
    from: p("final-cut"),
    to: p("rollback", { rollbackFrom: "final-cut" }),
    says: ["rollback is refused from final-cut", "legacy store has not been written since"],
  },
  {
    what: "rollback from decommission",
    kind: "cloudsql",
    from: p("decommission"),
    to: p("rollback", { rollbackFrom: "decommission" }),
    says: [
      "decommission → rollback:decommission is refused",
      "the source has received no write since the promotion",
    ],
  },
  {
    what: "rollback naming another phase than the deployed one",
    kind: "cloudsql",
    from: p("canary", { percent: 50 }),
    to: p("rollback", { rollbackFrom: "freeze" }),
    says: ["rollbackFrom must be the deployed phase (canary)"],
  },
  {
    what: "forward again after rollback without a new attempt",
    kind: "cloudsql",
    from: p("rollback", { rollbackFrom: "canary" }),
    to: p("canary", { percent: 50 }),
    says: [
      "a retry after rollback needs a new attempt (attempt 2)",
      "Allowed from rollback:canary: replicate",
    ],
  },
  {
    what: "a new attempt that does not re-enter at replicate",
    kind: "cloudsql",
    from: p("rollback", { rollbackFrom: "canary" }),
    to: p("promote", { attempt: 2 }),
    says: ["moves forward again from what still exists, at replicate with attempt 2"],
  },
  {
    what: "an attempt changed outside a retry",
    kind: "cloudsql",
    from: p("freeze"),
    to: p("freeze", { attempt: 2 }),
    says: ["attempt changes only when retrying after a rollback"],
  },
  {
    what: "dual-write forward from rollback past backfill",
    kind: "dual-write",
    from: p("rollback", { rollbackFrom: "read-switch" }),
    to: p("dual-write"),
    says: ["at backfill (the new stores missed the writes made since the rollback)"],
  },
  {
    what: "decommission inside the observation window (the ledger's time)",
    kind: "cloudsql",
    from: p("stabilize"),
    to: p("decommission"),
    extra: { facts: { cutoverCompleted: { attempt: 1, at: hoursAgo(24) } } },
    says: [
      "the 48 h observation window after the candidate reached 100% ends at 2026-11-26T12:00:00.000Z (24 h left)",
    ],
  },
  {
    what: "decommission with no recorded 100%",
    kind: "cloudsql",
    from: p("stabilize"),
    to: p("decommission"),
    extra: { facts: {} },
    says: ["the ledger has no record of when the candidate reached 100%"],
  },
  {
    what: "dual-write decommission inside the soak",
    kind: "dual-write",
    from: p("final-cut"),
    to: p("decommission"),
    extra: { facts: { finalCut: { at: hoursAgo(96) } } },
    says: ["the 7-day soak after the final cut ends at", "(3 d 0 h left)", "stay in final-cut"],
  },
  {
    what: "going back to baseline (deletes Cloud SQL)",
    kind: "cloudsql",
    from: p("provision"),
    to: BASELINE,
    says: ["going back to baseline deletes the Cloud SQL instance", "use rollback"],
  },
  {
    what: "going back two steps before promotion",
    kind: "cloudsql",
    from: p("freeze"),
    to: p("provision"),
    says: ["going back by value moves one step at a time, to replicate"],
  },
];

describe.each(refusals)("refused: $what", ({ kind, from, to, extra, says }) => {
  const t = judge(kind, from, to, extra);
  it("is refused with both phases, the reason and the allowed steps", () => {
    expect(t.allowed).toBe(false);
    for (const s of says) expect(t.message).toContain(s);
    expect(t.message).toContain(positionLabel(from));
    expect(t.message).toContain(positionLabel(to));
  });
  it("says what to do: wait out a window, else the command of an allowed step, or that nothing moves on", () => {
    if (/observation window .* ends at|soak .* ends at/.test(t.message ?? ""))
      expect(t.message).toMatch(/hint: wait until \S+ \(.+ left\), then take the step again$/);
    else if (t.next.length)
      expect(t.message).toContain("hint: pulumi config set --stack prod --path 'cutover:migrations.");
    else expect(t.message).toContain(`Nothing moves on from ${positionLabel(from)}`);
  });
  it("never suggests a rollback while another step is allowed", () => {
    if (t.next.some((n) => n.phase !== "rollback")) expect(t.message).not.toMatch(/hint: .*rollbackFrom/);
  });
});

describe("safe ways back and hints", () => {
  it("from stabilize, back to canary:100 is allowed (undoes the Redis step, no write left behind)", () => {
    const t = judge("cloudsql", p("stabilize"), p("canary", { percent: 100 }));
    expect([t.allowed, t.message]).toEqual([true, undefined]);
    expect(judge("cloudsql", p("stabilize"), p("canary", { percent: 50 })).allowed).toBe(false);
  });
  it("a decommission refused for its window says to wait, with the time left, not to roll back", () => {
    const t = judge("cloudsql", p("stabilize"), p("decommission"), {
      now: new Date("2026-11-25T12:00:00Z"),
      facts: { cutoverCompleted: { attempt: 1, at: "2026-11-25T00:00:00.000Z" } },
    });
    expect(t.allowed).toBe(false);
    expect(t.message).toContain(
      "hint: wait until 2026-11-27T00:00:00.000Z (36 h left), then take the step again",
    );
    expect(t.message).not.toContain("rollbackFrom");
  });
});

describe("allowed steps", () => {
  it.each([
    ["cloudsql", BASELINE, p("provision")],
    ["cloudsql", p("freeze"), p("promote")],
    ["cloudsql", p("freeze"), p("replicate")],
    ["cloudsql", p("promote"), p("canary", { percent: 10 })],
    ["cloudsql", p("canary", { percent: 10 }), p("canary", { percent: 50 })],
    ["cloudsql", p("canary", { percent: 100 }), p("stabilize")],
    ["cloudsql", p("canary", { percent: 50 }), p("rollback", { rollbackFrom: "canary" })],
    ["cloudsql", p("rollback", { rollbackFrom: "canary" }), p("replicate", { attempt: 2 })],
    ["cloudsql", p("rollback", { rollbackFrom: "provision" }), p("provision", { attempt: 2 })],
    ["dual-write", p("read-switch", { percent: 50 }), p("read-switch", { percent: 10 })],
    ["dual-write", p("read-switch", { percent: 10 }), p("dual-write")],
    ["dual-write", p("read-switch", { percent: 100 }), p("final-cut")],
    ["dual-write", p("dual-write"), p("rollback")],
    ["dual-write", p("rollback", { rollbackFrom: "backfill" }), p("backfill")],
  ] as [MigrationKindName, Position, Position][])("%s: %j → %j", (kind, from, to) => {
    expect(judge(kind, from, to)).toMatchObject({ allowed: true });
  });

  it("decommission after the window, measured from the ledger's time", () => {
    const facts: LedgerFacts = { cutoverCompleted: { attempt: 1, at: hoursAgo(49) } };
    expect(judge("cloudsql", p("stabilize"), p("decommission"), { facts }).allowed).toBe(true);
  });

  it("decommission judged offline without times says the preview will judge the window", () => {
    const t = judge("cloudsql", p("stabilize"), p("decommission"));
    expect(t.allowed).toBe(true);
    expect(t.note).toContain("judged from the time the ledger recorded");
  });

  it("records promotion per attempt, the candidate at 100%, the final cut and decommission", () => {
    const c = ctxOf("cloudsql");
    let facts = recordFacts({}, p("promote"), c);
    facts = recordFacts(facts, p("canary", { percent: 50 }), c);
    expect(facts).toEqual({ promoted: [{ attempt: 1, at: NOW.toISOString() }] });
    facts = recordFacts(facts, p("canary", { percent: 100 }), c);
    facts = recordFacts(facts, p("promote", { attempt: 2 }), { ...c, now: new Date("2026-11-26T00:00:00Z") });
    expect(facts.promoted).toHaveLength(2);
    expect(facts.cutoverCompleted).toEqual({ attempt: 1, at: NOW.toISOString() });
    expect(recordFacts({}, p("final-cut"), ctxOf("dual-write"))).toEqual({
      finalCut: { at: NOW.toISOString() },
    });
    expect(recordFacts({}, p("decommission"), c)).toEqual({ decommissioned: { at: NOW.toISOString() } });
  });
});

// Properties, for both kinds.
function universe(kind: MigrationKindName): Position[] {
  // dual-write has no attempts: its positions always carry attempt 1.
  const steps = (kind === "cloudsql" ? [1, 2] : [1]).flatMap((attempt) =>
    stepsOf({ kind, ramp: RAMP, route: kind === "cloudsql" ? "ramp" : undefined }, attempt),
  );
  const rollbacks = steps
    .filter((s) => s.phase !== "baseline")
    .map((s) => ({ phase: "rollback", rollbackFrom: s.phase, attempt: s.attempt }));
  return [...steps, ...rollbacks];
}

describe.each(["cloudsql", "dual-write"] as const)("transition properties of %s", (kind) => {
  it("random walks of allowed steps from baseline never meet a refusal", () => {
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 40 }), (choices) => {
        let at = BASELINE;
        let facts: LedgerFacts = {};
        let now = NOW.getTime();
        for (const c of choices) {
          // A day and more between changes: every window has passed by the next step.
          now += (ctxOf(kind).windowHours + 1) * 3_600_000;
          const ctx = ctxOf(kind, { facts, now: new Date(now) });
          const next = allowedSteps(at, ctx);
          if (next.length === 0) break;
          const to = next[c % next.length];
          const t = judgeTransition(at, to, ctx);
          if (!t.allowed) throw new Error(t.message);
          facts = recordFacts(facts, to, ctx);
          at = to;
        }
      }),
      { numRuns: 300 },
    );
  });

  it("every pair not allowed is refused with a message naming both", () => {
    const all = universe(kind);
    const ctx = ctxOf(kind, {
      facts: { cutoverCompleted: { attempt: 1, at: hoursAgo(999) }, finalCut: { at: hoursAgo(999) } },
    });
    let refused = 0;
    for (const from of all)
      for (const to of all) {
        const t = judgeTransition(from, to, ctx);
        const listed = allowedSteps(from, ctx).some((n) => JSON.stringify(n) === JSON.stringify(to));
        const same = JSON.stringify(from) === JSON.stringify(to);
        expect({ from, to, allowed: t.allowed }).toEqual({ from, to, allowed: listed || same });
        if (!t.allowed) {
          refused++;
          expect(t.message).toContain(
            `${positionLabel(from, from.attempt !== to.attempt)} → ${positionLabel(to, from.attempt !== to.attempt)}`,
          );
        }
      }
    expect(refused).toBeGreaterThan(all.length * (all.length - 4));
  });
});

describe("the switch route (writeMove: switch)", () => {
  const sw = (extra: Partial<TransitionContext> = {}) => ctxOf("cloudsql", { route: "switch", ...extra });
  it("walks baseline, provision, replicate, switch, stabilize, decommission: no freeze, no promote, no canary", () => {
    expect(stepsOf(sw()).map((s) => positionLabel(s))).toEqual([
      "baseline",
      "provision",
      "replicate",
      "switch",
      "stabilize",
      "decommission",
    ]);
    // The ramp route never takes the switch.
    expect(stepsOf(ctxOf("cloudsql")).map((s) => s.phase)).not.toContain("switch");
  });

  it("replicate → switch is allowed and records the promotion and the candidate at 100% at once", () => {
    const t = judgeTransition(p("replicate"), p("switch"), sw());
    expect(t.allowed).toBe(true);
    expect(t.records).toEqual(["promoted", "cutoverCompleted"]);
    const facts = recordFacts({}, p("switch"), sw());
    expect(facts).toEqual({
      promoted: [{ attempt: 1, at: NOW.toISOString() }],
      cutoverCompleted: { attempt: 1, at: NOW.toISOString() },
    });
  });

  it("refuses a phase of the other route, saying which route it is on and when the route may change", () => {
    const t = judgeTransition(p("replicate"), p("freeze"), sw());
    expect(t.allowed).toBe(false);
    expect(t.message).toContain(
      "freeze is not on this migration's route (writeMove: switch): freeze belongs to writeMove ramp",
    );
    expect(t.message).toContain("change writeMove only at a phase both routes share");
    expect(t.message).toContain(
      "pulumi config set --stack prod --path 'cutover:migrations.avvivo.phase' switch",
    );
    // And the other way: a ramp migration has no switch.
    expect(judgeTransition(p("replicate"), p("switch"), ctxOf("cloudsql")).reason).toContain(
      "switch is not on this migration's route (writeMove: ramp)",
    );
  });

  it("rolls back from the switch; a retry re-enters at replicate with a new attempt; no way back by value", () => {
    expect(allowedSteps(p("switch"), sw())).toEqual([
      p("stabilize"),
      { phase: "rollback", rollbackFrom: "switch", attempt: 1 },
    ]);
    expect(allowedSteps({ phase: "rollback", rollbackFrom: "switch", attempt: 1 }, sw())).toEqual([
      { phase: "replicate", attempt: 2 },
    ]);
    expect(judgeTransition(p("switch"), p("replicate"), sw()).reason).toContain("promotion has happened");
  });

  it("a context that names no route takes the config's default, the switch", () => {
    const unnamed = ctxOf("cloudsql", { route: undefined });
    expect(judgeTransition(p("replicate"), p("switch"), unnamed).allowed).toBe(true);
    expect(judgeTransition(p("replicate"), p("freeze"), unnamed).allowed).toBe(false);
  });
});

it("a deployed phase of the other route (writeMove changed mid-attempt) says how to finish where it started", () => {
  const t = judgeTransition(p("freeze"), p("promote"), ctxOf("cloudsql", { route: "switch" }));
  expect(t.allowed).toBe(false);
  expect(t.reason).toBe(
    "the deployed freeze is on writeMove ramp, but the stack file says writeMove switch; hint: set writeMove: ramp to finish this attempt on the route it started (a new attempt may take the other one)",
  );
  // A rollback that left a ramp phase may retry on the switch route, with a new attempt.
  const back = { phase: "rollback", rollbackFrom: "promote", attempt: 1 };
  expect(
    judgeTransition(back, { phase: "replicate", attempt: 2 }, ctxOf("cloudsql", { route: "switch" })).allowed,
  ).toBe(true);
});
