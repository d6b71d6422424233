import type { DualWriteMigration, DualWritePhase } from "../config/dual-write";
import { DAY_HOURS, HOUR_MS } from "../../contract/facts";
import {
  CAPTURE_STEPS,
  CAPTURE_WORKER_STATES,
  COMPARE_STEPS,
  DUAL_WRITE_PHASE_TABLE,
  type CaptureState,
  type CompareState,
  type DecommissionSteps,
  type WriteMode,
} from "./dual-write-phases";

export type { WriteMode } from "./dual-write-phases";

/** The flags entry the Workers read on each request (same shape as `workers/flags/flags.ts`). */
export interface DualWriteFlags {
  readonly phase: DualWritePhase;
  readonly writeMode: WriteMode;
  /** Share of reads (0–100) served by the new stores. */
  readonly readPercent: number;
  readonly updatedAt: string;
}

/** A D1 database the phase declares. */
export interface D1DatabasePlan {
  readonly name: string;
  readonly binding: string;
  readonly locationHint: string;
  readonly readReplication: "auto" | "disabled";
  readonly retired: boolean;
}

export interface DualWriteResources {
  readonly d1: boolean;
  /** The Workers KV namespace holding the flags. */
  readonly kv: boolean;
  /** The flags entry inside it. */
  readonly flags: boolean;
  /** The Hyperdrive configs the comparison and capture Workers reach legacy and the new schema through. */
  readonly hyperdrive: boolean;
}

/** Time left before decommission may run. */
export interface SoakCountdown {
  readonly finalCutAt: string;
  /** finalCutAt + soakDays. */
  readonly until: string;
  /** Whole hours left, rounded up; 0 once the soak is over. */
  readonly remainingHours: number;
}

/** Everything a (spec, phase) implies for kind `dual-write`. Components only turn this into resources. */
export interface DualWritePlan {
  readonly kind: "dual-write";
  readonly migration: string;
  readonly phase: DualWritePhase;
  readonly resources: DualWriteResources;
  /** D1 databases declared in this phase (retired ones are absent in decommission: deleted). */
  readonly d1: readonly D1DatabasePlan[];
  readonly flags?: DualWriteFlags;
  /**
   * What the Workers fall back to when the flags entry cannot be used (KV error, missing, malformed, or
   * asking for less): legacy until the final cut, the new stores from it on (the table's `cut`). It
   * travels with the Worker's deployment as the CUTOVER_FLAGS_FLOOR binding.
   */
  readonly flagsFloor?: DualWriteFlags;
  /** KV key of the flags entry; the Workers module computes the same key. */
  readonly flagsKey: string;
  /** The change capture from legacy into the new stores in this phase, and what to run. */
  readonly capture: {
    readonly state: CaptureState;
    readonly tables: number;
    readonly steps: readonly string[];
  };
  /** The comparison Worker in this phase, and what to run. */
  readonly compare: {
    readonly state: CompareState;
    readonly cron: string;
    readonly sample: number;
    readonly steps: readonly string[];
  };
  /** Decommission only: what is turned off on each side, step by step. */
  readonly turnsOff?: DecommissionSteps;
  readonly soak?: SoakCountdown;
  /** Steps that cannot be undone by changing config back, printed first. */
  readonly irreversible: readonly string[];
  readonly warnings: readonly string[];
}

/** `updatedAt` when config records no time: the value the Workers module also uses for "unknown". */
export const UNRECORDED_UPDATED_AT = "1970-01-01T00:00:00Z";

/** Must equal `flagsKey` in workers/flags/flags.ts (a test holds the two together). */
export function flagsKeyOf(migration: string): string {
  return `cutover:flags:${migration}`;
}

/**
 * `updatedAt` comes from config (`flagsUpdatedAt`), never from the clock: a clock value would change the
 * KV entry on every `pulumi preview`.
 */
function updatedAtOf(spec: DualWriteMigration): string | undefined {
  return spec.flagsUpdatedAt;
}

function d1Of(spec: DualWriteMigration, deletesRetired: boolean): D1DatabasePlan[] {
  // Only decommission deletes a D1 database, and only one the config marks retired.
  return spec.d1
    .filter((d) => !(deletesRetired && d.retired))
    .map(({ name, binding, locationHint, readReplication, retired }) => ({
      name,
      binding,
      locationHint,
      readReplication,
      retired,
    }));
}

function soakOf(spec: DualWriteMigration, now: Date, finalCutAt?: string): SoakCountdown | undefined {
  if (finalCutAt === undefined || !DUAL_WRITE_PHASE_TABLE[spec.phase].cut) return undefined;
  const until = Date.parse(finalCutAt) + spec.soakDays * DAY_HOURS * HOUR_MS;
  return {
    finalCutAt,
    until: new Date(until).toISOString(),
    remainingHours: Math.max(0, Math.ceil((until - now.getTime()) / HOUR_MS)),
  };
}

/**
 * Desired state of a dual-write migration in its phase: pure and deterministic. Reads the phase table.
 * `now` and `finalCutAt` (the time the ledger recorded, when known) only feed the soak countdown.
 */
export function planDualWrite(
  migration: string,
  spec: DualWriteMigration,
  now: Date = new Date(),
  finalCutAt?: string,
): DualWritePlan {
  const row = DUAL_WRITE_PHASE_TABLE[spec.phase];
  const ctx = { spec, migration };
  const d1 = spec.phase === "baseline" ? [] : d1Of(spec, row.deletesRetiredD1);
  const flags: DualWriteFlags | undefined = row.flags && {
    phase: spec.phase,
    writeMode: row.flags.writeMode,
    readPercent: row.flags.readPercent(spec),
    updatedAt: updatedAtOf(spec) ?? UNRECORDED_UPDATED_AT,
  };
  const soak = soakOf(spec, now, finalCutAt);
  const warnings = [...row.warnings(ctx)];
  if (soak)
    warnings.push(
      `Decommission allowed after ${soak.until} (soak of ${spec.soakDays} days): ${soak.remainingHours} h left.`,
    );
  if (flags && updatedAtOf(spec) === undefined)
    warnings.push(
      `flags.updatedAt is not recorded (shown as ${UNRECORDED_UPDATED_AT}); hint: set flagsUpdatedAt to the time of this change`,
    );
  return {
    kind: "dual-write",
    migration,
    phase: spec.phase,
    // Every phase after baseline (rollback included) keeps the KV namespace: the Workers read it.
    resources: {
      d1: d1.length > 0,
      kv: flags !== undefined,
      flags: flags !== undefined,
      // Read by the comparison Worker while it runs and by the capture Worker while it applies.
      hyperdrive: row.compare === "on" || CAPTURE_WORKER_STATES.includes(row.capture),
    },
    d1,
    ...(flags ? { flags } : {}),
    ...(flags
      ? {
          flagsFloor: {
            phase: spec.phase,
            writeMode: row.cut ? "new" : "legacy",
            readPercent: row.cut ? 100 : 0,
            updatedAt: flags.updatedAt,
          },
        }
      : {}),
    flagsKey: flagsKeyOf(migration),
    capture: { state: row.capture, tables: spec.tables.length, steps: CAPTURE_STEPS[row.capture](migration) },
    compare: {
      state: row.compare,
      cron: spec.compare.cron,
      sample: spec.compare.sample,
      steps: COMPARE_STEPS[row.compare](migration),
    },
    ...(row.turnsOff ? { turnsOff: row.turnsOff(ctx) } : {}),
    ...(soak ? { soak } : {}),
    irreversible: row.irreversible(ctx),
    warnings,
  };
}
