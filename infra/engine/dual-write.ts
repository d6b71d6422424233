import type { DualWriteMigration, DualWritePhase } from "../config/dual-write";

/** Where the Workers write: legacy only, both stores (legacy is the truth), or the new stores only. */
export type WriteMode = "legacy" | "dual" | "new";

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
  /** KV key of the flags entry; the Workers module computes the same key. */
  readonly flagsKey: string;
  readonly soak?: SoakCountdown;
  /** Steps that cannot be undone by changing config back, printed first. */
  readonly irreversible: readonly string[];
  readonly warnings: readonly string[];
}

const HOUR_MS = 3_600_000;
/** `updatedAt` when config records no time: the value the Workers module also uses for "unknown". */
export const UNRECORDED_UPDATED_AT = "1970-01-01T00:00:00Z";

/** Must equal `flagsKey` in workers/flags/flags.ts (a test holds the two together). */
export function flagsKeyOf(migration: string): string {
  return `cutover:flags:${migration}`;
}

type FlagsRow = { writeMode: WriteMode; readPercent: (spec: DualWriteMigration) => number } | undefined;

/**
 * The flags of each phase: one table. Legacy stays the source of truth (and rollback stays instant)
 * until final-cut, the first phase in which legacy stops being written.
 */
const FLAGS_BY_PHASE: Record<DualWritePhase, FlagsRow> = {
  baseline: undefined,
  shadow: { writeMode: "legacy", readPercent: () => 0 },
  backfill: { writeMode: "legacy", readPercent: () => 0 },
  "dual-write": { writeMode: "dual", readPercent: () => 0 },
  // The schema requires readPercent in read-switch; the first ramp step is only a type-level fallback.
  "read-switch": { writeMode: "dual", readPercent: (s) => s.readPercent ?? s.ramp[0] },
  "final-cut": { writeMode: "new", readPercent: () => 100 },
  decommission: { writeMode: "new", readPercent: () => 100 },
  rollback: { writeMode: "legacy", readPercent: () => 0 },
};

/**
 * `updatedAt` comes from config, never from the clock: a clock value would change the KV entry on every
 * `pulumi preview`. It is the later of `flagsUpdatedAt` and, once the cut happened, `finalCutAt`.
 */
function updatedAtOf(spec: DualWriteMigration): string | undefined {
  const cut = spec.phase === "final-cut" || spec.phase === "decommission" ? spec.finalCutAt : undefined;
  const times = [spec.flagsUpdatedAt, cut].filter((t): t is string => t !== undefined);
  // As written in config (not re-formatted), so the entry reads like the config line that produced it.
  return times.reduce<string | undefined>(
    (a, t) => (a === undefined || Date.parse(t) > Date.parse(a) ? t : a),
    undefined,
  );
}

function d1Of(spec: DualWriteMigration): D1DatabasePlan[] {
  if (spec.phase === "baseline") return [];
  // Only decommission deletes a D1 database, and only one the config marks retired.
  return spec.d1
    .filter((d) => !(spec.phase === "decommission" && d.retired))
    .map(({ name, binding, locationHint, readReplication, retired }) => ({
      name,
      binding,
      locationHint,
      readReplication,
      retired,
    }));
}

function soakOf(spec: DualWriteMigration, now: Date): SoakCountdown | undefined {
  if (spec.finalCutAt === undefined || (spec.phase !== "final-cut" && spec.phase !== "decommission"))
    return undefined;
  const until = Date.parse(spec.finalCutAt) + spec.soakDays * 24 * HOUR_MS;
  return {
    finalCutAt: spec.finalCutAt,
    until: new Date(until).toISOString(),
    remainingHours: Math.max(0, Math.ceil((until - now.getTime()) / HOUR_MS)),
  };
}

