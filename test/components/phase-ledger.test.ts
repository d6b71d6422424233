import * as pulumi from "@pulumi/pulumi";
import {
  HISTORY_KEPT,
  makeLedgerProvider,
  phaseLedgerProvider,
  type LedgerInputs,
  type LedgerState,
} from "../../infra/components/phase-ledger";
import type { Position } from "../../infra/engine/transitions";

let now = new Date("2026-11-25T12:00:00Z");
const provider = makeLedgerProvider(() => now);
const inputs = (position: Position, kind: "cloudsql" | "dual-write" = "cloudsql"): LedgerInputs => ({
  cutoverLedger: "v1",
  migration: kind === "cloudsql" ? "avvivo" : "matchauto",
  kind,
  stack: "prod",
  position,
  ramp: [10, 50, 100],
  windowHours: kind === "cloudsql" ? 48 : 168,
});
const p = (phase: string, extra: Partial<Position> = {}): Position => ({ phase, attempt: 1, ...extra });
const hours = (h: number) => new Date(now.getTime() + h * 3_600_000);

/** Applies a sequence of positions as successive `pulumi up`s, each `gap` hours apart. */
async function upThrough(positions: Position[], gap = 1): Promise<LedgerState> {
  let state = (await provider.create(inputs(positions[0]))).outs as LedgerState;
  for (const next of positions.slice(1)) {
    now = hours(gap);
    state = (await provider.update!("prod/avvivo", state, inputs(next))).outs as LedgerState;
  }
  return state;
}

beforeEach(() => {
  now = new Date("2026-11-25T12:00:00Z");
});

describe("check (runs at preview): the file's position against the last applied one", () => {
  it("no ledger yet means baseline: the first step is provision", async () => {
    expect((await provider.check!({}, inputs(p("provision")))).failures).toEqual([]);
    const jump = await provider.check!({}, inputs(p("canary", { percent: 10 })));
    expect(jump.failures).toHaveLength(1);
    expect(jump.failures![0].property).toBe("position");
    expect(jump.failures![0].reason).toContain("avvivo: baseline → canary:10 is refused: it skips provision");
  });

  it.each([
    [p("replicate"), p("promote"), "it skips freeze"],
    [p("canary", { percent: 50 }), p("freeze"), "promotion has happened"],
    [
      p("decommission"),
      p("rollback", { rollbackFrom: "decommission" }),
      "rollback is refused from decommission",
    ],
    [p("rollback", { rollbackFrom: "stabilize" }), p("stabilize"), "needs a new attempt (attempt 2)"],
  ])("refuses %j → %j", async (from, to, reason) => {
    const r = await provider.check!(inputs(from), inputs(to));
    expect(r.failures![0].reason).toContain(reason);
    expect(r.inputs).toEqual(inputs(to));
  });

  it("a laptop rollback is what the next merge is judged against", async () => {
    // `pulumi config set … rollback; pulumi up` recorded rollback; the file on main still says canary:50.
    const r = await provider.check!(
      inputs(p("rollback", { rollbackFrom: "canary" })),
      inputs(p("canary", { percent: 50 })),
    );
    expect(r.failures![0].reason).toContain("rollback:canary → canary:50 is refused");
  });

  it("dual-write: the read ramp back by value is allowed before the cut, not after", async () => {
    const before = await provider.check!(
      inputs(p("read-switch", { percent: 50 }), "dual-write"),
      inputs(p("read-switch", { percent: 10 }), "dual-write"),
    );
    expect(before.failures).toEqual([]);
    const after = await provider.check!(
      inputs(p("final-cut"), "dual-write"),
      inputs(p("read-switch", { percent: 50 }), "dual-write"),
    );
    expect(after.failures![0].reason).toContain("matchauto: final-cut → read-switch:50 is refused");
  });
});

