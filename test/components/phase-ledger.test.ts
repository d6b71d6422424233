import * as pulumi from "@pulumi/pulumi";
import {
  HISTORY_KEPT,
  makeLedgerProvider,
  phaseLedgerProvider,
  type GateEvidence,
  type LedgerInputs,
  type LedgerState,
} from "../../infra/components/phase-ledger";
import { GATE_CHECKS } from "../../infra/engine/phase-row";
import type { EvidenceRequirement } from "../../infra/engine/gates";
import { PROD_AVVIVO_ENDPOINTS } from "../support/evidence";
import { generateKeyPairSync, sign } from "node:crypto";
import type { Position } from "../../infra/engine/transitions";

let now = new Date("2026-11-25T12:00:00Z");
const provider = makeLedgerProvider(() => now);
/** Passing evidence of every check at every position a gated step leaves, attempts 1 and 2, taken now. */
const everyGateOpen = (): GateEvidence[] =>
  GATE_CHECKS.flatMap((check) =>
    ["replicate", "freeze", "promote", "dual-write", "final-cut"].flatMap((position) =>
      [1, 2].map((attempt) => ({
        check,
        position,
        attempt,
        at: now.toISOString(),
        passed: true,
        digest: `${check}-${position}-${attempt}`,
      })),
    ),
  );
