import { PolicyResource } from "@pulumi/policy";
import { MigrationSpecSchema, SPEC_KEYS, SPEC_RESOURCE_TYPE, type MigrationSpec } from "../contract/spec";

export { SPEC_RESOURCE_TYPE, type MigrationSpec } from "../contract/spec";

export interface FoundSpec {
  resource: PolicyResource;
  spec: MigrationSpec;
}
export interface MalformedSpec {
  resource: PolicyResource;
  problems: string[];
}

/** A dynamic resource whose inputs say `cutoverSpec: ...` is a migration spec (whatever its version). */
export function declaresSpec(r: PolicyResource): boolean {
  return r.type === SPEC_RESOURCE_TYPE && r.props.cutoverSpec !== undefined;
}

/** Every migration spec in the stack, parsed; malformed ones are returned apart, never silently dropped. */
export function readSpecs(resources: PolicyResource[]): { specs: FoundSpec[]; malformed: MalformedSpec[] } {
  const specs: FoundSpec[] = [];
  const malformed: MalformedSpec[] = [];
  for (const resource of resources.filter(declaresSpec)) {
    const parsed = MigrationSpecSchema.safeParse(plain(resource.props));
    if (parsed.success) specs.push({ resource, spec: parsed.data });
    else
      malformed.push({
        resource,
        problems: parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`),
      });
  }
  return { specs, malformed };
}

/**
 * Copies the fields the schema reads out of the SDK's proxy, so an unknown value throws here (where the
 * rule's fail-closed wrapper sees it) rather than somewhere inside zod.
 */
function plain(props: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of SPEC_KEYS) {
    const value = props[key];
    out[key] = key === "revisions" && Array.isArray(value) ? value.map((r) => ({ ...r })) : value;
  }
  return out;
}

/** The Cloud Run service (by its `name` input) a cloudsql spec governs. */
export function serviceOf(spec: MigrationSpec, resources: PolicyResource[]): PolicyResource | undefined {
  if (spec.kind !== "cloudsql") return undefined;
  return resources.find((r) => r.type === "gcp:cloudrunv2/service:Service" && r.props.name === spec.service);
}

/** True when `ancestor` is `r` or one of its parents. */
export function isWithin(r: PolicyResource, ancestor: PolicyResource): boolean {
  for (let p: PolicyResource | undefined = r; p !== undefined; p = p.parent)
    if (p.urn === ancestor.urn) return true;
  return false;
}

/**
 * Whether a resource belongs to the migration a spec describes: it shares the spec's parent component
 * (when that is not the stack itself), or, failing that, its name carries the `<migration>-` prefix.
 */
export function belongsTo(r: PolicyResource, found: FoundSpec): boolean {
  const owner = found.resource.parent;
  if (owner !== undefined && owner.type !== "pulumi:pulumi:Stack" && isWithin(r, owner)) return true;
  return r.name.startsWith(`${found.spec.migration}-`);
}
