import * as pulumi from "@pulumi/pulumi";
import { IRREVERSIBLE_MARKER } from "../../contract/facts";
import { stableJson } from "./stable-json";
import {
  promoteMigrationJob,
  validatePromotionInputs,
  type PromotionInputs,
  type PromotionResult,
} from "../dms/promote";

/** Automated backups and PITR to turn back on once the destination is a standalone primary. */
export interface ReenableBackupsArgs {
  /** GCP project of the destination Cloud SQL instance. */
  readonly project: pulumi.Input<string>;
  /** Destination Cloud SQL instance name. */
  readonly instance: pulumi.Input<string>;
  /** Start of the daily backup window, `HH:MM` UTC. */
  readonly startTime: string;
  /** Automated backups kept; must be greater than `logRetentionDays`. */
  readonly retainedBackups: number;
  /** PITR transaction log retention: 1–7 days on ENTERPRISE, 1–35 on ENTERPRISE_PLUS. */
  readonly logRetentionDays: number;
}

export interface DmsPromotionArgs {
  /** Full name of the migration job: `projects/P/locations/R/migrationJobs/ID`. */
  readonly migrationJob: pulumi.Input<string>;
  /** Attempt number of the migration; a new attempt promotes again (the resource is replaced). */
  readonly attempt: number;
  /** OAuth access token for the REST calls, e.g. `gcp.organizations.getClientConfigOutput().accessToken`; stored as a secret. */
  readonly accessToken: pulumi.Input<string>;
  /** DMS REST endpoint. @default "https://datamigration.googleapis.com" */
  readonly endpoint?: string;
  /** Cloud SQL Admin REST endpoint. @default "https://sqladmin.googleapis.com" */
  readonly sqladminEndpoint?: string;
  /** Longest wait for the whole promotion, backups included. @default 60 */
  readonly timeoutMinutes?: number;
  /** Time between two polls of a long-running operation. @default 10 */
  readonly pollIntervalSeconds?: number;
  /**
   * Also promote from phase `CDC`, not only `READY_FOR_PROMOTE`. Only for operators who checked that writes
   * on the source stopped and the replication delay is 0.
   * @default false
   */
  readonly allowPromoteFromCdc?: boolean;
  /** Re-enable automated backups and PITR after promotion (DMS suspends them on the replica). @default undefined (skipped) */
  readonly reenableBackups?: ReenableBackupsArgs;
}

/** State kept by the provider: every input except the token, plus the result. */
export type DmsPromotionState = Omit<PromotionInputs, "accessToken"> & PromotionResult;

/** Changing one of these means a different promotion: replace, which promotes (or finds it promoted). */
const REPLACE_ON = ["migrationJob", "attempt"] as const;
/** Changing one of these only updates the stored inputs; the promotion already happened. */
const SETTINGS = [
  "endpoint",
  "sqladminEndpoint",
  "timeoutMinutes",
  "pollIntervalSeconds",
  "allowPromoteFromCdc",
  "reenableBackups",
] as const;

/**
 * The dynamic provider. Pulumi serializes it into the state with its closure, so it only reaches for
 * `promoteMigrationJob` (self-contained, global `fetch`) and plain data. The token lives in the secret
 * inputs only: `outs` never carry it, so it cannot end up in outputs or in an error.
 */
export const dmsPromotionProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds: unknown, news: PromotionInputs): Promise<pulumi.dynamic.CheckResult> {
    // At preview an input that depends on another resource is the unknown sentinel: judge it at `up`.
    const unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
    const known = Object.fromEntries(Object.entries(news).filter(([, v]) => v !== unknown));
    const failures = validatePromotionInputs(known).filter((f) => f.property.split(".")[0] in known);
    return { inputs: news, failures };
  },

  async diff(
    _id: string,
    olds: DmsPromotionState,
    news: PromotionInputs,
  ): Promise<pulumi.dynamic.DiffResult> {
    // The token changes on every run; it is not a reason to touch the resource.
    const replaces = REPLACE_ON.filter((k) => olds[k] !== news[k]);
    const changed = SETTINGS.some((k) => stableJson(olds[k]) !== stableJson(news[k]));
    return { changes: replaces.length > 0 || changed, replaces, deleteBeforeReplace: false };
  },

  async create(inputs: PromotionInputs): Promise<pulumi.dynamic.CreateResult> {
    const result = await promoteMigrationJob(inputs);
    const outs = { ...withoutToken(inputs), ...result };
    return { id: `${inputs.migrationJob}:promote@${inputs.attempt}`, outs };
  },

  async update(
    _id: string,
    olds: DmsPromotionState,
    news: PromotionInputs,
  ): Promise<pulumi.dynamic.UpdateResult> {
    const { promotedAt, jobState, alreadyPromoted, backupsReenabled } = olds;
    return { outs: { ...withoutToken(news), promotedAt, jobState, alreadyPromoted, backupsReenabled } };
  },

  async read(id: string, props: DmsPromotionState): Promise<pulumi.dynamic.ReadResult> {
    return { id, props };
  },

  // Promotion cannot be undone: the destination is now a standalone primary and DMS has let go of the
  // source. Deleting (decommission, or a replace for a new attempt) only forgets the record.
  async delete(): Promise<void> {},
};

