/** How data reaches Cloud SQL: the two replication paths and their own settings. */
import { z } from "zod";

/**
 * How data reaches Cloud SQL. `dms`: Database Migration Service, which needs pglogical on the source (a
 * self-managed PostgreSQL, Cloud SQL, RDS). `logical`: PostgreSQL's own publication on the source and a
 * subscription on Cloud SQL, for sources that offer no pglogical and no superuser (Supabase).
 */
export const REPLICATION_MODES = ["dms", "logical"] as const;
export type ReplicationMode = (typeof REPLICATION_MODES)[number];

/** Settings of `replication: logical` (ignored with dms). */
export const LogicalSchema = z
  .strictObject({
    /** Schemas published and copied (Supabase's own auth, storage… stay behind). @default ["public"] */
    schemas: z
      .array(
        z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, { message: "expected a PostgreSQL schema name" }),
      )
      .min(1)
      .default(["public"]),
    /**
     * Longest wait at promote for Cloud SQL to confirm the source position taken after the freeze, in
     * seconds; past it nothing is stopped and the step fails. @default 300
     */
    catchUpTimeoutSeconds: z.number().int().min(10).max(3600).default(300),
  })
  .prefault({});

export const DmsSchema = z
  .strictObject({
    /** How DMS reaches the source. Supabase is on the internet: static IP allow-listing. @default "static-ip" */
    connectivity: z.enum(["static-ip", "vpc-peering"]).default("static-ip"),
    /** @default "OPTIMAL" */
    dumpParallelLevel: z.enum(["MIN", "OPTIMAL", "MAX"]).default("OPTIMAL"),
    /** Databases DMS migrates. @default ["postgres"] */
    databases: z.array(z.string().min(1)).min(1).default(["postgres"]),
    /** REST endpoint of DMS (overridable for tests). @default "https://datamigration.googleapis.com" */
    endpoint: z.url().default("https://datamigration.googleapis.com"),
    /**
     * Promote a job DMS still reports in phase CDC (PostgreSQL jobs may never report READY_FOR_PROMOTE):
     * only with writes frozen and replication delay ≈ 0. @default false
     */
    allowPromoteFromCdc: z.boolean().default(false),
    /** Longest wait for the promote operation, in minutes. @default 60 */
    promoteTimeoutMinutes: z.number().int().min(1).max(240).default(60),
  })
  .prefault({});
