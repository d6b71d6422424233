import type { DualWriteMigration, DualWritePhase } from "../config/dual-write";
import { ALLOWED, refused, type TransitionRow } from "./phase-row";

/** Where the Workers write: legacy only, both stores (legacy is the truth), or the new stores only. */
export type WriteMode = "legacy" | "dual" | "new";

/** What the rows' functions may read. */
export interface DualWritePhaseContext {
  readonly spec: DualWriteMigration;
  readonly migration: string;
}

/** Everything one phase of kind dual-write means: the one place its meaning lives. */
export interface DualWritePhaseRow extends TransitionRow {
  /** The flags the Workers read; undefined when nothing is deployed (baseline). */
  readonly flags?: { readonly writeMode: WriteMode; readonly readPercent: (s: DualWriteMigration) => number };
  /** Retired D1 databases are deleted in this phase (only decommission). */
  readonly deletesRetiredD1: boolean;
  /** Legacy is no longer written from this phase on: the final cut has happened. */
  readonly cut: boolean;
  readonly irreversible: (c: DualWritePhaseContext) => readonly string[];
  readonly warnings: (c: DualWritePhaseContext) => readonly string[];
  /** What the change capture from legacy (ops/capture) does in this phase. */
  readonly capture: CaptureState;
  /** The operator copies legacy into the new stores in this phase (`cutover data backfill`, until 0 rows). */
  readonly backfill: boolean;
  /** The comparison Worker (workers/compare) and its Hyperdrive configs in this phase. */
  readonly compare: CompareState;
  /** What is turned off on each side, in order (decommission only). */
  readonly turnsOff?: (c: DualWritePhaseContext) => DecommissionSteps;
}

/** Decommission, step by step, per side: what is turned off and how, exports first. */
export interface DecommissionSteps {
  readonly newStores: readonly string[];
  readonly legacy: readonly string[];
}

/**
 * The comparison Worker's state in a phase: `on` while both stores are kept equal and legacy is the truth
 * (dual-write, read-switch, rollback): the program declares the Hyperdrive configs it reads PostgreSQL
 * through and the operator deploys it; `remove` at the final cut (legacy is no longer written, so the
 * stores part by design): the Worker is deleted and the program deletes its Hyperdrive configs; `off`
 * otherwise.
 */
export type CompareState = "off" | "on" | "remove";

/**
 * What happens for each comparison state (the plan prints them): the up workflow deploys and deletes the
 * Worker (`cutover workers sync`, around each up); the commands are the same by hand.
 */
export const COMPARE_STEPS: Readonly<Record<CompareState, (migration: string) => readonly string[]>> = {
  off: () => [],
  on: (m) => [
    `after pulumi up, the pipeline deploys the comparison Worker: cutover workers sync --stack <stack> --before before.json --deployed deployed.json   (its cron then compares a sample every run)`,
    `cutover check compare status --stack <stack> --migration ${m} --remote   (the last run's summary; --evidence records it for read-switch)`,
  ],
  remove: (m) => [
    `before pulumi up, the pipeline deletes cutover-compare-<stack>-${m}: cutover workers sync --stack <stack> --before before.json --before-up   (legacy is no longer the truth: the stores part by design)`,
  ],
};

/**
 * The change capture's state in a phase: `off` before shadow; `install` in shadow (triggers first, so
 * that every change after the backfill's read is logged); `on` while legacy is written; `drain` at the
 * final cut (legacy is no longer written: apply what is left); `removed` at decommission.
 */
export type CaptureState = "off" | "install" | "on" | "drain" | "removed";

/**
 * Where the capture Worker (workers/capture) is deployed: it applies the log while legacy is written
 * (`on`) and drains it with the after-cut rule (`drain`); it is deleted when the capture is removed.
 */
export const CAPTURE_WORKER_STATES: readonly CaptureState[] = ["on", "drain"];