describe("create / update (run at up): record the position and the facts", () => {
  it("create records the first step, when, and the history", async () => {
    const { id, outs } = await provider.create(inputs(p("provision")));
    expect(id).toBe("prod/avvivo");
    expect(outs).toMatchObject({
      deployed: p("provision"),
      appliedAt: "2026-11-25T12:00:00.000Z",
      facts: {},
      history: [
        { from: "baseline (attempt 1)", to: "provision (attempt 1)", at: "2026-11-25T12:00:00.000Z" },
      ],
    });
  });

  it("create refuses a first step that is a jump (first up of an existing stack)", async () => {
    await expect(provider.create(inputs(p("promote")))).rejects.toThrow("baseline → promote is refused");
  });

  it("records promotion, the candidate at 100% and decommission, each once", async () => {
    const walk = ["provision", "replicate", "freeze", "promote"].map((x) => p(x));
    const ramp = [10, 50, 100].map((percent) => p("canary", { percent }));
    const state = await upThrough([...walk, ...ramp, p("stabilize")]);
    expect(state.facts.promoted).toEqual([{ attempt: 1, at: "2026-11-25T15:00:00.000Z" }]);
    expect(state.facts.cutoverCompleted).toEqual({ attempt: 1, at: "2026-11-25T18:00:00.000Z" });
    expect(state.deployed).toEqual(p("stabilize"));
    // Re-applying the same position changes no fact and no time.
    now = hours(5);
    const again = (await provider.update!("prod/avvivo", state, inputs(p("stabilize")))).outs as LedgerState;
    expect(again.appliedAt).toBe(state.appliedAt);
    expect(again.history).toEqual(state.history);
  });

  it("a retry after rollback records the new attempt's promotion beside the first", async () => {
    const first = ["provision", "replicate", "freeze", "promote"].map((x) => p(x));
    const state = await upThrough([
      ...first,
      p("rollback", { rollbackFrom: "promote" }),
      p("replicate", { attempt: 2 }),
      p("freeze", { attempt: 2 }),
      p("promote", { attempt: 2 }),
    ]);
    expect(state.facts.promoted!.map((x) => x.attempt)).toEqual([1, 2]);
    expect(state.history.at(-1)).toMatchObject({ from: "freeze (attempt 2)", to: "promote (attempt 2)" });
  });

  it("records with a gated step the check and the evidence committed for it (none: the entry says so)", async () => {
    const atReplicate = await upThrough([p("provision"), p("replicate")]);
    expect(atReplicate.history.at(-1)!.gates).toBeUndefined();
    const evidence = [
      {
        check: "validate",
        position: "replicate",
        at: "2026-11-25T13:30:00.000Z",
        passed: true,
        digest: "d1",
      },
      { check: "smoke", position: "promote", at: "2026-11-20T00:00:00.000Z", passed: true, digest: "d2" },
    ];
    now = hours(1);
    const atFreeze = (
      await provider.update!("prod/avvivo", atReplicate, { ...inputs(p("freeze")), evidence })
    ).outs as LedgerState;
    expect(atFreeze.history.at(-1)).toMatchObject({
      from: "replicate (attempt 1)",
      to: "freeze (attempt 1)",
      gates: [
        {
          check: "validate",
          evidence: { position: "replicate", at: "2026-11-25T13:30:00.000Z", passed: true, digest: "d1" },
        },
      ],
    });
    // Evidence taken at another position is not this step's: the entry names the check only.
    now = hours(1);
    const atPromote = (await provider.update!("prod/avvivo", atFreeze, { ...inputs(p("promote")), evidence }))
      .outs as LedgerState;
    expect(atPromote.history.at(-1)!.gates).toEqual([{ check: "validate" }]);
  });

  it("update refuses an illegal step against the recorded state, and keeps the last history only", async () => {
    const state = await upThrough([p("provision"), p("replicate")]);
    await expect(provider.update!("prod/avvivo", state, inputs(p("promote")))).rejects.toThrow(
      "it skips freeze",
    );
    let s = state;
    for (let i = 0; i < HISTORY_KEPT + 5; i++) {
      now = hours(1);
      s = (await provider.update!("prod/avvivo", s, inputs(i % 2 ? p("replicate") : p("freeze"))))
        .outs as LedgerState;
    }
    expect(s.history).toHaveLength(HISTORY_KEPT);
  });
});

describe("diff (runs at preview): judges against the recorded state, times included", () => {
  const toStabilize = ["provision", "replicate", "freeze", "promote"]
    .map((x) => p(x))
    .concat(
      [10, 50, 100].map((percent) => p("canary", { percent })),
      [p("stabilize")],
    );

  it("refuses decommission inside the observation window, measured from the recorded 100%", async () => {
    const state = await upThrough(toStabilize);
    now = hours(10);
    await expect(provider.diff!("prod/avvivo", state, inputs(p("decommission")))).rejects.toThrow(
      "the 48 h observation window after the candidate reached 100% ends at 2026-11-27T18:00:00.000Z (37 h left)",
    );
  });

  it("allows decommission once the window is over, and records it", async () => {
    const state = await upThrough(toStabilize);
    now = hours(49);
    const d = await provider.diff!("prod/avvivo", state, inputs(p("decommission")));
    expect(d).toMatchObject({ changes: true, replaces: [] });
    const done = (await provider.update!("prod/avvivo", state, inputs(p("decommission"))))
      .outs as LedgerState;
    expect(done.facts.decommissioned).toEqual({ at: now.toISOString() });
  });

  it("dual-write: the soak counts from the recorded final cut", async () => {
    const dw = (x: Position) => inputs(x, "dual-write");
    let state = (await provider.create(dw(p("shadow")))).outs as LedgerState;
    for (const x of ["backfill", "dual-write"]
      .map((y) => p(y))
      .concat(
        [10, 50, 100].map((percent) => p("read-switch", { percent })),
        [p("final-cut")],
      ))
      state = (await provider.update!("prod/matchauto", state, dw(x))).outs as LedgerState;
    expect(state.facts.finalCut).toEqual({ at: now.toISOString() });
    now = hours(24);
    await expect(provider.diff!("prod/matchauto", state, dw(p("decommission")))).rejects.toThrow(
      "(6 d 0 h left)",
    );
    now = hours(24 * 6 + 1);
    await expect(provider.diff!("prod/matchauto", state, dw(p("decommission")))).resolves.toMatchObject({
      changes: true,
    });
  });

  it("no change when the file asks for what is deployed", async () => {
    const state = await upThrough([p("provision")]);
    expect(await provider.diff!("prod/avvivo", state, inputs(p("provision")))).toMatchObject({
      changes: false,
    });
  });

  it("refresh keeps what was recorded", async () => {
    const state = await upThrough([p("provision"), p("replicate")]);
    expect(await provider.read!("prod/avvivo", state)).toEqual({ id: "prod/avvivo", props: state });
  });
});

it("the provider serializes for the Pulumi engine (its closure holds no I/O)", async () => {
  const serialized = await pulumi.runtime.serializeFunction(() => phaseLedgerProvider, {
    isFactoryFunction: true,
  });
  expect(serialized.text).toContain("judgeTransition");
  expect(serialized.text).not.toMatch(/require\("(fs|node:fs|child_process|node:child_process)"\)/);
});
