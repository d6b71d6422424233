import type { z } from "zod";
import { CONFIG_KEY } from "./common";
import { migrationsSchema, type Migrations } from "./schema";
import { secretConfigKeysOf } from "./secrets";

/** One thing wrong in the stack config: where, what was expected, and how to fix it. */
export interface ConfigProblem {
  /** Full config path, e.g. `cutover:migrations.avvivo.trafficPercent`. */
  readonly path: string;
  readonly message: string;
  readonly hint?: string;
}

/** Thrown by {@link parseMigrations}: carries every problem at once. Never contains a secret value. */
export class ConfigError extends Error {
  constructor(
    readonly problems: readonly ConfigProblem[],
    /** The stack file the config came from, when known: it leads the message. */
    readonly source?: string,
  ) {
    super(`${source ? `${source}: ` : ""}${formatProblems(problems)}`);
    this.name = "ConfigError";
  }
}

const DEFAULT_HINTS: Partial<Record<string, string>> = {
  unrecognized_keys: "remove it or fix its spelling (keys are case-sensitive)",
  invalid_type: "see the README's config reference",
};

function joinPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (acc, p) => (typeof p === "number" ? `${acc}[${p}]` : `${acc}.${String(p)}`),
    CONFIG_KEY,
  );
}

function toProblems(issue: z.core.$ZodIssue): ConfigProblem[] {
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map((key) => ({
      path: joinPath([...issue.path, key]),
      message: "unknown key",
      hint: /password|secret|token/i.test(key)
        ? "secrets never go in the migrations map: store them with `pulumi config set --secret <key>` and name that key in passwordSecretKey"
        : DEFAULT_HINTS.unrecognized_keys,
    }));
  }
  if (issue.code === "invalid_union" && issue.errors.length > 0 && "discriminator" in issue) {
    return [
      {
        path: joinPath([...issue.path, "kind"]),
        message: issue.message,
        hint: "set kind to cloudsql or dual-write",
      },
    ];
  }
  if (issue.code === "invalid_key") {
    const inner = issue.issues[0]?.message ?? issue.message;
    return [
      { path: joinPath(issue.path), message: inner.split("; hint: ")[0], hint: inner.split("; hint: ")[1] },
    ];
  }
  let message = issue.message;
  let hint: string | undefined;
  const split = message.indexOf("; hint: ");
  if (split >= 0) {
    hint = message.slice(split + "; hint: ".length);
    message = message.slice(0, split);
  } else if (issue.code === "invalid_type") {
    const missing = /received undefined/.test(message);
    message = missing ? `missing: expected ${issue.expected}` : `expected ${issue.expected}`;
    hint = missing ? "add this key" : DEFAULT_HINTS.invalid_type;
  }
  return [{ path: joinPath(issue.path), message, hint }];
}

/**
 * One message per problem: when zod's own check and a cross-field rule both fail on the same path (a
 * percent of -1 is out of range and not a ramp step), the first — the more basic — is kept.
 */
function onePerPath(problems: ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => (seen.has(p.path) ? false : (seen.add(p.path), true)));
}

/** Renders problems for a terminal: one block per problem, path first. */
export function formatProblems(problems: readonly ConfigProblem[]): string {
  const lines = [`${CONFIG_KEY} is invalid (${problems.length} problem${problems.length === 1 ? "" : "s"}):`];
  for (const p of problems) {
    lines.push(`  ✗ ${p.path}`, `      ${p.message}`);
    if (p.hint) lines.push(`      hint: ${p.hint}`);
  }
  return lines.join("\n");
}

/**
 * Parses and validates the value of `cutover:migrations`. Throws a {@link ConfigError} listing every
 * problem; the error text names config paths and expectations only, never a value from a secret.
 */
export interface ParseOptions {
  /** Clock for the rules that depend on time. @default now */
  readonly now?: Date;
  /**
   * Says whether a full config key (`cutover:avvivoSourcePassword`) holds a plain, non-secret value in the
   * stack. When given, every key the migrations read as a secret must not be plain.
   */
  readonly isPlainValue?: (key: string) => boolean;
}

export function parseMigrations(raw: unknown, opts: ParseOptions = {}): Migrations {
  if (raw === undefined || raw === null) {
    throw new ConfigError([
      {
        path: CONFIG_KEY,
        message: "missing: expected a map from migration name to its spec",
        hint: "see Pulumi.staging.yaml for an example",
      },
    ]);
  }
  const result = migrationsSchema(opts.now).safeParse(raw);
  if (!result.success) throw new ConfigError(onePerPath(result.error.issues.flatMap(toProblems)));
  const plain = opts.isPlainValue;
  if (plain) {
    const problems = Object.entries(result.data).flatMap(([name, spec]) =>
      secretConfigKeysOf(name, spec)
        .filter((s) => plain(s.key))
        .map((s) => ({
          path: joinPath([name, ...s.path]),
          message: `config key ${s.key} holds a plain value; expected a Pulumi secret (the value is not shown)`,
          hint: `pulumi config set --secret ${s.key} <value>, then rotate it: the plain value is in the stack file's history`,
        })),
    );
    if (problems.length > 0) throw new ConfigError(problems);
  }
  return result.data;
}
