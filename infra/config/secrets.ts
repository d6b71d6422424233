import type { Path } from "./rule-kit";
import type { Migration } from "./schema";

/** The Pulumi config key (in the `cutover` namespace) holding a cloudsql migration's source password. */
export function sourcePasswordKeyOf(name: string, spec: Extract<Migration, { kind: "cloudsql" }>): string {
  return spec.source.passwordSecretKey ?? `${name}SourcePassword`;
}

/** A config key the program or the scripts read as a secret, and the spec field that names it. */
export interface SecretConfigKey {
  /** Full key, `namespace:key`. */
  readonly key: string;
  readonly path: Path;
}

/** Every config key a migration reads as a secret: each must be stored with `pulumi config set --secret`. */
export function secretConfigKeysOf(name: string, spec: Migration): SecretConfigKey[] {
  switch (spec.kind) {
    case "cloudsql":
      // Only DMS's connection profile takes the password; the logical path's jobs read the app's own
      // source URL from Secret Manager.
      return spec.replication === "dms"
        ? [{ key: `cutover:${sourcePasswordKeyOf(name, spec)}`, path: ["source", "passwordSecretKey"] }]
        : [];
    case "dual-write":
      return [
        { key: `cutover:${spec.legacy.passwordSecretKey}`, path: ["legacy", "passwordSecretKey"] },
        { key: `cutover:${spec.target.passwordSecretKey}`, path: ["target", "passwordSecretKey"] },
        { key: "cloudflare:apiToken", path: ["cloudflare"] },
      ];
    default: {
      const unreachable: never = spec;
      throw new Error(`unknown migration kind ${JSON.stringify(unreachable)}`);
    }
  }
}