function withoutToken(inputs: PromotionInputs): Omit<PromotionInputs, "accessToken"> {
  const copy: { -readonly [K in keyof PromotionInputs]?: PromotionInputs[K] } = { ...inputs };
  delete copy.accessToken;
  return copy as Omit<PromotionInputs, "accessToken">;
}

/** Fills in the defaults and refuses, at construction, the arguments already known to be wrong. */
function promotionProps(name: string, args: DmsPromotionArgs): pulumi.Inputs {
  const settings = {
    migrationJob: args.migrationJob,
    attempt: args.attempt,
    endpoint: args.endpoint ?? "https://datamigration.googleapis.com",
    sqladminEndpoint: args.sqladminEndpoint ?? "https://sqladmin.googleapis.com",
    timeoutMinutes: args.timeoutMinutes ?? 60,
    pollIntervalSeconds: args.pollIntervalSeconds ?? 10,
    allowPromoteFromCdc: args.allowPromoteFromCdc ?? false,
    reenableBackups: args.reenableBackups,
    [IRREVERSIBLE_MARKER]:
      "promotes the Cloud SQL replica to a standalone primary: replication from the source ends for good",
  };
  // Inputs that come from other resources are only known at `up`: the provider's `check` judges them.
  const b = args.reenableBackups;
  const pending = new Set<string>();
  if (typeof args.migrationJob !== "string") pending.add("migrationJob");
  if (typeof args.accessToken !== "string") pending.add("accessToken");
  if (b && typeof b.project !== "string") pending.add("reenableBackups.project");
  if (b && typeof b.instance !== "string") pending.add("reenableBackups.instance");
  const plain = { ...settings, accessToken: args.accessToken } as Partial<PromotionInputs>;
  const problems = validatePromotionInputs(plain).filter((p) => !pending.has(p.property));
  if (problems.length > 0) {
    const lines = problems.map((p) => `  - ${p.property}: ${p.reason}`).join("\n");
    throw new Error(`DmsPromotion "${name}": invalid arguments:\n${lines}`);
  }
  return {
    ...settings,
    accessToken: pulumi.secret(args.accessToken),
    promotedAt: undefined,
    jobState: undefined,
    alreadyPromoted: undefined,
    backupsReenabled: undefined,
  };
}

/**
 * Promotes a DMS migration job once per attempt (the `promote` phase). Idempotent: a job already COMPLETED
 * is recorded as promoted without a second call, a promotion in progress is waited for, and anything not
 * ready (CDC with writes still on, a dump running, a failed job) is refused with what to do.
 */
export class DmsPromotion extends pulumi.dynamic.Resource {
  /** When the job was promoted (DMS's end time when it was already promoted). */
  declare public readonly promotedAt: pulumi.Output<string>;
  /** The job's state after the promotion, `COMPLETED`. */
  declare public readonly jobState: pulumi.Output<string>;
  /** True when an earlier run (or someone in the console) had already promoted the job. */
  declare public readonly alreadyPromoted: pulumi.Output<boolean>;
  /** True when automated backups and PITR were turned back on. */
  declare public readonly backupsReenabled: pulumi.Output<boolean>;

  constructor(name: string, args: DmsPromotionArgs, opts?: pulumi.CustomResourceOptions) {
    super(dmsPromotionProvider, name, promotionProps(name, args), opts);
  }
}
