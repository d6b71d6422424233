/**
 * The cloudsql spec's service keys: the Cloud Run service the migration moves (and its revisions, write
 * block and migrate job), Memorystore Redis, and the validation gate's Cloud Run Job.
 */
import { z } from "zod";
import { EnvNameSchema, PortSchema, SecretRefSchema } from "./common";

export const CloudRunSchema = z.strictObject({
  /** Existing Cloud Run service (adopted with `pulumi import`). */
  service: z
    .string()
    .regex(/^[a-z]([a-z0-9-]{0,47}[a-z0-9])?$/, { message: "expected a Cloud Run service name" }),
  region: z.string().regex(/^[a-z]+-[a-z]+[0-9]$/, { message: "expected a GCP region such as us-west2" }),
  /** Container image, pinned by tag or digest. */
  image: z.string().regex(/^[a-z0-9.-]+(:[0-9]+)?\/[^\s:@]+(:[\w.-]+|@sha256:[a-f0-9]{64})$/, {
    message: "expected an image reference with a tag or digest, e.g. us-west2-docker.pkg.dev/p/r/app:1.2.3",
  }),
  /** The revision serving 100% today (the rollback target). */
  stableRevision: z.string(),
  /** Dedicated runtime service account e-mail (never the default compute one). */
  serviceAccount: z.email({ message: "expected a service account e-mail" }),
  /** Plain environment (no credentials: those go in secretEnv). */
  env: z.record(EnvNameSchema, z.string()).default({}),
  /** Env vars from Secret Manager, by reference. Must hold DATABASE_URL (and DIRECT_URL) of the source. */
  secretEnv: z.record(EnvNameSchema, SecretRefSchema),
  /** The app's write-block flag (set on the frozen revision). */
  writeBlock: z
    .strictObject({
      name: EnvNameSchema.default("WRITE_FREEZE"),
      value: z.string().default("true"),
      /**
       * A write endpoint smoke may call to see the flag work (the app contract): while the flag is set
       * it answers `refusedStatus`, otherwise 2xx, and it leaves no lasting data. Absent: smoke skips it.
       */
      probe: z
        .strictObject({
          /** @default "POST" */
          method: z.enum(["POST", "PUT", "PATCH", "DELETE"]).default("POST"),
          path: z.string().regex(/^\/[^\s]*$/, { message: "expected a path starting with /" }),
          /** @default 503 */
          refusedStatus: z.number().int().min(400).max(599).default(503),
        })
        .optional(),
    })
    .prefault({}),
  /** @default 8080 */
  port: PortSchema.default(8080),
  /** @default "1" */
  cpu: z.string().default("1"),
  /** @default "512Mi" */
  memory: z.string().default("512Mi"),
  /** @default 1 */
  minInstances: z.number().int().min(0).default(1),
  /** @default 10 */
  maxInstances: z.number().int().min(1).default(10),
  /** Allow unauthenticated invocations (allUsers invoker). @default false */
  public: z.boolean().default(false),
  /**
   * The service already runs (it serves production today): the first `pulumi up` adopts it with the
   * `import` resource option instead of creating it. The program's inputs must then match the running
   * service, or the import fails (preview warns first). Harmless once adopted. @default false
   */
  adopt: z.boolean().default(false),
  /** Command of the one-off migration job (runs in the service image). */
  migrateCommand: z.array(z.string()).min(1).default(["npx", "prisma", "migrate", "deploy"]),
});

export const RedisSchema = z
  .strictObject({
    /** @default "<service>-redis" */
    name: z
      .string()
      .regex(/^[a-z][a-z0-9-]{0,38}[a-z0-9]$/)
      .optional(),
    /** @default 1 */
    memorySizeGb: z.number().int().min(1).max(300).default(1),
    /** Create-only in Memorystore: changing it replaces the instance. @default "STANDARD_HA" */
    tier: z.enum(["BASIC", "STANDARD_HA"]).default("STANDARD_HA"),
    /** @default "REDIS_7_2" */
    version: z.enum(["REDIS_6_X", "REDIS_7_0", "REDIS_7_2"]).default("REDIS_7_2"),
    /** @default "avvivo" */
    keyPrefix: z.string().min(1).default("avvivo"),
    /** @default "chat:events" */
    channel: z.string().min(1).default("chat:events"),
  })
  .prefault({});

/**
 * The validation gate as a Cloud Run Job inside the VPC: `validate --shard auto` in parallel tasks, each
 * one slice of every critical table, reaching the source as the app does and Cloud SQL on its private
 * IP, with both URLs from Secret Manager. Declared in the phases gated on validation.
 */
export const ValidationSchema = z
  .strictObject({
    /** An image built from this repository (its Dockerfile): the job runs `validate` in it. */
    image: z.string().min(1),
    /** Parallel tasks, each checking one slice of every table. @default 4 */
    tasks: z.number().int().min(1).max(1000).default(4),
    /** @default "1" */
    cpu: z.string().default("1"),
    /** @default "512Mi" (validate's peak is ~120 MiB) */
    memory: z.string().default("512Mi"),
    /** Longest a task may run. @default 3600 */
    timeoutSeconds: z
      .number()
      .int()
      .min(60)
      .max(24 * 3600)
      .default(3600),
  })
  .optional();
