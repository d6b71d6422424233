import {
  PolicyResource,
  ReportViolation,
  ResourceValidationArgs,
  StackValidationArgs,
  unknownCheckingProxy,
} from "@pulumi/policy";
// Internal module of the SDK (its typings are stripped): the sentinel the engine sends for unknowns.
import * as proxyModule from "@pulumi/policy/proxy";
import { PACK, POLICIES } from "./registry";
import { CutoverPolicy, isUnknownValueError, Level } from "./support";

/** One resource as the offline plan synthesizes it (inputs as declared by the program). */
export interface PlannedResource {
  readonly type: string;
  readonly name: string;
  readonly urn: string;
  readonly inputs: Record<string, unknown>;
  /** URN of the parent resource. */
  readonly parent?: string;
}

export interface PolicyFinding {
  policy: string;
  level: Level;
  /** The offending resource; "" for a stack-wide finding. */
  urn: string;
  message: string;
}

export interface EvaluateOptions {
  /**
   * The placeholder the synthesizer writes for values unknown at preview; it becomes the engine's
   * unknown sentinel, so rules meet unknowns exactly as under `pulumi preview`. @default "[unknown]"
   */
  unknownMarker?: string;
}

const ENGINE_UNKNOWN = (proxyModule as unknown as { unknownStringValue: string }).unknownStringValue;

class NotApplicable extends Error {}

type ResourceClass = { __pulumiType?: string };

const isTypeOf = (type: string) => (cls: object) => (cls as ResourceClass).__pulumiType === type;

const OPTIONS = (parent?: string) => ({
  protect: false,
  ignoreChanges: [],
  aliases: [],
  customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
  additionalSecretOutputs: [],
  ...(parent === undefined ? {} : { parent }),
});

function markUnknowns(value: unknown, marker: string): unknown {
  if (value === marker) return ENGINE_UNKNOWN;
  if (Array.isArray(value)) return value.map((v) => markUnknowns(v, marker));
  if (value !== null && typeof value === "object")
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, markUnknowns(v, marker)]));
  return value;
}

/** Like the engine: top-level undefined inputs are absent, and every read of an unknown value throws. */
function proxiedInputs(inputs: Record<string, unknown>, marker: string): Record<string, unknown> {
  const present = Object.entries(inputs).filter(([, v]) => v !== undefined);
  return unknownCheckingProxy(markUnknowns(Object.fromEntries(present), marker)) as Record<string, unknown>;
}

const common = {
  stackTags: new Map<string, string>() as ReadonlyMap<string, string>,
  getConfig: <T extends object>() => ({}) as T,
  notApplicable: (reason?: string): never => {
    throw new NotApplicable(reason);
  },
};

/**
 * Runs the pack's rule objects over planned resources outside the Pulumi engine, with the engine's
 * semantics: inputs behind the unknown-checking proxy, "not applicable" ignored, and an unknown value
 * that escapes a rule reported as an advisory "can't run" note. Mandatory findings come first.
 */
export function evaluatePolicies(
  resources: readonly PlannedResource[],
  policies: readonly CutoverPolicy[] = POLICIES,
  options: EvaluateOptions = {},
): PolicyFinding[] {
  const marker = options.unknownMarker ?? "[unknown]";
  const findings: PolicyFinding[] = [];
  const stackUrn = resources.find((r) => r.type === "pulumi:pulumi:Stack")?.urn ?? "";
  for (const policy of policies) {
    const run = (validate: () => unknown, defaultUrn: string) => {
      try {
        if (validate() instanceof Promise)
          throw new Error(
            `policy ${policy.name} is asynchronous; evaluatePolicies runs synchronous rules only`,
          );
      } catch (e) {
        if (e instanceof NotApplicable) return;
        if (!isUnknownValueError(e)) throw e;
        findings.push({
          policy: policy.name,
          level: "advisory",
          urn: defaultUrn,
          message: `can't run policy '${policy.name}' from policy pack '${PACK.name}@v${PACK.version}' during preview: ${e.message}`,
        });
      }
    };
    const reporter =
      (defaultUrn: string): ReportViolation =>
      (message, urn) =>
        findings.push({
          policy: policy.name,
          level: policy.enforcementLevel,
          urn: urn ?? defaultUrn,
          message,
        });

    if ("validateStack" in policy) {
      const args: StackValidationArgs = { resources: stackResources(resources, marker), ...common };
      run(() => policy.validateStack(args, reporter(stackUrn)), stackUrn);
      continue;
    }
    const validations = [policy.validateResource].flat();
    for (const r of resources) {
      for (const validate of validations) {
        const props = proxiedInputs(r.inputs, marker);
        const args: ResourceValidationArgs = {
          type: r.type,
          name: r.name,
          urn: r.urn,
          props,
          opts: OPTIONS(r.parent),
          isType: isTypeOf(r.type),
          asType: ((cls: object) => (isTypeOf(r.type)(cls) ? props : undefined)) as never,
          ...common,
        };
        run(() => validate(args, reporter(r.urn)), r.urn);
      }
    }
  }
  const rank = (f: PolicyFinding) => (f.level === "mandatory" ? 0 : 1);
  return findings.sort((a, b) => rank(a) - rank(b));
}

/** The engine's view of the stack: proxied props and parents linked by URN. */
function stackResources(resources: readonly PlannedResource[], marker: string): PolicyResource[] {
  const byUrn = new Map<string, PolicyResource>();
  for (const r of resources) {
    const props = proxiedInputs(r.inputs, marker);
    byUrn.set(r.urn, {
      type: r.type,
      name: r.name,
      urn: r.urn,
      props,
      opts: OPTIONS(r.parent),
      dependencies: [],
      propertyDependencies: {},
      isType: isTypeOf(r.type),
      asType: ((cls: object) => (isTypeOf(r.type)(cls) ? props : undefined)) as never,
    });
  }
  for (const r of resources) {
    const parent = r.parent === undefined ? undefined : byUrn.get(r.parent);
    if (parent !== undefined) byUrn.get(r.urn)!.parent = parent;
  }
  return [...byUrn.values()];
}
