/**
 * Where `--source` / `--target` point. Syntax (documented in the README (cutover check validate)):
 *   postgres://user:pass@host:5432/db   (or postgresql://)
 *   d1:local:<database>[?persist=<dir>&config=<wrangler config>]
 *   d1:remote:<accountId>/<databaseId>  (token from CLOUDFLARE_API_TOKEN)
 */
import { ValidateError } from "./errors";
import { maskText } from "../lib/mask";

export type Endpoint =
  | { readonly kind: "postgres"; readonly url: string; readonly label: string }
  | {
      readonly kind: "d1-local";
      readonly database: string;
      readonly persistDir: string;
      readonly configPath?: string;
      readonly label: string;
    }
  | {
      readonly kind: "d1-remote";
      readonly accountId: string;
      readonly databaseId: string;
      readonly label: string;
    };

const SYNTAX =
  "postgres://user:password@host:5432/database, d1:local:<database>[?persist=<dir>] or d1:remote:<accountId>/<databaseId>";

/** `which` is the flag or variable the value came from, for the error message. */
export function parseEndpoint(value: string, which: string): Endpoint {
  const label = maskText(value);
  if (/^postgres(ql)?:\/\//i.test(value)) {
    try {
      new URL(value);
    } catch {
      throw new ValidateError(
        `${which}: "${label}" is not a valid URL`,
        "percent-encode special characters in the password (e.g. @ as %40)",
      );
    }
    return { kind: "postgres", url: value, label };
  }
  const local = /^d1:local:([^?]+)(?:\?(.*))?$/.exec(value);
  if (local) {
    const options = new URLSearchParams(local[2] ?? "");
    const unknown = [...options.keys()].filter((k) => k !== "persist" && k !== "config");
    if (unknown.length)
      throw new ValidateError(
        `${which}: unknown option ${unknown.map((k) => `"${k}"`).join(", ")} in "${label}"`,
        "d1:local accepts ?persist=<dir> (as given to wrangler --persist-to) and &config=<wrangler config>",
      );
    return {
      kind: "d1-local",
      database: local[1],
      persistDir: options.get("persist") ?? ".wrangler/state",
      configPath: options.get("config") ?? undefined,
      label,
    };
  }
  const remote = /^d1:remote:([a-f0-9]{32})\/([0-9a-f-]{36})$/i.exec(value);
  if (remote) return { kind: "d1-remote", accountId: remote[1], databaseId: remote[2], label };
  throw new ValidateError(
    `${which}: cannot read "${label}"`,
    `expected ${SYNTAX}; a remote D1 needs the 32-character account id and the database uuid`,
  );
}
