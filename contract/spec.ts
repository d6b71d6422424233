/**
 * The migration spec: what the program publishes about each migration (a `<migration>-spec` dynamic
 * resource) and what the policy pack reads. One zod schema, discriminated by kind; the component that
 * publishes it and the pack that parses it both import it. Pure: no Pulumi, nothing of ours.
 */
import { z } from "zod";

/** Type token of the resources through which the program exposes specs and ledgers. */
export const SPEC_RESOURCE_TYPE = "pulumi-nodejs:dynamic:Resource";

const RevisionSpecSchema = z.object({
  name: z.string().min(1),
  role: z.string().min(1),
  /** Which database the revision's DATABASE_URL points at. */
  database: z.enum(["source", "cloudsql"]),
  /** False for the frozen revision (the app's write-block flag is set). */
  writes: z.boolean(),
});

const common = {
  /** Contract version; the pack refuses another. */
  cutoverSpec: z.literal("v1"),
  migration: z.string().min(1),
  phase: z.string().min(1),
  /** For rollback, the phase being left; else the phase. */
  basePhase: z.string().min(1),
};

export const CloudSqlSpecSchema = z.object({
  ...common,
  kind: z.literal("cloudsql"),
  attempt: z.number().int().min(1),
  /** True once DMS promotion has happened (promote and every later phase of that attempt). */
  promoted: z.boolean(),
  /** The instance is a DMS destination whose backups DMS suspends (from the engine's phase table). */
  backupsManagedByDms: z.boolean().default(false),
  /** Cloud Run service name (the pack reports a spec without one). */
  service: z.string().optional(),
  /** The config marks the service public (allUsers may invoke it). */
  public: z.boolean().default(false),
  /** The revision serving before the cutover, the rollback target (the pack reports a spec without one). */
  stableRevision: z.string().optional(),
  revisions: z.array(RevisionSpecSchema).default([]),
});

export const DualWriteSpecSchema = z.object({
  ...common,
  kind: z.literal("dual-write"),
  /** D1 databases declared in this phase. */
  d1: z.array(z.string().min(1)),
  writeMode: z.enum(["legacy", "dual", "new"]).optional(),
  readPercent: z.number().int().min(0).max(100).optional(),
});

/** Unknown keys (such as the dynamic provider's `__provider`) are ignored. */
export const MigrationSpecSchema = z.discriminatedUnion("kind", [CloudSqlSpecSchema, DualWriteSpecSchema]);
export type MigrationSpec = z.infer<typeof MigrationSpecSchema>;
export type CloudSqlSpec = z.infer<typeof CloudSqlSpecSchema>;

/** Every key either kind's spec may carry: what the pack copies out of the SDK's proxy. */
export const SPEC_KEYS: readonly string[] = [
  ...new Set([...Object.keys(CloudSqlSpecSchema.shape), ...Object.keys(DualWriteSpecSchema.shape)]),
];