const inputs = (position: Position, kind: "cloudsql" | "dual-write" = "cloudsql"): LedgerInputs => ({
  cutoverLedger: "v1",
  migration: kind === "cloudsql" ? "avvivo" : "matchauto",
  kind,
  stack: "prod",
  position,
  ramp: [10, 50, 100],
  // The ramp route's steps (freeze, promote, canary) are what these cases walk.
  ...(kind === "cloudsql" ? { route: "ramp" } : {}),
  windowHours: kind === "cloudsql" ? 48 : 168,
  evidenceMaxAgeHours: 24,
  evidence: everyGateOpen(),
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

  it("records with a gated step the check and the evidence that opened it", async () => {
    const atReplicate = await upThrough([p("provision"), p("replicate")]);
    expect(atReplicate.history.at(-1)!.gates).toBeUndefined();
    const evidence = [
      {
        check: "validate",
        position: "replicate",
        attempt: 1,
        at: "2026-11-25T13:30:00.000Z",
        passed: true,
        digest: "d1",
      },
      {
        check: "smoke",
        position: "promote",
        attempt: 1,
        at: "2026-11-20T00:00:00.000Z",
        passed: true,
        digest: "d2",
      },
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
          evidence: {
            position: "replicate",
            attempt: 1,
            at: "2026-11-25T13:30:00.000Z",
            passed: true,
            digest: "d1",
          },
        },
      ],
    });
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

describe("a damaged ledger fails closed, and is repaired only by an explicit, recorded statement", () => {
  const damaged = (over: Partial<LedgerState>): LedgerState => ({
    ...inputs(p("canary", { percent: 50 })),
    deployed: p("canary", { percent: 50 }),
    appliedAt: "2026-11-25T10:00:00.000Z",
    facts: { promoted: [{ attempt: 1, at: "2026-11-25T09:00:00.000Z" }] },
    history: [],
    ...over,
  });
  const refusal = async (state: LedgerState, to: LedgerInputs) => {
    const errors: string[] = [];
    await provider.diff!("prod/avvivo", state, to).catch((e: Error) => errors.push(e.message));
    await provider.update!("prod/avvivo", state, to).catch((e: Error) => errors.push(e.message));
    return errors;
  };

  it.each([
    [
      "a canary without its percent",
      damaged({ deployed: { phase: "canary", attempt: 1 } }),
      p("baseline"),
      "the recorded canary has no ramp step",
    ],
    [
      "a lost position after promotion",
      damaged({ deployed: undefined as unknown as Position }),
      p("provision"),
      "no recorded position",
    ],
    [
      "a position before the recorded promotion",
      damaged({ deployed: p("replicate") }),
      p("freeze"),
      "the ledger records attempt 1 promoted at 2026-11-25T09:00:00.000Z, yet its position is replicate",
    ],
    [
      "an unreadable time",
      damaged({
        deployed: p("stabilize"),
        facts: {
          promoted: [{ attempt: 1, at: "2026-11-20T09:00:00.000Z" }],
          cutoverCompleted: { attempt: 1, at: "yesterday-ish" },
        },
      }),
      p("decommission"),
      'unreadable recorded time(s): cutoverCompleted.at = "yesterday-ish"',
    ],
  ])("%s: every step is refused, with the way out", async (_label, state, to, damage) => {
    const errors = await refusal(state, inputs(to));
    expect(errors).toHaveLength(2);
    for (const e of errors) {
      expect(e).toContain("the phase ledger's recorded state cannot be trusted");
      expect(e).toContain(damage);
      expect(e).toContain("cutover:migrations.avvivo.ledgerRepair");
    }
  });

  it("check at preview refuses from a damaged previous position too", async () => {
    const r = await provider.check!(inputs({ phase: "canary", attempt: 1 }), inputs(p("baseline")));
    expect(r.failures![0].reason).toContain("the recorded canary has no ramp step");
  });

  it("a repair states what runs: recorded with its reason, unreadable windows restart at the repair", async () => {
    const state = damaged({
      deployed: p("stabilize"),
      facts: {
        promoted: [{ attempt: 1, at: "2026-11-20T09:00:00.000Z" }],
        cutoverCompleted: { attempt: 1, at: "yesterday-ish" },
      },
    });
    const repair = { position: p("stabilize"), reason: "state edited by hand; traffic checked with gcloud" };
    const repaired = (await provider.update!("prod/avvivo", state, { ...inputs(p("stabilize")), repair }))
      .outs as LedgerState;
    expect(repaired.deployed).toEqual(p("stabilize"));
    expect(repaired.facts.cutoverCompleted).toEqual({ attempt: 1, at: now.toISOString() });
    expect(repaired.history.at(-1)).toEqual({
      from:
        'damaged: unreadable recorded time(s): cutoverCompleted.at = "yesterday-ish"'.replace(/^/, "(") + ")",
      to: "stabilize (attempt 1)",
      at: now.toISOString(),
      repair: repair.reason,
    });
    // The window counts from the repair: decommission stays refused for the whole 48 h.
    now = hours(47);
    const early = await refusal(repaired, inputs(p("decommission")));
    expect(early[0]).toContain("the 48 h observation window after the candidate reached 100% ends at");
    // Once sound, a repair still in the file is refused: it must be removed.
    const again = await refusal(repaired, { ...inputs(p("stabilize")), repair });
    expect(again[0]).toContain("ledgerRepair is set but the ledger's recorded state is sound");
  });

  it("a repair that still contradicts the record is refused", async () => {
    const state = damaged({ deployed: undefined as unknown as Position });
    const repair = { position: p("replicate"), reason: "guessing without looking at anything" };
    const errors = await refusal(state, { ...inputs(p("replicate")), repair });
    expect(errors[0]).toContain(
      "ledgerRepair does not give a state the ledger can trust: the ledger records attempt 1 promoted",
    );
  });
});

describe("windows and the ramp are judged with the deployed values", () => {
  it("lowering observeHours and decommissioning in the same change is refused", async () => {
    const state = await upThrough(
      ["provision", "replicate", "freeze", "promote"]
        .map((x) => p(x))
        .concat(
          [10, 50, 100].map((percent) => p("canary", { percent })),
          [p("stabilize")],
        ),
    );
    now = hours(2);
    const shorter = { ...inputs(p("decommission")), windowHours: 1 };
    const errors: string[] = [];
    await provider.diff!("prod/avvivo", state, shorter).catch((e: Error) => errors.push(e.message));
    expect(errors[0]).toContain("the 48 h observation window");
    const check = await provider.check!(inputs(p("stabilize")), shorter);
    expect(check.failures).toEqual([]);
    // Lowered on its own first, it counts for the next step.
    const lowered = (
      await provider.update!("prod/avvivo", state, { ...inputs(p("stabilize")), windowHours: 1 })
    ).outs as LedgerState;
    await expect(provider.diff!("prod/avvivo", lowered, shorter)).resolves.toBeDefined();
  });

  it("shortening the ramp and taking the step it shortens in the same change is refused", async () => {
    const state = await upThrough(
      ["provision", "replicate", "freeze", "promote"].map((x) => p(x)).concat([p("canary", { percent: 10 })]),
    );
    const jump = { ...inputs(p("canary", { percent: 100 })), ramp: [10, 100] };
    const errors: string[] = [];
    await provider.diff!("prod/avvivo", state, jump).catch((e: Error) => errors.push(e.message));
    expect(errors[0]).toContain("it skips canary:50");
    expect((await provider.check!(inputs(p("canary", { percent: 10 })), jump)).failures![0].reason).toContain(
      "it skips canary:50",
    );
  });
});

describe("the gate judge at preview and up: no gated step without evidence that holds", () => {
  const taken = (over: Partial<GateEvidence> = {}): GateEvidence => ({
    check: "validate",
    position: "freeze",
    attempt: 1,
    at: new Date(now.getTime() - 3_600_000).toISOString(),
    passed: true,
    digest: "d",
    ...over,
  });
  const promote = (evidence: GateEvidence[], extra: Partial<LedgerInputs> = {}) => ({
    ...inputs(p("promote")),
    evidence,
    ...extra,
  });

  it.each([
    ["missing", [], "needs passing validate evidence taken at freeze (attempt 1): no validate evidence"],
    ["failing", [taken({ passed: false })], "the last validate did not pass"],
    [
      "stale",
      [taken({ at: "2026-11-23T00:00:00.000Z" })],
      "the validate evidence is 62 h old (more than 24 h)",
    ],
    [
      "future-dated",
      [taken({ at: "2030-01-01T00:00:00.000Z" })],
      "is dated 2030-01-01T00:00:00.000Z, in the future",
    ],
    ["wrong step", [taken({ position: "replicate" })], "was taken at replicate, not at freeze"],
    ["wrong attempt", [taken({ attempt: 2 })], "was taken in attempt 2, not in attempt 1"],
    ["no attempt (an older file)", [taken({ attempt: undefined })], "does not say which attempt"],
  ])(
    "freeze → promote with %s evidence is refused at check, diff and update",
    async (_what, evidence, reason) => {
      const state = await upThrough(["provision", "replicate", "freeze"].map((x) => p(x)));
      const checked = await provider.check!(inputs(p("freeze")), promote(evidence));
      expect(checked.failures).toEqual([{ property: "evidence", reason: expect.stringContaining(reason) }]);
      expect(checked.failures![0].reason).toContain(
        "hint: cutover check validate --stack prod --migration avvivo --evidence, then commit evidence/ with the change",
      );
      await expect(provider.diff!("prod/avvivo", state, promote(evidence))).rejects.toThrow(reason);
      await expect(provider.update!("prod/avvivo", state, promote(evidence))).rejects.toThrow(reason);
    },
  );

  it("passing evidence of this step and attempt opens it; raising the allowed age in the same change does not", async () => {
    const state = await upThrough(["provision", "replicate", "freeze"].map((x) => p(x)));
    expect((await provider.check!(inputs(p("freeze")), promote([taken()]))).failures).toEqual([]);
    const old = [taken({ at: "2026-11-24T00:00:00.000Z" })]; // 36 h
    await expect(
      provider.diff!("prod/avvivo", state, promote(old, { evidenceMaxAgeHours: 48 })),
    ).rejects.toThrow("more than 24 h");
    const moved = (await provider.update!("prod/avvivo", state, promote([taken()]))).outs as LedgerState;
    expect(moved.deployed).toEqual(p("promote"));
  });

  it("a step that is not gated needs no evidence, and a rollback never does", async () => {
    const state = await upThrough(["provision", "replicate", "freeze"].map((x) => p(x)));
    const back = { ...inputs(p("rollback", { rollbackFrom: "freeze" })), evidence: [] };
    expect((await provider.check!(inputs(p("freeze")), back)).failures).toEqual([]);
    await expect(provider.diff!("prod/avvivo", state, back)).resolves.toBeDefined();
  });
});

describe("evidence that binds: what the stack's config says it must cover, and whose key signed it", () => {
  const keys = generateKeyPairSync("ed25519");
  const publicKey = keys.publicKey.export({ type: "spki", format: "pem" }).toString();
  const signed = (e: GateEvidence): GateEvidence => ({
    ...e,
    signature: sign(null, Buffer.from(e.digest), keys.privateKey).toString("base64"),
  });
  const { source, target } = PROD_AVVIVO_ENDPOINTS;
  const requirements: EvidenceRequirement[] = [
    {
      check: "validate",
      tables: ["Shop", "Reel"],
      endpoints: [
        { role: "source", host: source.host, port: 5432, database: "postgres" },
        { role: "target", port: 5432, database: "postgres" },
      ],
    },
  ];
  const taken = (over: Partial<GateEvidence> = {}, position = "freeze"): GateEvidence =>
    signed({
      check: "validate",
      position,
      attempt: 1,
      at: new Date(now.getTime() - 3_600_000).toISOString(),
      passed: true,
      digest: `d-${position}-${JSON.stringify(over)}`,
      endpoints: [
        { ...source, systemIdentifier: "7301111111111111111" },
        { ...target, systemIdentifier: "7302222222222222222" },
      ],
      tables: [
        { name: "Shop", rows: 10 },
        { name: "Reel", rows: 4 },
      ],
      ...over,
    });
  const at = (
    position: Position,
    evidence: GateEvidence[],
    extra: Partial<LedgerInputs> = {},
  ): LedgerInputs => ({
    ...inputs(position),
    evidence,
    evidenceRequirements: requirements,
    evidenceTrust: { publicKey, signatureRequired: true },
    ...extra,
  });
  /** Deployed at freeze, the gate into freeze passed on `first`'s servers. */
  async function atFreeze(first: GateEvidence = taken({}, "replicate")): Promise<LedgerState> {
    let state = (await provider.create(at(p("provision"), []))).outs as LedgerState;
    state = (await provider.update!("prod/avvivo", state, at(p("replicate"), []))).outs as LedgerState;
    return (await provider.update!("prod/avvivo", state, at(p("freeze"), [first]))).outs as LedgerState;
  }

  it.each([
    [
      "taken against other databases",
      { endpoints: [{ ...source, host: "127.0.0.1" }, target] },
      "was taken against source 127.0.0.1:5432/postgres, not this stack's db.hxbnqapwkzomvtel.supabase.co:5432/postgres",
    ],
    [
      "recording no endpoints (an older file)",
      { endpoints: undefined },
      "does not say which databases it was taken against",
    ],
    [
      "covering one table of two",
      { tables: [{ name: "Shop", rows: 10 }] },
      "covers 1 of the migration's 2 tables (missing: Reel)",
    ],
    ["unsigned", { signature: undefined }, "the validate evidence is not signed"],
    [
      "signed by another key",
      { signature: "AAAA" },
      "signature does not verify with this stack's evidenceSignedBy key",
    ],
  ])(
    "freeze → promote with evidence %s is refused at check, diff and update",
    async (_what, over, reason) => {
      const state = await atFreeze();
      const e = { ...taken(), ...over } as GateEvidence;
      const checked = await provider.check!(at(p("freeze"), []), at(p("promote"), [e]));
      expect(checked.failures).toEqual([{ property: "evidence", reason: expect.stringContaining(reason) }]);
      await expect(provider.diff!("prod/avvivo", state, at(p("promote"), [e]))).rejects.toThrow(reason);
      await expect(provider.update!("prod/avvivo", state, at(p("promote"), [e]))).rejects.toThrow(reason);
    },
  );

  it("a prod stack that names no key accepts no evidence, signed or not", async () => {
    const keyless = { evidenceTrust: { signatureRequired: true } };
    const checked = await provider.check!(at(p("freeze"), [], keyless), at(p("promote"), [taken()], keyless));
    expect(checked.failures![0].reason).toContain(
      "this stack accepts only evidence signed by its pipeline and declares no evidenceSignedBy key; hint: cutover evidence keygen",
    );
  });

  it("pins the servers a gate was passed on; another cluster at the same address later is refused", async () => {
    const state = await atFreeze();
    expect(state.pins).toEqual({
      "1:source:db.hxbnqapwkzomvtel.supabase.co:5432/postgres": "7301111111111111111",
      "1:target:10.20.0.3:5432/postgres": "7302222222222222222",
    });
    expect(state.history.at(-1)!.gates).toEqual([
      { check: "validate", evidence: expect.objectContaining({ position: "replicate", signed: true }) },
    ]);
    const restored = taken({
      endpoints: [
        { ...source, systemIdentifier: "7309999999999999999" },
        { ...target, systemIdentifier: "7302222222222222222" },
      ],
    });
    const reason =
      "the validate evidence's source db.hxbnqapwkzomvtel.supabase.co:5432/postgres is cluster 7309999999999999999, not cluster 7301111111111111111 that earlier gates of attempt 1 were passed on";
    await expect(provider.diff!("prod/avvivo", state, at(p("promote"), [restored]))).rejects.toThrow(reason);
    await expect(provider.update!("prod/avvivo", state, at(p("promote"), [restored]))).rejects.toThrow(
      reason,
    );
    const moved = (await provider.update!("prod/avvivo", state, at(p("promote"), [taken()])))
      .outs as LedgerState;
    expect(moved.deployed).toEqual(p("promote"));
    expect(moved.pins).toEqual(state.pins);
  });

  it("narrowing the tables, moving an endpoint or dropping the key takes effect after the step it comes with", async () => {
    const state = await atFreeze();
    const partial = taken({ tables: [{ name: "Shop", rows: 10 }] });
    await expect(
      provider.diff!(
        "prod/avvivo",
        state,
        at(p("promote"), [partial], { evidenceRequirements: [{ ...requirements[0], tables: ["Shop"] }] }),
      ),
    ).rejects.toThrow("missing: Reel");
    const unsigned = { ...taken(), signature: undefined };
    await expect(
      provider.diff!("prod/avvivo", state, at(p("promote"), [unsigned], { evidenceTrust: {} })),
    ).rejects.toThrow("is not signed");
  });
});

describe("staging leads prod, at preview and up", () => {
  const follower = (
    position: Position,
    leader?: Position,
    extra: Partial<LedgerInputs> = {},
  ): LedgerInputs => ({
    ...inputs(position),
    leader: { stack: "staging", ...(leader ? { position: leader } : {}) },
    ...extra,
  });

  it("refuses a step past the leader at check, diff and update, naming both positions", async () => {
    const reason =
      "avvivo: baseline → provision is refused on prod: staging has not applied avvivo yet (baseline); prod may not move past where staging is";
    const checked = await provider.check!({}, follower(p("provision")));
    expect(checked.failures).toEqual([{ property: "leader", reason: expect.stringContaining(reason) }]);
    const state = await upThrough([p("baseline")]);
    await expect(provider.diff!("prod/avvivo", state, follower(p("provision")))).rejects.toThrow(reason);
    await expect(provider.update!("prod/avvivo", state, follower(p("provision")))).rejects.toThrow(reason);
    const moved = (await provider.update!("prod/avvivo", state, follower(p("provision"), p("replicate"))))
      .outs as LedgerState;
    expect(moved.deployed).toEqual(p("provision"));
    expect(moved.history.at(-1)).not.toHaveProperty("aheadOfLeader");
  });

  it("never holds back a rollback, nor a step back along the runbook", async () => {
    const state = await upThrough([p("provision"), p("replicate")]);
    const back = follower(p("rollback", { rollbackFrom: "replicate" }), p("baseline"));
    expect((await provider.check!(inputs(p("replicate")), back)).failures).toEqual([]);
    await expect(provider.update!("prod/avvivo", state, back)).resolves.toBeDefined();
  });

  it("an override opens the one position it names, and the ledger records why", async () => {
    const state = await upThrough([p("baseline")]);
    const override = { position: "provision", reason: "INC-4411: staging project suspended" };
    const other = { position: "replicate", reason: "INC-4411: staging project suspended" };
    await expect(
      provider.update!("prod/avvivo", state, follower(p("provision"), undefined, { followOverride: other })),
    ).rejects.toThrow("is refused on prod");
    const moved = (
      await provider.update!(
        "prod/avvivo",
        state,
        follower(p("provision"), undefined, { followOverride: override }),
      )
    ).outs as LedgerState;
    expect(moved.history.at(-1)).toMatchObject({
      from: "baseline (attempt 1)",
      to: "provision (attempt 1)",
      aheadOfLeader: "INC-4411: staging project suspended",
    });
  });
});
