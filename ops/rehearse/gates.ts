/**
 * The gate checks of runbook 1 as the rehearsal runs them: the phase rows of the cloudsql table name the
 * gates (freeze: validate, promote: validate, canary: smoke), each taken at the position before the phase
 * it admits to, as `cutover phase next` asks for its evidence; this registry only says how each is
 * produced on the stand-in.
 */
import type { TableReport } from "../validate/run";
import { runDeclaredGates, type GateResult, type GateRunners } from "./declared-gates";
import { KINDS } from "../../infra/engine/kinds";

/** What the runners use, at the position the gates are taken at. */
export interface CloudSqlGateContext {
  /** Whether the serving revisions still take writes there (the comparison is then live). */
  readonly writesFlow: boolean;
  /** Waits until the replication has carried every committed write; the ms it took. */
  readonly caughtUp: () => Promise<number>;
  /** The validate gate's tables compared exactly, source against destination. */
  readonly compare: () => Promise<TableReport[]>;
  /** The candidate's own URL smoked, with what the position expects of it. */
  readonly smokeCandidate: () => Promise<GateResult>;
}

/** The tables compared; `live`: no table is called DIFFERENT, its keys are judged by the recheck. */
const describe = (reports: readonly TableReport[], live = false) =>
  `${reports.map((r) => `${r.table} ${r.counts?.source} rows${r.identical || live ? "" : " DIFFERENT"}`).join(", ")} (${reports[0]?.method ?? "no table"})`;

/** Every differing key of a report, with its table. */
const keysOf = (r: TableReport) =>
  [...r.differences.missing, ...r.differences.changed, ...r.differences.extra].map((k) => `${r.table}:${k}`);

/**
 * A difference no second look can clear: a table missing on a side, columns on one side only, a table
 * compared by its whole-table checksum only (no key to recheck), or more differing keys than were kept.
 */
const structural = (r: TableReport) =>
  r.method === "none" ||
  (r.method === "table-checksum" && !r.identical) ||
  r.columnsOnlyInSource.length > 0 ||
  r.columnsOnlyInTarget.length > 0 ||
  r.truncated;

export const CLOUDSQL_GATE_RUNNERS: GateRunners<CloudSqlGateContext> = {
  /**
   * With writes stopped, every table must be identical once the replication has caught up. With writes
   * flowing (the freeze's gate, taken in replicate), a row written a moment ago differs until the
   * replication carries it: the tables are compared again after a second catch-up, and only a key that
   * differs both times counts (row counts are not judged there; they move with every write).
   */
  async validate(c) {
    const caught = await c.caughtUp();
    const first = await c.compare();
    if (!c.writesFlow || first.every((r) => r.identical))
      return {
        name: "validate",
        ok: first.every((r) => r.identical),
        detail: `${describe(first)}, caught up in ${caught} ms`,
      };
    await c.caughtUp();
    const again = await c.compare();
    const before = new Set(first.flatMap(keysOf));
    const persisted = again.flatMap(keysOf).filter((k) => before.has(k));
    const broken = again.filter(structural).map((r) => r.table);
    return {
      name: "validate",
      ok: persisted.length === 0 && broken.length === 0,
      detail:
        `${describe(again, true)}, live: ${before.size} key(s) in flight, ${persisted.length} differing twice` +
        (persisted.length ? ` (${persisted.slice(0, 5).join(", ")})` : "") +
        (broken.length ? `; ${broken.join(", ")}: not comparable key by key (see validate's notes)` : ""),
    };
  },
  smoke: (c) => c.smokeCandidate(),
};

/** The gates the cloudsql row of `phase` declares, run on the stand-in. */
export const runCloudSqlGates = (phase: string, c: CloudSqlGateContext) =>
  runDeclaredGates(
    phase,
    KINDS.cloudsql.rows[phase]?.gates,
    CLOUDSQL_GATE_RUNNERS,
    c,
    "ops/rehearse/gates.ts",
  );
