import * as cloudflare from "@pulumi/cloudflare";
import * as pulumi from "@pulumi/pulumi";
import type { DualWriteMigration } from "../config/dual-write";
import type { DualWritePlan } from "../engine/dual-write";
import { WorkersFlags } from "./workers-flags";
import { MigrationSpec } from "./migration-spec";

export interface DualWriteCutoverArgs {
  /** The validated spec. */
  readonly spec: DualWriteMigration;
  /** The phase's desired state (from `planDualWrite`). */
  readonly plan: DualWritePlan;
  /** Cloudflare API token (the `cloudflare:apiToken` secret); only read when the phase declares resources. */
  readonly apiToken: pulumi.Input<string>;
  /** Pulumi `protect` on stateful resources (D1 databases, KV namespace) (prod). @default false */
  readonly protect?: boolean;
  /**
   * The legacy and new-schema passwords (Pulumi secrets named by `passwordSecretKey`); only read when the
   * phase declares the comparison Worker's Hyperdrive configs.
   */
  readonly passwords?: { readonly legacy: pulumi.Input<string>; readonly target: pulumi.Input<string> };
}

/** One `dual-write` migration: turns the phase's desired state into Cloudflare resources, nothing more. */
export class DualWriteCutover extends pulumi.ComponentResource {
  /** D1 database ids by database name. */
  public readonly d1DatabaseIds: pulumi.Output<Record<string, string>>;
  /** Id of the flags KV namespace (absent in baseline). */
  public readonly kvNamespaceId?: pulumi.Output<string>;
  /** Ids of the comparison Worker's Hyperdrive configs (phases where it runs). */
  public readonly hyperdriveIds?: pulumi.Output<{ legacy: string; target: string }>;

  constructor(name: string, args: DualWriteCutoverArgs, opts?: pulumi.ComponentResourceOptions) {
    super("cutover:migration:DualWrite", name, {}, opts);
    const { spec, plan } = args;
    const protect = args.protect ?? false;
    const accountId = spec.cloudflare.accountId;

    new MigrationSpec(
      `${name}-spec`,
      {
        cutoverSpec: "v1",
        migration: name,
        kind: "dual-write",
        phase: plan.phase,
        // Rollback of this kind keeps every resource, whatever phase it leaves.
        basePhase: plan.phase,
        d1: plan.d1.map((d) => d.name),
        ...(plan.flags ? { writeMode: plan.flags.writeMode, readPercent: plan.flags.readPercent } : {}),
      },
      { parent: this },
    );

    const ids: Record<string, pulumi.Output<string>> = {};
    if (plan.resources.d1 || plan.resources.kv) {
      // One provider per migration, named after it, so its URN never changes across phases.
      const provider = new cloudflare.Provider(
        `${name}-cloudflare`,
        { apiToken: args.apiToken },
        { parent: this },
      );
      const child = { parent: this, provider };
      for (const d of plan.d1) {
        // Named by database name, not position: reordering the config list must not replace anything.
        const db = new cloudflare.D1Database(
          `${name}-d1-${d.name}`,
          {
            accountId,
            name: d.name,
            primaryLocationHint: d.locationHint,
            // Stated explicitly: an implicit value hits a known create error.
            readReplication: { mode: d.readReplication },
          },
          { ...child, protect },
        );
        ids[d.name] = db.id;
      }
      if (plan.resources.kv) {
        const flags = new WorkersFlags(
          `${name}-flags`,
          {
            accountId,
            namespaceTitle: spec.cloudflare.kvNamespace,
            key: plan.flagsKey,
            flags: plan.resources.flags ? plan.flags : undefined,
            protect,
          },
          child,
        );
        this.kvNamespaceId = flags.namespaceId;
      }
      if (plan.resources.hyperdrive) {
        if (!args.passwords)
          throw new Error(`${name}: the comparison Worker's Hyperdrive configs need the passwords`);
        const hyperdrive = (side: "legacy" | "target") => {
          const db = spec[side];
          return new cloudflare.HyperdriveConfig(
            `${name}-hyperdrive-${side}`,
            {
              accountId,
              name: `cutover-${pulumi.getStack()}-${name}-${side}`,
              origin: {
                scheme: "postgres",
                host: db.host,
                port: db.port,
                database: db.database,
                user: db.user,
                password: pulumi.secret(args.passwords![side]),
              },
              // The comparison must read what the databases hold now, never a cached answer. TLS to the
              // origin is Hyperdrive's default (sslmode require, server certificate checked).
              caching: { disabled: true },
            },
            child,
          );
        };
        const legacy = hyperdrive("legacy");
        const target = hyperdrive("target");
        this.hyperdriveIds = pulumi.all([legacy.id, target.id]).apply(([l, t]) => ({ legacy: l, target: t }));
      }
    }
    this.d1DatabaseIds = pulumi.output(ids);
    this.registerOutputs({
      d1DatabaseIds: this.d1DatabaseIds,
      kvNamespaceId: this.kvNamespaceId,
      hyperdriveIds: this.hyperdriveIds,
    });
  }
}
