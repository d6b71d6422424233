/**
 * The cloudsql rehearsal's gate registry: every gate the phase table declares has a runner, a gate
 * without one stops the walk naming it, and the validate runner judges a live comparison (writes flowing)
 * by the keys that differ twice, a frozen one by every difference.
 */
import { KINDS } from "../../../infra/engine/kinds";
import { runDeclaredGates } from "../../../ops/rehearse/declared-gates";
import {
  CLOUDSQL_GATE_RUNNERS,
  runCloudSqlGates,
  type CloudSqlGateContext,
} from "../../../ops/rehearse/gates";
import type { TableReport } from "../../../ops/validate/run";

function report(table: string, keys: { missing?: string[]; changed?: string[] } = {}): TableReport {
  const missing = keys.missing ?? [];
  const changed = keys.changed ?? [];
  return {
    table,
    identical: missing.length + changed.length === 0,
    method: "native-checksum",
    counts: { source: 100, target: 100 - missing.length },
    primaryKey: ["id"],
    columnsOnlyInSource: [],
    columnsOnlyInTarget: [],
    differences: { missing, changed, extra: [] },
    totals: { missing: missing.length, changed: changed.length, extra: 0 },
    truncated: false,
    notes: [],
  };
}

/** A context whose comparisons answer `runs` in turn, counting the catch-ups. */
function context(writesFlow: boolean, runs: TableReport[][]) {
  const seen = { caughtUp: 0, compared: 0, smoked: 0 };
  const c: CloudSqlGateContext = {
    writesFlow,
    caughtUp: async () => (seen.caughtUp++, 5),
    compare: async () => runs[seen.compared++],
    smokeCandidate: async () => (
      seen.smoked++,
      { name: "smoke candidate", ok: true, detail: "3 checks passed" }
    ),
  };
  return { c, seen };
}

it("has a runner for every gate the cloudsql phase table declares, and runs a row's gates in its order", async () => {
  for (const check of KINDS.cloudsql.checks)
    expect([check, typeof CLOUDSQL_GATE_RUNNERS[check]]).toEqual([check, "function"]);
  const { c, seen } = context(false, [[report("ChatMessage")]]);
  const checks = await runCloudSqlGates("canary", c);
  expect(checks.map((x) => x.name)).toEqual(["smoke candidate"]);
  expect(seen).toEqual({ caughtUp: 0, compared: 0, smoked: 1 });
  // A phase whose row declares no gate runs none.
  expect(await runCloudSqlGates("stabilize", c)).toEqual([]);
});

it("stops on a gate the row declares and the registry cannot produce, naming the phase, the gate and the registry", async () => {
  await expect(
    runDeclaredGates(
      "promote",
      ["validate", "export"],
      { validate: async () => ({ name: "v", ok: true, detail: "" }) },
      {},
      "ops/x.ts",
    ),
  ).rejects.toThrow(
    'phase promote declares the gate "export", which the rehearsal cannot produce (ops/x.ts)',
  );
});

it("with writes stopped, any difference fails the validate gate, after one catch-up and one comparison", async () => {
  const { c, seen } = context(false, [[report("ChatMessage", { missing: ["id=7"] })]]);
  const [check] = await runCloudSqlGates("promote", c);
  expect(check).toMatchObject({ name: "validate", ok: false });
  expect(check.detail).toBe("ChatMessage 100 rows DIFFERENT (native-checksum), caught up in 5 ms");
  expect(seen).toMatchObject({ caughtUp: 1, compared: 1 });
});

it("with writes flowing, a key differing once was in flight; one differing twice fails the gate, named", async () => {
  const inFlight = context(true, [
    [report("ChatMessage", { missing: ["id=7", "id=8"] })],
    [report("ChatMessage", { missing: ["id=9"] })],
  ]);
  const [passed] = await runCloudSqlGates("freeze", inFlight.c);
  expect(passed.ok).toBe(true);
  // In flight is not different: the table is named with its rows, the keys judged by the recheck.
  expect(passed.detail).toBe(
    "ChatMessage 100 rows (native-checksum), live: 2 key(s) in flight, 0 differing twice",
  );
  expect(inFlight.seen).toMatchObject({ caughtUp: 2, compared: 2 });

  const stuck = context(true, [
    [report("ChatMessage", { changed: ["id=3"] }), report("Shop")],
    [report("ChatMessage", { changed: ["id=3"] }), report("Shop")],
  ]);
  const [failed] = await runCloudSqlGates("freeze", stuck.c);
  expect(failed.ok).toBe(false);
  expect(failed.detail).toMatch(/1 differing twice \(ChatMessage:id=3\)$/);
});

it("with writes flowing, a difference no recheck can clear fails the gate: a table missing, columns on one side", async () => {
  const missing: TableReport = { ...report("Shop"), identical: false, method: "none", counts: undefined };
  const columns: TableReport = { ...report("Reel"), identical: false, columnsOnlyInSource: ["title"] };
  const { c } = context(true, [
    [missing, columns],
    [missing, columns],
  ]);
  const [check] = await runCloudSqlGates("freeze", c);
  expect(check.ok).toBe(false);
  expect(check.detail).toMatch(/; Shop, Reel: not comparable key by key/);
});
