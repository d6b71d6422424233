import * as pulumi from "@pulumi/pulumi";
import { IRREVERSIBLE_MARKER } from "../../contract/facts";
import { switchOnCloud, type CloudSwitchInputs } from "../replication/cloud-switch";
import type { TermTiming } from "../replication/switch";
import { stableJson } from "./stable-json";

/** What the provider stores: the inputs without the token, and the switch's terms as they ran. */
export interface CutoverSwitchState extends CloudSwitchInputs {
  readonly attempt: number;
  readonly switchedAt: string;
  readonly terms: readonly TermTiming[];
  readonly totalMs: number;
}

type ProviderInputs = CloudSwitchInputs & { readonly attempt: number; readonly accessToken: string };

/** The inputs as stored: everything but the token. */
function withoutToken(news: ProviderInputs): CloudSwitchInputs & { readonly attempt: number } {
  const copy: { -readonly [K in keyof ProviderInputs]?: ProviderInputs[K] } = { ...news };
  delete copy.accessToken;
  return copy as CloudSwitchInputs & { readonly attempt: number };
}

/** A new attempt is a new switch; anything else only updates the record (the switch happened). */
const REPLACE_ON = ["attempt", "freezeJob", "migrateJob"] as const;

/**
 * The switch's dynamic provider: `create` runs it (the whole freeze-to-smoke sequence, bounded), and
 * what depends on this resource (the service's traffic) moves only when it succeeded. A failed switch
 * leaves no resource and the source thawed; once a promotion started the attempt is spent (a second run
 * would find the source ahead of Cloud SQL and its validation refuses): roll back, retry with a new
 * attempt. The token is a
 * secret input only; the smoke token comes from the pipeline's environment (`SMOKE_ADMIN_TOKEN`).
 */
export const cutoverSwitchProvider: pulumi.dynamic.ResourceProvider = {
  async diff(
    _id: string,
    olds: CutoverSwitchState,
    news: ProviderInputs,
  ): Promise<pulumi.dynamic.DiffResult> {
    const replaces = REPLACE_ON.filter((k) => olds[k] !== news[k]);
    const rest = withoutToken(news);
    const settings = Object.keys(rest).some(
      (k) =>
        !(REPLACE_ON as readonly string[]).includes(k) &&
        stableJson((olds as never)[k]) !== stableJson((rest as never)[k]),
    );
    return { changes: replaces.length > 0 || settings, replaces, deleteBeforeReplace: true };
  },

  async create(inputs: ProviderInputs): Promise<pulumi.dynamic.CreateResult> {
    const stored = withoutToken(inputs);
    const result = await switchOnCloud(stored, {
      accessToken: inputs.accessToken,
      smokeToken: process.env.SMOKE_ADMIN_TOKEN || undefined,
    });
    const outs: CutoverSwitchState = {
      ...stored,
      switchedAt: new Date().toISOString(),
      terms: result.terms,
      totalMs: result.totalMs,
    };
    return { id: `${stored.service}:switch@${stored.attempt}`, outs };
  },

  async update(
    _id: string,
    olds: CutoverSwitchState,
    news: ProviderInputs,
  ): Promise<pulumi.dynamic.UpdateResult> {
    const stored = withoutToken(news);
    return { outs: { ...stored, switchedAt: olds.switchedAt, terms: olds.terms, totalMs: olds.totalMs } };
  },

  async read(id: string, props: CutoverSwitchState): Promise<pulumi.dynamic.ReadResult> {
    return { id, props };
  },

  // The switch cannot be undone by deleting its record: a rollback thaws the source with its own job.
  async delete(): Promise<void> {},
};

export interface CutoverSwitchArgs extends Omit<CloudSwitchInputs, "readerJob"> {
  readonly attempt: number;
  /** The reader's grant job (an output of the validation job's component). */
  readonly readerJob?: pulumi.Input<string>;
  /** OAuth access token of the deployer (`gcp.organizations.getClientConfigOutput().accessToken`). */
  readonly accessToken: pulumi.Input<string>;
}

/**
 * The switch of `writeMove: switch`, run once per attempt by `pulumi up`; the service's traffic depends
 * on it, so the candidate takes 100% only after every term passed within the deadline.
 */
export class CutoverSwitch extends pulumi.dynamic.Resource {
  declare public readonly switchedAt: pulumi.Output<string>;
  declare public readonly terms: pulumi.Output<readonly TermTiming[]>;
  declare public readonly totalMs: pulumi.Output<number>;

  constructor(name: string, args: CutoverSwitchArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      cutoverSwitchProvider,
      name,
      {
        ...args,
        accessToken: pulumi.secret(args.accessToken),
        [IRREVERSIBLE_MARKER]:
          "freezes the source, promotes Cloud SQL and runs the schema migration before traffic moves; a failed or overrun term gives writes back to the source",
        switchedAt: undefined,
        terms: undefined,
        totalMs: undefined,
      },
      opts,
    );
  }
}
