import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";

export interface AppSecretArgs {
  /** Secret Manager secret id. */
  readonly secretId: string;
  readonly project: string;
  /** The value; stored only as a Pulumi secret and a Secret Manager version. */
  readonly value: pulumi.Input<string>;
  /** Service accounts (e-mails) granted `roles/secretmanager.secretAccessor` on this secret only. */
  readonly accessors: readonly string[];
  /** Pulumi `protect` on the secret (prod). @default false */
  readonly protect?: boolean;
}

/** One Secret Manager secret, its current version, and per-secret accessor grants (least privilege). */
export class AppSecret extends pulumi.ComponentResource {
  public readonly secret: gcp.secretmanager.Secret;
  public readonly version: gcp.secretmanager.SecretVersion;
  public readonly secretId: string;

  constructor(name: string, args: AppSecretArgs, opts?: pulumi.ComponentResourceOptions) {
    super("cutover:gcp:AppSecret", name, {}, opts);
    this.secretId = args.secretId;
    this.secret = new gcp.secretmanager.Secret(
      `${name}-secret`,
      {
        secretId: args.secretId,
        project: args.project,
        replication: { auto: {} },
        deletionProtection: true,
        labels: { "managed-by": "cutover" },
      },
      { parent: this, protect: args.protect ?? false },
    );
    this.version = new gcp.secretmanager.SecretVersion(
      `${name}-version`,
      { secret: this.secret.id, secretData: pulumi.secret(args.value) },
      { parent: this },
    );
    for (const email of args.accessors) {
      new gcp.secretmanager.SecretIamMember(
        `${name}-accessor-${email.split("@")[0]}`,
        {
          project: args.project,
          secretId: this.secret.secretId,
          role: "roles/secretmanager.secretAccessor",
          member: `serviceAccount:${email}`,
        },
        { parent: this },
      );
    }
    this.registerOutputs({ secretId: this.secret.secretId });
  }
}
