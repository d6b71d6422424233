import type { CloudSqlMigration } from "../../infra/config/cloudsql";
import { parseMigrations } from "../../infra/config/load";
import { planCloudSql } from "../../infra/engine/cloudsql";
import {
  describeProjection,
  projectAlternatives,
  formatSeconds,
  PLATFORM_DELAYS,
  projectWindow,
  type PlatformDelays,
} from "../../infra/engine/window";
import { NOW, rawMigrations } from "../support/stack";

const base = parseMigrations(rawMigrations("staging"), { now: NOW }).avvivo as CloudSqlMigration;
const spec = (over: Partial<CloudSqlMigration> = {}): CloudSqlMigration => ({ ...base, ...over });
const D: PlatformDelays = {
  upSeconds: 100,
  convergenceSeconds: 10,
  dmsPromoteSeconds: 1000,
  jobStartSeconds: 1,
  monitoringDelaySeconds: 180,
  trafficUpdateSeconds: 7,
};

describe("the write window, term by term", () => {
  it("walks the transition table from the freeze until no frozen share is left", () => {
    const w = projectWindow("avvivo", spec(), {}, D);
    const positions = [...new Set(w.terms.map((t) => t.position))];
    expect(positions).toEqual(["freeze", "promote", ...base.ramp.map((n) => `canary:${n}`)]);
    // Each traffic change converges once; the candidate's tag at 0% at promote changes no split.
    expect(w.terms.filter((t) => t.term === "traffic convergence").map((t) => t.position)).toEqual([
      "freeze",
      ...base.ramp.map((n) => `canary:${n}`),
    ]);
    expect(w.terms.filter((t) => t.term === "bake")).toHaveLength(base.ramp.length - 1);
  });

  it("all writes are refused until the first candidate share has converged; some until none is frozen", () => {
    const w = projectWindow("avvivo", spec(), {}, D);
    const firstBake = w.terms.findIndex((t) => t.term === "bake");
    const sum = (ts: typeof w.terms) => ts.reduce((s, t) => s + t.seconds, 0);
    expect(w.allRefusedSeconds).toBe(sum(w.terms.slice(0, firstBake)));
    expect(w.terms.slice(0, firstBake).every((t) => t.refusing === "all")).toBe(true);
    expect(w.terms.slice(firstBake).every((t) => t.refusing === "some")).toBe(true);
    expect(w.someRefusedSeconds).toBe(sum(w.terms));
  });

  it("moves with the stack's settings: the bake only widens the partial window, the path only the full one", () => {
    const w = projectWindow("avvivo", spec(), {}, D);
    const longer = projectWindow("avvivo", spec({ advance: { ...base.advance, bakeMinutes: 20 } }), {}, D);
    expect(longer.allRefusedSeconds).toBe(w.allRefusedSeconds);
    expect(longer.someRefusedSeconds - w.someRefusedSeconds).toBe(
      (base.ramp.length - 1) * (20 - base.advance.bakeMinutes) * 60,
    );
    const logical = projectWindow("avvivo", spec({ replication: "logical" }), {}, D);
    expect(w.allRefusedSeconds - logical.allRefusedSeconds).toBe(D.dmsPromoteSeconds - D.jobStartSeconds);
    expect(logical.terms.map((t) => t.term)).not.toContain("DMS promote");
    // One step to 100%: nothing is partly refused beyond the full window.
    const oneStep = projectWindow("avvivo", spec({ ramp: [100] }), {}, D);
    expect(oneStep.someRefusedSeconds).toBe(oneStep.allRefusedSeconds);
  });

  it("adds measured work where given and names what it lacks", () => {
    const bare = projectWindow("avvivo", spec(), {}, D);
    expect(bare.missing).toEqual([
      "the freeze gate (replication caught up, then validation)",
      "the promotion's work (fix-ups, schema command)",
    ]);
    const measured = projectWindow(
      "avvivo",
      spec(),
      { freezeGateSeconds: 12, promoteWorkSeconds: 3, smokeSeconds: 2 },
      D,
    );
    expect(measured.missing).toEqual([]);
    expect(measured.allRefusedSeconds - bare.allRefusedSeconds).toBe(12 + 3 + 2);
    expect(describeProjection(measured)).toBe(
      `all writes refused ≈ ${formatSeconds(measured.allRefusedSeconds)}, some writes refused ≈ ${formatSeconds(measured.someRefusedSeconds)}`,
    );
  });

  it("the plan of freeze states the projection for the stack's settings", () => {
    const warning = planCloudSql("avvivo", spec({ phase: "freeze" })).warnings.find((w) =>
      w.startsWith("Write window projected"),
    );
    const w = projectWindow("avvivo", spec(), {}, PLATFORM_DELAYS);
    expect(warning).toContain(`all writes refused ≈ ${formatSeconds(w.allRefusedSeconds)}`);
    expect(warning).toContain(`some writes refused ≈ ${formatSeconds(w.someRefusedSeconds)}`);
    expect(warning).toContain(
      "plus the freeze gate (replication caught up, then validation) and the promotion's work",
    );
  });

  it("measures the other routes beside the stack's, with the same measured work", () => {
    const work = { freezeGateSeconds: 4, promoteWorkSeconds: 2, smokeSeconds: 1 };
    const ramp = projectWindow("avvivo", spec(), work, D);
    const alternatives = projectAlternatives("avvivo", spec(), work, D);
    expect(alternatives.map((a) => a.name)).toEqual(["writeMove: switch", "writeMove: ramp, ramp: [100]"]);
    const [sw, oneStep] = alternatives.map((a) => a.projection);
    expect(sw).toEqual(projectWindow("avvivo", spec({ writeMove: "switch" }), work, D));
    expect(oneStep).toEqual(projectWindow("avvivo", spec({ ramp: [100] }), work, D));
    expect(oneStep.someRefusedSeconds).toBe(oneStep.allRefusedSeconds);
    // No bakes with a frozen share: the partial window loses every bake and the steps between.
    expect(ramp.someRefusedSeconds - oneStep.someRefusedSeconds).toBe(
      (base.ramp.length - 1) * (base.advance.bakeMinutes * 60 + D.upSeconds + D.convergenceSeconds),
    );
    // From a switch stack the ramp is the alternative (and its one-step variant).
    expect(projectAlternatives("avvivo", spec({ writeMove: "switch" }), work, D)[0]).toEqual({
      name: "writeMove: ramp",
      projection: ramp,
    });
    expect(projectAlternatives("avvivo", spec({ ramp: [100] }), work, D).map((a) => a.name)).toEqual([
      "writeMove: switch",
    ]);
    const warning = planCloudSql("avvivo", spec({ phase: "freeze" })).warnings.find((w) =>
      w.startsWith("Write window projected"),
    )!;
    const defaults = projectWindow("avvivo", spec({ writeMove: "switch" }));
    expect(warning).toContain(
      `(with writeMove: switch: all writes refused ≈ ${formatSeconds(defaults.allRefusedSeconds)}`,
    );
  });

  it("the switch: every term inside one pulumi up, all writes refused until the candidate converges", () => {
    const work = { freezeGateSeconds: 4, promoteWorkSeconds: 2, smokeSeconds: 1 };
    const logical = projectWindow("avvivo", spec({ writeMove: "switch", replication: "logical" }), work, D);
    expect(logical.terms.map((t) => t.term)).toEqual([
      "freeze, marker and validation",
      "migrate job start",
      "promotion work",
      "candidate smoke",
      "traffic update",
      "traffic convergence",
    ]);
    // No `pulumi up` term: the up starts before the freeze; no bake: nothing is partly refused.
    expect(logical.allRefusedSeconds).toBe(4 + D.jobStartSeconds + 2 + 1 + 7 + D.convergenceSeconds);
    expect(logical.someRefusedSeconds).toBe(logical.allRefusedSeconds);
    expect(logical.terms.every((t) => t.position === "switch" && t.refusing === "all")).toBe(true);
    const dms = projectWindow("avvivo", spec({ writeMove: "switch" }), work, D);
    expect(dms.allRefusedSeconds - logical.allRefusedSeconds).toBe(D.dmsPromoteSeconds);
    expect(projectWindow("avvivo", spec({ writeMove: "switch" }), {}, D).missing).toEqual([
      "the freeze, the marker and the validation",
      "the promotion's work (fix-ups, schema command)",
      "the candidate's smoke",
    ]);
    // The defaults with this session's local measurements fit the runbook: logical ≤ 2 min, DMS ≤ 10 min.
    const local = { freezeGateSeconds: 5, promoteWorkSeconds: 2, smokeSeconds: 1 };
    const prodLogical = projectWindow("avvivo", spec({ writeMove: "switch", replication: "logical" }), local);
    const prodDms = projectWindow("avvivo", spec({ writeMove: "switch" }), local);
    expect(prodLogical.someRefusedSeconds).toBeLessThanOrEqual(120);
    expect(prodDms.someRefusedSeconds).toBeLessThanOrEqual(600);
    expect(planCloudSql("avvivo", spec({ writeMove: "switch", phase: "switch" })).warnings[0]).toContain(
      `Write window projected for these settings: all writes refused ≈ ${formatSeconds(projectWindow("avvivo", spec({ writeMove: "switch" })).allRefusedSeconds)}`,
    );
  });

  it("formats durations", () => {
    expect([formatSeconds(45), formatSeconds(60), formatSeconds(570), formatSeconds(44.6)]).toEqual([
      "45 s",
      "1 min",
      "9 min 30 s",
      "45 s",
    ]);
  });
});