/** What the operator runs for each capture state (the plan prints them). */
export const CAPTURE_STEPS: Readonly<Record<CaptureState, (migration: string) => readonly string[]>> = {
  off: () => [],
  install: (m) => [
    `cutover data schema --stack <stack> --migration ${m}`,
    `cutover data capture install --stack <stack> --migration ${m}   (before the first backfill)`,
  ],
  on: (m) => [
    `the capture Worker cutover-capture-<stack>-${m} applies the log every minute (deployed by the pipeline after the up: cutover workers sync)`,
    `cutover data capture worker --stack <stack> --migration ${m} --remote   (its last run: applied, failing tables, lag); cutover check capture reads the lag from legacy`,
  ],
  drain: (m) => [
    `before pulumi up, the pipeline redeploys the capture Worker with the after-cut rule (cutover workers sync --before-up): it drains what legacy took until the flags' TTL passed`,
    `once cutover check capture --stack <stack> --migration ${m} shows 0 pending: cutover data capture remove --stack <stack> --migration ${m}`,
  ],
  removed: (m) => [
    `before pulumi up, the pipeline deletes cutover-capture-<stack>-${m} (this up deletes the Hyperdrive configs it reads through)`,
    `cutover data capture remove --drop-log --stack <stack> --migration ${m}`,
  ],
};

const none = () => [];
const stackHint = (c: DualWritePhaseContext) => `--stack <stack> --migration ${c.migration}`;
const CUT_BACK = refused(
  "the final cut has happened: the legacy store has not been written since, so an earlier phase (or rollback) would read and write a store that misses data; fix forward, or restore D1 with Time Travel and the new schema with PITR",
);

/**
 * The dual-write runbook, one row per phase, in order (rollback last). Legacy stays the source of truth
 * (and rollback stays instant) until final-cut, the first phase in which legacy stops being written.
 */
