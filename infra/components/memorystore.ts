import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import type { CloudSqlMigration } from "../config/cloudsql";

export interface MemorystoreArgs {
  /** The `redis` section of the migration spec. */
  readonly config: CloudSqlMigration["redis"];
  /** Instance name. */
  readonly instanceName: string;
  readonly project: string;
  readonly region: string;
  /** VPC the app reaches Redis from (private service access). */
  readonly network: string;
  /** Pulumi `protect` (prod). @default false */
  readonly protect?: boolean;
}

/**
 * Memorystore for Redis with AUTH and in-transit TLS. Tier and TLS mode are create-only (changing them
 * replaces the instance and loses its data), so they are right from the first `pulumi up`.
 */
export class Memorystore extends pulumi.ComponentResource {
  public readonly instance: gcp.redis.Instance;
  /** `rediss://:<auth>@<host>:<port>` — a secret. */
  public readonly url: pulumi.Output<string>;
  /** PEM of the server CA clients must trust. */
  public readonly caCert: pulumi.Output<string>;

  constructor(name: string, args: MemorystoreArgs, opts?: pulumi.ComponentResourceOptions) {
    super("cutover:gcp:Memorystore", name, {}, opts);
    this.instance = new gcp.redis.Instance(
      `${name}-instance`,
      {
        name: args.instanceName,
        project: args.project,
        region: args.region,
        tier: args.config.tier,
        memorySizeGb: args.config.memorySizeGb,
        redisVersion: args.config.version,
        authEnabled: true,
        transitEncryptionMode: "SERVER_AUTHENTICATION",
        connectMode: "PRIVATE_SERVICE_ACCESS",
        authorizedNetwork: args.network,
        deletionProtection: true,
        labels: { "managed-by": "cutover" },
      },
      { parent: this, protect: args.protect ?? false },
    );
    this.url = pulumi.secret(
      pulumi.interpolate`rediss://:${this.instance.authString}@${this.instance.host}:${this.instance.port}`,
    );
    this.caCert = this.instance.serverCaCerts.apply((certs) => certs?.[0]?.cert ?? "");
    this.registerOutputs({ host: this.instance.host });
  }
}
