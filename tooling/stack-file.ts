import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parse } from "yaml";
import { CONFIG_KEY } from "../infra/config/common";
import { ConfigError, parseMigrations } from "../infra/config/load";
import type { Migration, MigrationKind, Migrations } from "../infra/config/schema";
import { RAMP, type MigrationKindName } from "../infra/engine/transitions";
import { StackFileError } from "./stack-file-error";
import type { PhaseChoice } from "./phase-token";

export { StackFileError } from "./stack-file-error";
export { parsePhaseToken, type PhaseChoice } from "./phase-token";

/** What a `secure:` value reads as offline: the stack file's ciphertext is never used. */
export const SECRET = "[secret]";

/** The config of a stack file, with every `secure:` value replaced by an opaque placeholder. */
export interface StackConfig {
  readonly stack: string;
  readonly path: string;
  readonly config: Record<string, unknown>;
  /** Keys whose values were `secure:` (Pulumi secrets). */
  readonly secretKeys: readonly string[];
  /** Secret keys whose `secure:` text is not a ciphertext the Pulumi CLI wrote (a committed placeholder). */
  readonly placeholderSecrets: readonly string[];
}

/**
 * Whether a `secure:` value has the shape of a ciphertext the Pulumi CLI writes: `v1:<nonce>:<data>` in
 * base64 (the passphrase provider) or one base64 blob (Pulumi Cloud and the cloud KMS providers). The
 * placeholders committed with the example stacks have neither shape.
 */
export function looksLikeCiphertext(value: unknown): boolean {
  if (typeof value !== "string") return false;
  const b64 = "[A-Za-z0-9+/]+={0,2}";
  return new RegExp(`^(v1:${b64}:${b64}|${b64})$`).test(value) && value.length >= 24;
}

/**
 * Reads `Pulumi.<stack>.yaml` from `dir` (or a path ending in .yaml). Secrets stay encrypted: nothing
 * here ever needs their values.
 */
export function readStackConfig(stack: string, dir = process.cwd()): StackConfig {
  const asPath = /\.ya?ml$/.test(stack);
  const path = asPath ? resolve(dir, stack) : join(dir, `Pulumi.${stack}.yaml`);
  if (!asPath && !/^[A-Za-z0-9_.-]+$/.test(stack))
    throw new StackFileError(`invalid stack name "${stack}"; hint: e.g. staging`);
  if (!existsSync(path)) {
    throw new StackFileError(
      `stack file ${path} not found; hint: stacks in ${dirname(path)} are ${listStacks(dirname(path)).join(", ") || "none"} (run from the project folder or pass --stack <name>)`,
    );
  }
  return stackConfigOf(stack, path, readFileSync(path, "utf8"));
}

/** Deeper than any stack file needs; past it the YAML parser would exhaust the stack. */
export const MAX_YAML_DEPTH = 64;

/** Parses the text of a stack file (read from disk, or from git at another ref). */
export function stackConfigOf(stack: string, path: string, text: string): StackConfig {
  let doc: unknown;
  try {
    doc = parse(text, { maxAliasCount: 100 });
  } catch (e) {
    if (e instanceof RangeError || depthOf(text) > MAX_YAML_DEPTH)
      throw new StackFileError(
        `${path} is nested too deeply to be a stack file (more than ${MAX_YAML_DEPTH} levels); hint: look for a runaway indentation or a flow collection that never closes`,
      );
    throw new StackFileError(`${path} is not valid YAML: ${(e as Error).message.split("\n")[0]}`);
  }
  const raw = (doc as { config?: Record<string, unknown> } | null)?.config ?? {};
  const config: Record<string, unknown> = {};
  const secretKeys: string[] = [];
  const placeholderSecrets: string[] = [];
  for (const [key, value] of Object.entries(raw)) {
    if (value !== null && typeof value === "object" && "secure" in value) {
      config[key] = SECRET;
      secretKeys.push(key);
      if (!looksLikeCiphertext((value as { secure: unknown }).secure)) placeholderSecrets.push(key);
    } else config[key] = value;
  }
  return { stack, path, config, secretKeys, placeholderSecrets };
}

