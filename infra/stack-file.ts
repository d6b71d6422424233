import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { CONFIG_KEY } from "./config/common";
import { SECRET } from "./synth";

/** The config of a stack file, with every `secure:` value replaced by an opaque placeholder. */
export interface StackConfig {
  readonly stack: string;
  readonly path: string;
  readonly config: Record<string, unknown>;
  /** Keys whose values were `secure:` (Pulumi secrets). */
  readonly secretKeys: readonly string[];
}

/** Thrown for a missing or unreadable stack file; the message says which file and what to do. */
export class StackFileError extends Error {
  override name = "StackFileError";
}

/** Reads `Pulumi.<stack>.yaml` from `dir`. Secrets stay encrypted: the plan never needs their values. */
export function readStackConfig(stack: string, dir = process.cwd()): StackConfig {
  const path = join(dir, `Pulumi.${stack}.yaml`);
  if (!/^[A-Za-z0-9_.-]+$/.test(stack))
    throw new StackFileError(`invalid stack name "${stack}"; hint: e.g. staging`);
  if (!existsSync(path)) {
    throw new StackFileError(
      `no stack file ${path}; hint: stacks here are ${listStacks(dir).join(", ") || "none"}`,
    );
  }
  let doc: unknown;
  try {
    doc = parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new StackFileError(`${path} is not valid YAML: ${(e as Error).message.split("\n")[0]}`);
  }
  const raw = (doc as { config?: Record<string, unknown> } | null)?.config ?? {};
  const config: Record<string, unknown> = {};
  const secretKeys: string[] = [];
  for (const [key, value] of Object.entries(raw)) {
    if (value !== null && typeof value === "object" && "secure" in value) {
      config[key] = SECRET;
      secretKeys.push(key);
    } else config[key] = value;
  }
  return { stack, path, config, secretKeys };
}

export function listStacks(dir = process.cwd()): string[] {
  return readdirSync(dir)
    .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
    .filter((s): s is string => s !== undefined)
    .sort();
}

/** A phase as written on the command line: `canary`, `canary:50` (percent) or `rollback:canary` (from). */
export interface PhaseChoice {
  readonly phase: string;
  readonly percent?: number;
  readonly from?: string;
}

export function parsePhaseToken(token: string): PhaseChoice {
  const [phase, arg, extra] = token.split(":");
  if (!phase || extra !== undefined)
    throw new StackFileError(`invalid phase "${token}"; hint: e.g. canary:50 or rollback:canary`);
  if (arg === undefined) return { phase };
  if (/^[0-9]+$/.test(arg)) return { phase, percent: Number(arg) };
  return { phase, from: arg };
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
  const percentKey = spec.kind === "dual-write" ? "readPercent" : "trafficPercent";
  if (choice.percent !== undefined) spec[percentKey] = choice.percent;
  if (choice.from !== undefined) spec.rollbackFrom = choice.from;
  else if (choice.phase !== "rollback") delete spec.rollbackFrom;
  return { ...stack, config: { ...stack.config, [CONFIG_KEY]: migrations } };
}
