import {
  PolicyResource,
  ReportViolation,
  ResourceValidation,
  ResourceValidationPolicy,
  StackValidation,
  StackValidationPolicy,
  UnknownValueError,
} from "@pulumi/policy";

/** The two levels this pack uses; every rule states one explicitly. */
export type Level = "mandatory" | "advisory";

export interface CutoverResourcePolicy extends ResourceValidationPolicy {
  enforcementLevel: Level;
  validateResource: ResourceValidation | ResourceValidation[];
}
export interface CutoverStackPolicy extends StackValidationPolicy {
  enforcementLevel: Level;
}
export type CutoverPolicy = CutoverResourcePolicy | CutoverStackPolicy;

interface PolicyDefinition {
  /** kebab-case, unique in the pack. */
  name: string;
  /** What compliant means (shown in `pulumi preview` and in the README). */
  description: string;
  enforcementLevel: Level;
}

/**
 * True for the error the SDK's input proxy throws when a rule reads a value that is unknown at preview.
 * The name check covers a second copy of @pulumi/policy (e.g. a nested node_modules), where instanceof fails.
 */
export function isUnknownValueError(e: unknown): e is UnknownValueError {
  return e instanceof UnknownValueError || (e instanceof Error && e.constructor.name === "UnknownValueError");
}

/** The property path the proxy was reading, e.g. `settings.ipConfiguration.sslMode`. */
export function unknownPath(e: UnknownValueError): string {
  return (e.props ?? []).map(String).join(".");
}

export function unknownAtPreviewMessage(what: string, e: UnknownValueError): string {
  return (
    `${what} must have a known ${unknownPath(e)} at preview: the value is computed from another ` +
    `resource, so this mandatory check cannot pass; hint: set it from stack config (a literal), ` +
    `not from another resource's output`
  );
}

/**
 * The engine turns an unknown value read by a rule into an *advisory* "can't run policy" note, so a
 * mandatory check would quietly stop blocking. Mandatory rules here fail closed instead.
 */
function failClosed<A>(
  validate: (args: A, report: ReportViolation) => Promise<void> | void,
  describe: (args: A) => string,
): (args: A, report: ReportViolation) => Promise<void> | void {
  const wrapped = (args: A, report: ReportViolation) => {
    const onError = (e: unknown) => {
      if (!isUnknownValueError(e)) throw e;
      report(unknownAtPreviewMessage(describe(args), e));
    };
    try {
      const result = validate(args, report);
      return result instanceof Promise ? result.catch(onError) : result;
    } catch (e) {
      onError(e);
    }
  };
  // Keep the SDK's per-type fast path (validateResourceOfType attaches the type token).
  const token = (validate as { __pulumiType?: string }).__pulumiType;
  if (token !== undefined) Object.assign(wrapped, { __pulumiType: token });
  return wrapped;
}

export function resourcePolicy(
  def: PolicyDefinition & { validateResource: ResourceValidation | ResourceValidation[] },
): CutoverResourcePolicy {
  const guard = (v: ResourceValidation): ResourceValidation =>
    def.enforcementLevel === "mandatory" ? failClosed(v, (a) => describeResource(a.type, a.name)) : v;
  const { validateResource: v } = def;
  return { ...def, validateResource: Array.isArray(v) ? v.map(guard) : guard(v) };
}

export function stackPolicy(def: PolicyDefinition & { validateStack: StackValidation }): CutoverStackPolicy {
  return {
    ...def,
    validateStack:
      def.enforcementLevel === "mandatory"
        ? failClosed(def.validateStack, () => `The stack (policy ${def.name})`)
        : def.validateStack,
  };
}

const FRIENDLY_TYPES: Record<string, string> = {
  "gcp:sql/databaseInstance:DatabaseInstance": "Cloud SQL instance",
  "gcp:redis/instance:Instance": "Memorystore instance",
  "gcp:cloudrunv2/service:Service": "Cloud Run service",
  "gcp:cloudrunv2/job:Job": "Cloud Run job",
  "gcp:cloudrunv2/serviceIamMember:ServiceIamMember": "Cloud Run IAM member",
  "gcp:cloudrunv2/serviceIamBinding:ServiceIamBinding": "Cloud Run IAM binding",
  "gcp:secretmanager/secretIamMember:SecretIamMember": "Secret IAM member",
  "gcp:secretmanager/secretIamBinding:SecretIamBinding": "Secret IAM binding",
  "gcp:projects/iAMMember:IAMMember": "Project IAM member",
  "gcp:projects/iAMBinding:IAMBinding": "Project IAM binding",
  "gcp:databasemigrationservice/connectionProfile:ConnectionProfile": "DMS connection profile",
  "gcp:databasemigrationservice/migrationJob:MigrationJob": "DMS migration job",
};

/** "Cloud SQL instance avvivo-sql": the subject of every message. */
export function describeResource(type: string | undefined, name: string | undefined): string {
  return `${FRIENDLY_TYPES[type ?? ""] ?? type ?? "Resource"} ${name ?? "(unnamed)"}`;
}

/** The stack segment of a URN: urn:pulumi:<stack>::<project>::<type>::<name>. */
export function stackOfUrn(urn: string): string {
  return urn.split("::")[0]?.split(":")[2] ?? "";
}

/** Production stacks get the HA and deletion-protection rules. */
export function isProdStack(urn: string): boolean {
  return /^prod(uction)?(-.*)?$/.test(stackOfUrn(urn));
}

const PRIVATE_RANGES: [number, number][] = [
  [ipv4ToInt("10.0.0.0"), 8],
  [ipv4ToInt("172.16.0.0"), 12],
  [ipv4ToInt("192.168.0.0"), 16],
];

function ipv4ToInt(ip: string): number {
  return ip.split(".").reduce((acc, octet) => acc * 256 + Number(octet), 0);
}

/** True when a CIDR (or bare IPv4) lies entirely inside RFC 1918 space; anything else counts as public. */
export function isPrivateCidr(cidr: string): boolean {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})(?:\/(\d{1,2}))?$/.exec(cidr.trim());
  if (m === null) return false;
  const ip = ipv4ToInt(m[1]);
  const bits = m[2] === undefined ? 32 : Number(m[2]);
  const block = (n: number, prefix: number) => Math.floor(n / 2 ** (32 - prefix));
  return PRIVATE_RANGES.some(([base, prefix]) => bits >= prefix && block(ip, prefix) === block(base, prefix));
}

/** Label a program sets (from config) on a resource that is deliberately reachable on a public IP. */
export const PUBLIC_IP_REASON_LABEL = "cutover-public-ip-reason";

/** Runs `check` per resource so an unknown value fails that resource (with its URN), not the whole rule. */
export function checkEach(
  resources: PolicyResource[],
  report: ReportViolation,
  check: (r: PolicyResource) => void,
): void {
  for (const r of resources) {
    try {
      check(r);
    } catch (e) {
      if (!isUnknownValueError(e)) throw e;
      report(unknownAtPreviewMessage(describeResource(r.type, r.name), e), r.urn);
    }
  }
}