/** Deepest bracket nesting of flow collections: a cheap bound that needs no parser. */
function depthOf(text: string): number {
  let depth = 0;
  let max = 0;
  for (const ch of text) {
    if (ch === "[" || ch === "{") max = Math.max(max, ++depth);
    else if (ch === "]" || ch === "}") depth = Math.max(0, depth - 1);
  }
  return max;
}

export function listStacks(dir = process.cwd()): string[] {
  return readdirSync(dir)
    .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
    .filter((s): s is string => s !== undefined)
    .sort();
}

/** Returns a copy of the config with one migration moved to another phase (the file is not touched). */
export function withPhase(stack: StackConfig, migration: string, choice: PhaseChoice): StackConfig {
  const migrations = structuredClone(
    (stack.config[CONFIG_KEY] ?? {}) as Record<string, Record<string, unknown>>,
  );
  const spec = migrations[migration];
  if (spec === undefined || typeof spec !== "object") {
    throw new StackFileError(
      `${stack.path} has no migration "${migration}" under ${CONFIG_KEY}; hint: migrations here are ${Object.keys(migrations).join(", ") || "none"}`,
    );
  }
  spec.phase = choice.phase;
  const ramp = RAMP[spec.kind as MigrationKindName] ?? RAMP.cloudsql;
  if (choice.percent !== undefined) spec[ramp.percentKey] = choice.percent;
  else if (choice.phase !== ramp.phase) delete spec[ramp.percentKey];
  if (choice.from !== undefined) spec.rollbackFrom = choice.from;
  else if (choice.phase !== "rollback") delete spec.rollbackFrom;
  return { ...stack, config: { ...stack.config, [CONFIG_KEY]: migrations } };
}

/** A copy of the config with one migration at a position (phase, ramp step, rollback origin, attempt). */
export function atPosition(
  stack: StackConfig,
  migration: string,
  p: { phase: string; percent?: number; rollbackFrom?: string; attempt: number },
): StackConfig {
  const moved = withPhase(stack, migration, { phase: p.phase, percent: p.percent, from: p.rollbackFrom });
  const spec = (moved.config[CONFIG_KEY] as Record<string, Record<string, unknown>>)[migration];
  if (spec.kind === "cloudsql") spec.attempt = p.attempt;
  return moved;
}

/** A stack file read and validated: every migration parsed once, secrets checked to be `secure:`. */
export interface LoadedStack {
  readonly file: StackConfig;
  readonly migrations: Migrations;
}

/**
 * The one loader of stack files for the scripts: reads, parses and validates `cutover:migrations`.
 * A bad config throws a ConfigError whose message starts with the file's path.
 */
export function loadStack(stack: string, opts: { dir?: string; now?: Date } = {}): LoadedStack {
  const file = readStackConfig(stack, opts.dir);
  try {
    const migrations = parseMigrations(file.config[CONFIG_KEY], {
      now: opts.now,
      isPlainValue: (key) => key in file.config && !file.secretKeys.includes(key),
    });
    return { file, migrations };
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(e.problems, file.path);
    throw e;
  }
}

type MigrationOf<K> = K extends MigrationKind ? Extract<Migration, { kind: K }> : Migration;

/** One migration of a stack file, of the kind a command works on (`purpose` says why, in the refusal). */
export function loadMigration<K extends MigrationKind | undefined = undefined>(
  stack: string,
  name: string,
  opts: { dir?: string; now?: Date; kind?: K; purpose?: string } = {},
): MigrationOf<K> {
  const { file, migrations } = loadStack(stack, opts);
  const spec = migrations[name];
  if (spec === undefined)
    throw new StackFileError(
      `${file.path} has no migration "${name}" under ${CONFIG_KEY}; hint: migrations here are ${Object.keys(migrations).join(", ") || "none"}`,
    );
  if (opts.kind !== undefined && spec.kind !== opts.kind)
    throw new StackFileError(
      `migration "${name}" is of kind ${spec.kind}; hint: ${opts.purpose ?? `this command works on kind ${opts.kind}`}`,
    );
  return spec as MigrationOf<K>;
}
