/** The per-kind facts agree with each kind's phase table: every phase they name is one of its phases. */
import { KINDS, type MigrationKindName } from "../../infra/engine/kinds";
import { GATE_CHECKS } from "../../infra/engine/phase-row";

describe.each(Object.keys(KINDS) as MigrationKindName[])("kind %s", (kind) => {
  const k = KINDS[kind];
  it("names only phases of its own table", () => {
    expect(k.order).toEqual(Object.keys(k.rows).filter((p) => p !== "rollback"));
    for (const phase of [k.ramp.phase, k.window.stay, ...k.rollbackOrigins]) expect(k.order).toContain(phase);
    expect(k.order).toContain(
      k.retry({ phase: "rollback", rollbackFrom: k.rollbackOrigins.at(-1), attempt: 1 }).phase,
    );
  });
  it("its checks are gate checks its phases declare, and its default route is a route of its rows", () => {
    for (const c of k.checks) expect(GATE_CHECKS).toContain(c);
    expect(k.checks.length).toBeGreaterThan(0);
    const routes = new Set(
      Object.values(k.rows)
        .map((r) => r.route)
        .filter(Boolean),
    );
    if (k.defaultRoute === undefined) expect(routes.size).toBe(0);
    else expect(routes).toContain(k.defaultRoute);
  });
  it("a retry takes a new attempt exactly when the kind has attempts", () => {
    const retry = k.retry({ phase: "rollback", rollbackFrom: k.rollbackOrigins[0], attempt: 3 });
    expect(retry.attempt).toBe(k.attempts ? 4 : 3);
  });
});

it("cloudsql and dual-write differ where the runbooks differ", () => {
  expect(KINDS.cloudsql.window.name(48)).toBe("the 48 h observation window");
  expect(KINDS["dual-write"].window.name(168)).toBe("the 7-day soak");
  expect(KINDS.cloudsql.retry({ phase: "rollback", rollbackFrom: "provision", attempt: 1 })).toEqual({
    phase: "provision",
    attempt: 2,
  });
  expect(KINDS["dual-write"].retry({ phase: "rollback", rollbackFrom: "read-switch", attempt: 1 })).toEqual({
    phase: "backfill",
    attempt: 1,
  });
});