export const DUAL_WRITE_PHASE_TABLE: Readonly<Record<DualWritePhase, DualWritePhaseRow>> = {
  baseline: {
    capture: "off",
    backfill: false,
    compare: "off",
    deletesRetiredD1: false,
    cut: false,
    irreversible: none,
    warnings: none,
    rollback: refused("nothing has changed yet: baseline is where a rollback returns to"),
    back: refused("baseline is the first phase"),
  },
  shadow: {
    capture: "install",
    backfill: false,
    compare: "off",
    flags: { writeMode: "legacy", readPercent: () => 0 },
    deletesRetiredD1: false,
    cut: false,
    irreversible: none,
    warnings: (c) => [
      `D1 schema is applied by script, not by Pulumi: cutover data d1-schema ${stackHint(c)} --remote`,
    ],
    rollback: ALLOWED,
    back: refused(
      "going back to baseline deletes the D1 databases and the flags namespace the Workers read; to stop here, use rollback, which keeps them",
    ),
  },
  backfill: {
    capture: "on",
    backfill: true,
    compare: "off",
    flags: { writeMode: "legacy", readPercent: () => 0 },
    deletesRetiredD1: false,
    cut: false,
    irreversible: none,
    warnings: (c) => [
      `Run cutover data backfill ${stackHint(c)} until a run copies 0 rows; change capture keeps new rows flowing meanwhile.`,
    ],
    rollback: ALLOWED,
    back: ALLOWED,
  },
  "dual-write": {
    capture: "on",
    backfill: false,
    compare: "on",
    flags: { writeMode: "dual", readPercent: () => 0 },
    deletesRetiredD1: false,
    cut: false,
    irreversible: none,
    warnings: () => [
      "Writes go to both stores; legacy stays the truth. Validate both stores match before read-switch.",
    ],
    rollback: ALLOWED,
    back: ALLOWED,
  },
  "read-switch": {
    capture: "on",
    backfill: false,
    compare: "on",
    // The schema requires readPercent in read-switch; the first ramp step is only a type-level fallback.
    flags: { writeMode: "dual", readPercent: (s) => s.readPercent ?? s.ramp[0] },
    deletesRetiredD1: false,
    cut: false,
    irreversible: none,
    // Both stores equal now (validate), the change capture keeping up (its lag within the bound), and the
    // comparison Worker's last sample of both stores equal (runbook 2.2).
    gates: ["validate", "capture", "compare"],
    warnings: ({ spec }) => {
      const pct = spec.readPercent ?? spec.ramp[0];
      const next = spec.ramp.find((s) => s > pct);
      return [
        `${pct}% of reads are served by the new stores${next === undefined ? "" : `; next ramp step: ${next}%`}. Rollback stays instant: legacy is still written.`,
      ];
    },
    rollback: ALLOWED,
    back: ALLOWED,
  },
  "final-cut": {
    capture: "drain",
    backfill: false,
    compare: "remove",
    flags: { writeMode: "new", readPercent: () => 100 },
    deletesRetiredD1: false,
    cut: true,
    irreversible: (c) => [
      `Final cut of ${c.migration}: writes go only to the new stores from the moment this is applied (the ledger records the time). The legacy store misses every later write, so rollback is refused from here on; undo means fixing forward (or D1 Time Travel / Supabase PITR on the new stores).`,
    ],
    warnings: (c) => [
      `Decommission is allowed ${c.spec.soakDays} days after the final cut, measured from the time the ledger records when this phase is applied.`,
    ],
    rollback: CUT_BACK,
    back: CUT_BACK,
    records: { facts: ["finalCut"] },
  },
  decommission: {
    capture: "removed",
    backfill: false,
    compare: "off",
    flags: { writeMode: "new", readPercent: () => 100 },
    deletesRetiredD1: true,
    cut: true,
    irreversible: ({ spec, migration }) =>
      spec.d1
        .filter((d) => d.retired)
        .map(
          (d) =>
            `D1 database ${d.name} (binding ${d.binding}) is deleted with its data: Time Travel restores a database, not a deleted one. Its export is the gate of this step: cutover data export --stack <stack> --migration ${migration} --remote --evidence`,
        ),
    warnings: ({ spec }) => [
      ...(spec.d1.some((d) => d.retired)
        ? [
            "Protected stacks (prod) refuse to delete protected resources: unprotect each retired D1 database first (pulumi state unprotect <urn>).",
          ]
        : []),
      "The legacy Supabase database is not managed here: shutting it down is a separate, manual step.",
    ],
    turnsOff: ({ spec, migration }) => {
      const retired = spec.d1.filter((d) => d.retired);
      const m = `--stack <stack> --migration ${migration}`;
      return {
        newStores: [
          `Export every D1 database (gate): cutover data export ${m} --remote --evidence`,
          retired.length > 0
            ? `pulumi up deletes the retired D1 database(s) ${retired.map((d) => `${d.name} (binding ${d.binding})`).join(", ")}; the others and the flags namespace stay`
            : "No D1 database is marked retired: every D1 database and the flags namespace stay",
          `Drop the change log on legacy: cutover data capture remove --drop-log ${m}`,
        ],
        legacy: [
          `Check nothing reads legacy or a retired D1 database any more (gate: the flags entry, every Worker's bindings, the comparison Worker): cutover check decommission ${m} --evidence`,
          `Remove the Workers' legacy bindings${spec.cloudflare.legacyBindings.length ? ` (${spec.cloudflare.legacyBindings.join(", ")})` : ""}: wrangler secret delete <name> / drop them from each Worker's wrangler config, and deploy`,
          `Take a last dump of the legacy schema before turning it off: pg_dump --format=custom --schema=${spec.legacy.schema} --file=${migration}-legacy-final.dump "$LEGACY_DATABASE_URL"`,
          `Turn the legacy database off (outside this stack): revoke the Workers' role on ${spec.legacy.host}, then pause or delete the legacy Supabase project once the dump is verified`,
        ],
      };
    },
    rollback: CUT_BACK,
    back: CUT_BACK,
    records: { facts: ["decommissioned"] },
    // The retired D1 databases are deleted by this step: their export comes first; and nothing may still
    // read what is turned off (no flag, Worker binding or script on legacy or a retired D1 database).
    gates: ["export", "detached"],
  },
  rollback: {
    capture: "on",
    backfill: false,
    compare: "on",
    flags: { writeMode: "legacy", readPercent: () => 0 },
    deletesRetiredD1: false,
    cut: false,
    irreversible: none,
    warnings: () => [
      "Flags back to legacy: reads and writes go to the legacy store only. The new stores stop receiving writes: run the backfill again before moving forward.",
    ],
    // Judged by the retry rule of the transitions, not by these two.
    rollback: refused("already rolled back"),
    back: refused("a rollback moves forward again through backfill"),
  },
};

/** Forward phases in runbook order (rollback excluded). */
export const DUAL_WRITE_ORDER = (Object.keys(DUAL_WRITE_PHASE_TABLE) as DualWritePhase[]).filter(
  (p) => p !== "rollback",
);

/** Phases a rollback can leave, from the table. */
export const DUAL_WRITE_ROLLBACK_ORIGINS_OF_TABLE: readonly DualWritePhase[] = DUAL_WRITE_ORDER.filter(
  (p) => DUAL_WRITE_PHASE_TABLE[p].rollback.ok,
);
