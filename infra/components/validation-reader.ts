import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { READER_ROLE, readerGrantSql, scramVerifier } from "../engine/reader";
import { AppSecret } from "./app-secret";

export interface ValidationReaderArgs {
  readonly project: string;
  /** Who reads the two secrets: the app's service account (the jobs run as it). */
  readonly accessors: readonly string[];
  readonly protect?: boolean;
  readonly privateIp: pulumi.Input<string>;
  /** The migrated database on Cloud SQL. */
  readonly database: string;
  readonly secretIds: { readonly url: string; readonly grant: string };
}

/**
 * The validation job's own database identity (`infra/engine/reader.ts`): a random password, the URL the
 * job connects with, and the SQL the reader-grant job runs as the app user to create the role and give
 * it SELECT on what DMS owns. Both live in Secret Manager only; the SQL carries a SCRAM verifier, never
 * the password. Declared with the instance, so the secrets outlive the phases whose jobs use them.
 */
export class ValidationReader extends pulumi.ComponentResource {
  constructor(name: string, args: ValidationReaderArgs, opts?: pulumi.ComponentResourceOptions) {
    super("cutover:gcp:ValidationReader", name, {}, opts);
    const child = { parent: this };
    // Protected like the app user's password in prod: a new one would lock the job out mid-migration.
    const kept = { parent: this, protect: args.protect ?? false };
    const password = new random.RandomPassword(`${name}-password`, { length: 32, special: false }, kept);
    const salt = new random.RandomId(`${name}-salt`, { byteLength: 16 }, kept);
    const common = { project: args.project, accessors: args.accessors, protect: args.protect ?? false };
    new AppSecret(
      `${name}-url`,
      {
        ...common,
        secretId: args.secretIds.url,
        value: pulumi.interpolate`postgresql://${READER_ROLE}:${password.result}@${args.privateIp}:5432/${args.database}?sslmode=require`,
      },
      child,
    );
    new AppSecret(
      `${name}-grant`,
      {
        ...common,
        secretId: args.secretIds.grant,
        value: pulumi
          .all([password.result, salt.b64Std])
          .apply(([p, s]) => readerGrantSql(scramVerifier(p, Buffer.from(s, "base64")))),
      },
      child,
    );
    this.registerOutputs({});
  }
}