function irreversibleOf(spec: DualWriteMigration, migration: string): string[] {
  switch (spec.phase) {
    case "final-cut":
      return [
        `Final cut of ${migration}: writes go only to the new stores from ${spec.finalCutAt}. The legacy store misses every later write, so rollback is refused from here on; undo means fixing forward (or D1 Time Travel / Supabase PITR on the new stores).`,
      ];
    case "decommission":
      return spec.d1
        .filter((d) => d.retired)
        .map(
          (d) =>
            `D1 database ${d.name} (binding ${d.binding}) is deleted with its data: Time Travel restores a database, not a deleted one. Export it first: wrangler d1 export ${d.name} --remote --output ${d.name}.sql`,
        );
    case "baseline":
    case "shadow":
    case "backfill":
    case "dual-write":
    case "read-switch":
    case "rollback":
      return [];
    default: {
      const unreachable: never = spec.phase;
      throw new Error(`unknown phase ${String(unreachable)}`);
    }
  }
}

function warningsOf(spec: DualWriteMigration, migration: string, soak?: SoakCountdown): string[] {
  const w: string[] = [];
  const stackHint = `--stack <stack> --migration ${migration}`;
  switch (spec.phase) {
    case "baseline":
      break;
    case "shadow":
      w.push(`D1 schema is applied by script, not by Pulumi: npm run d1:migrate -- ${stackHint} --remote`);
      break;
    case "backfill":
      w.push(
        `Run npm run backfill -- ${stackHint} until a run copies 0 rows; change capture keeps new rows flowing meanwhile.`,
      );
      break;
    case "dual-write":
      w.push(
        "Writes go to both stores; legacy stays the truth. Validate both stores match before read-switch.",
      );
      break;
    case "read-switch": {
      const pct = spec.readPercent ?? spec.ramp[0];
      const next = spec.ramp.find((s) => s > pct);
      w.push(
        `${pct}% of reads are served by the new stores${next === undefined ? "" : `; next ramp step: ${next}%`}. Rollback stays instant: legacy is still written.`,
      );
      break;
    }
    case "final-cut":
      if (soak)
        w.push(
          `Decommission allowed after ${soak.until} (soak of ${spec.soakDays} days): ${soak.remainingHours} h left.`,
        );
      break;
    case "decommission":
      if (spec.d1.some((d) => d.retired))
        w.push(
          "Protected stacks (prod) refuse to delete protected resources: unprotect each retired D1 database first (pulumi state unprotect <urn>).",
        );
      w.push(
        "The legacy Supabase database is not managed here: shutting it down is a separate, manual step.",
      );
      break;
    case "rollback":
      w.push(
        "Flags back to legacy: reads and writes go to the legacy store only. The new stores stop receiving writes: run the backfill again before moving forward.",
      );
      break;
    default: {
      const unreachable: never = spec.phase;
      throw new Error(`unknown phase ${String(unreachable)}`);
    }
  }
  if (FLAGS_BY_PHASE[spec.phase] !== undefined && updatedAtOf(spec) === undefined)
    w.push(
      `flags.updatedAt is not recorded (shown as ${UNRECORDED_UPDATED_AT}); hint: set flagsUpdatedAt to the time of this change`,
    );
  return w;
}

/** Desired state of a dual-write migration in its phase: pure and deterministic (`now` only feeds the soak countdown). */
export function planDualWrite(
  migration: string,
  spec: DualWriteMigration,
  now: Date = new Date(),
): DualWritePlan {
  const row = FLAGS_BY_PHASE[spec.phase];
  const d1 = d1Of(spec);
  const flags: DualWriteFlags | undefined = row && {
    phase: spec.phase,
    writeMode: row.writeMode,
    readPercent: row.readPercent(spec),
    updatedAt: updatedAtOf(spec) ?? UNRECORDED_UPDATED_AT,
  };
  const soak = soakOf(spec, now);
  return {
    kind: "dual-write",
    migration,
    phase: spec.phase,
    // Every phase after baseline (rollback included) keeps the KV namespace: the Workers read it.
    resources: { d1: d1.length > 0, kv: flags !== undefined, flags: flags !== undefined },
    d1,
    ...(flags ? { flags } : {}),
    flagsKey: flagsKeyOf(migration),
    ...(soak ? { soak } : {}),
    irreversible: irreversibleOf(spec, migration),
    warnings: warningsOf(spec, migration, soak),
  };
}
