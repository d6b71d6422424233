import * as cloudflare from "@pulumi/cloudflare";
import * as pulumi from "@pulumi/pulumi";
import type { DualWriteFlags } from "../engine/dual-write";

export interface WorkersFlagsArgs {
  /** Cloudflare account id (32 hex characters). */
  readonly accountId: string;
  /** Title of the Workers KV namespace. */
  readonly namespaceTitle: string;
  /** KV key of the flags entry (the Workers module reads the same key). */
  readonly key: string;
  /** The entry's value; none means the namespace exists without an entry (Workers fall back to legacy). */
  readonly flags?: DualWriteFlags;
  /** Pulumi `protect` on the namespace (prod). @default false */
  readonly protect?: boolean;
}

/** A Workers KV namespace and the one flags entry the Workers read on each request. */
export class WorkersFlags extends pulumi.ComponentResource {
  public readonly namespaceId: pulumi.Output<string>;

  constructor(name: string, args: WorkersFlagsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("cutover:cloudflare:WorkersFlags", name, {}, opts);
    const namespace = new cloudflare.WorkersKvNamespace(
      `${name}-namespace`,
      { accountId: args.accountId, title: args.namespaceTitle },
      { parent: this, protect: args.protect ?? false },
    );
    if (args.flags) {
      // Not protected: the entry is rewritten on every phase change, rollback included.
      new cloudflare.WorkersKv(
        `${name}-entry`,
        {
          accountId: args.accountId,
          namespaceId: namespace.id,
          keyName: args.key,
          // Fixed key order, so the same flags always serialize to the same value (no spurious diff).
          value: JSON.stringify({
            phase: args.flags.phase,
            writeMode: args.flags.writeMode,
            readPercent: args.flags.readPercent,
            updatedAt: args.flags.updatedAt,
          }),
        },
        { parent: this },
      );
    }
    this.namespaceId = namespace.id;
    this.registerOutputs({ namespaceId: this.namespaceId });
  }
}
