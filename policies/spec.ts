import { PolicyResource } from "@pulumi/policy";
import { z } from "zod";

/** Type token of the resource through which the program exposes each migration's desired state. */
export const SPEC_RESOURCE_TYPE = "pulumi-nodejs:dynamic:Resource";

const RevisionSpecSchema = z.object({
  name: z.string().min(1),
  role: z.string().min(1),
  /** Which database the revision's DATABASE_URL points at. */
  database: z.enum(["source", "cloudsql"]),
  /** False for the frozen revision (the app's write-block flag is set). */
  writes: z.boolean(),
});

/**
 * Inputs of the `<migration>-spec` dynamic resource (contract with the program, version v1). Unknown keys
 * (such as the dynamic provider's `__provider`) are ignored.
 */
export const MigrationSpecSchema = z.object({
  cutoverSpec: z.literal("v1"),
  migration: z.string().min(1),
  kind: z.enum(["cloudsql", "dual-write"]),
  phase: z.string().min(1),
  attempt: z.number().int().min(1),
  /** True once DMS promotion has been declared (promote and every later phase of that attempt). */
  promoted: z.boolean(),
  /**
   * The instance is a DMS destination whose backups DMS suspends (the engine's phase table says in which
   * phases, rollback included through the phase it left). @default false
   */
  backupsManagedByDms: z.boolean().default(false),
  stableRevision: z.string().optional(),
  revisions: z.array(RevisionSpecSchema).default([]),
  /** Cloud Run service name (kind cloudsql). */
  service: z.string().optional(),
  /** The config marks the service public (allUsers may invoke it). @default false */
  public: z.boolean().default(false),
});
export type MigrationSpec = z.infer<typeof MigrationSpecSchema>;

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
  for (const key of Object.keys(MigrationSpecSchema.shape)) {
    const value = props[key];
    out[key] = key === "revisions" && Array.isArray(value) ? value.map((r) => ({ ...r })) : value;
  }
  return out;
}

/** The Cloud Run service (by its `name` input) a cloudsql spec governs. */
export function serviceOf(spec: MigrationSpec, resources: PolicyResource[]): PolicyResource | undefined {
  return resources.find(
    (r) =>
      r.type === "gcp:cloudrunv2/service:Service" &&
      spec.service !== undefined &&
      r.props.name === spec.service,
  );
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
