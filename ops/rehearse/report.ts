/**
 * What a rehearsal is asked (its options, the app under test) and what it reports: the shapes the
 * command, the timeline and the tests read.
 */
import type { CloudSqlMigration } from "../../infra/config/cloudsql";
import type { PlatformDelays, WindowProjection } from "../../infra/engine/window";
import type { TermTiming } from "../../infra/replication/switch";
import { BUILT_IN_TRAFFIC, type Sample, type Traffic } from "./load";
import { BUILT_IN_APP_CMD, BUILT_IN_SCHEMA_CMD } from "./revisions";
import type { ObservedWindow } from "./window";

export interface RehearsalOptions {
  readonly stack: string;
  readonly migration?: string;
  readonly dir?: string;
  /** Rows in the source table before the run. */
  readonly rows: number;
  /** Writes per second for the whole run. */
  readonly rate: number;
  /** Seconds each phase (each canary step) is held under load. */
  readonly bakeSeconds: number;
  /** Roll back from this phase (instead of walking to the end) and check the service again. */
  readonly drill?: string;
  /** The replication path to rehearse. @default the stack's `replication` */
  readonly replication?: CloudSqlMigration["replication"];
  /** How writes move (`switch` or `ramp`). @default the stack's `writeMove` */
  readonly writeMove?: CloudSqlMigration["writeMove"];
  /**
   * How long the DMS stand-in's promotion takes, in seconds (DMS documents several minutes).
   * @default PLATFORM_DELAYS.dmsPromoteSeconds
   */
  readonly dmsPromoteSeconds?: number;
  /** The platform delays the production projection adds (the local run has none of them). */
  readonly delays?: Partial<PlatformDelays>;
  /**
   * The app to run per revision and its schema migration (`prisma migrate deploy` for the real app),
   * the routes the load uses and where an acknowledged write lands. Default: the built-in app.
   */
  readonly app?: AppUnderTest;
  readonly log?: (line: string) => void;
}

/** The app the rehearsal runs, and how its writes are made and found. */
export interface AppUnderTest {
  /** Shell command starting one revision (PORT and the revision's env are set). */
  readonly command: string;
  /** Shell command creating or migrating the schema (DATABASE_URL / DIRECT_URL set). */
  readonly schemaCommand: string;
  /** SQL run on the source after the schema, to give it data; the built-in app seeds `rows` instead. */
  readonly seedSql?: string;
  readonly traffic: Traffic;
  /** The table and column where a write's `{{id}}` lands, to find acknowledged writes. */
  readonly ack: { readonly table: string; readonly column: string };
}

export const BUILT_IN_APP: AppUnderTest = {
  command: BUILT_IN_APP_CMD,
  schemaCommand: BUILT_IN_SCHEMA_CMD,
  traffic: BUILT_IN_TRAFFIC,
  ack: { table: "ChatMessage", column: "clientId" },
};

/** One position held during the run. */
export interface PhaseBand {
  readonly position: string;
  readonly startMs: number;
  readonly endMs: number;
  readonly writes: { readonly accepted: number; readonly refused: number; readonly errors: number };
  readonly latencyMs: { readonly p50: number; readonly p99: number };
  /** What was checked at this position (gates), each with its verdict. */
  readonly checks: readonly { readonly name: string; readonly ok: boolean; readonly detail: string }[];
}

export interface RehearsalReport {
  readonly stack: string;
  readonly migration: string;
  /** Rows in the table writes land in, before the run. */
  readonly rows: number;
  readonly rate: number;
  readonly durationMs: number;
  readonly phases: readonly PhaseBand[];
  readonly writes: {
    readonly acknowledged: number;
    readonly foundInFinal: number;
    readonly lost: number;
    readonly duplicates: number;
    readonly refused: number;
    readonly errors: number;
  };
  /** The replication path rehearsed. */
  readonly replication: CloudSqlMigration["replication"];
  /** How writes moved. */
  readonly writeMove: CloudSqlMigration["writeMove"];
  /** The switch's terms as they ran (writeMove: switch). */
  readonly switch?: { readonly terms: readonly TermTiming[]; readonly totalMs: number };
  /** The window as the requests saw it here: all writes refused, some writes refused, per position. */
  readonly window: ObservedWindow;
  /** The same walk with the platform's modelled delays and this run's measured gate work. */
  readonly projection: WindowProjection & { readonly delays: PlatformDelays };
  /** Other walks projected with the same measured work, side by side. */
  readonly alternatives?: readonly { readonly name: string; readonly projection: WindowProjection }[];
  readonly sequenceCollisions: number;
  readonly validation?: { readonly identical: boolean; readonly detail: string };
  readonly drill?: {
    readonly from: string;
    /** From the rollback to the first write accepted through the router by the stable revision. */
    readonly toStableMs: number | null;
    readonly serviceOk: boolean;
    /** Writes acknowledged on the destination after promotion that the source does not have. */
    readonly writesOnlyOnDestination: number;
  };
  readonly samples: readonly Sample[];
  readonly final: string;
}
