import { createPublicKey } from "node:crypto";
import { z } from "zod";

/** Phases shared by every kind: the first and the escape hatch. */
export const CONFIG_KEY = "cutover:migrations";

/** A Pulumi config key (inside the `cutover` namespace) that holds a secret value. */
export const SecretConfigKeySchema = z.string().regex(/^[A-Za-z][A-Za-z0-9_-]*$/, {
  message:
    "expected the name of a Pulumi secret config key such as avvivoSourcePassword; hint: store the value with `pulumi config set --secret <key> …`",
});

/** A reference to an existing Secret Manager secret. */
export const SecretRefSchema = z.strictObject({
  /** Secret Manager secret id (not the value). */
  secret: z.string().regex(/^[A-Za-z0-9_-]{1,255}$/, {
    message: "expected a Secret Manager secret id (letters, digits, '-' and '_')",
  }),
  /** Secret version. @default "latest" */
  version: z
    .string()
    .regex(/^(latest|[1-9][0-9]*)$/)
    .default("latest"),
});
export type SecretRef = z.infer<typeof SecretRefSchema>;

export const PemCertificateSchema = z
  .string()
  .refine(
    (s) => s.trim().startsWith("-----BEGIN CERTIFICATE-----") && s.includes("-----END CERTIFICATE-----"),
    {
      message: "expected a PEM certificate (-----BEGIN CERTIFICATE----- … -----END CERTIFICATE-----)",
    },
  );

export const HostSchema = z
  .string()
  .regex(/^[A-Za-z0-9.:[\]-]+$/, { message: "expected a host name or IP address" });

export const PortSchema = z.number().int().min(1).max(65535);

/** An ISO-8601 instant with a time zone, e.g. 2026-03-01T12:00:00Z. */
export const InstantSchema = z.iso.datetime({
  offset: true,
  message: "expected an ISO-8601 time with a zone, e.g. 2026-03-01T12:00:00Z",
});

/** Ramp of percentages: strictly ascending, each 1..100, ending at 100. */
export const RampSchema = z
  .array(z.number().int().min(1).max(100))
  .min(1)
  .superRefine((steps, ctx) => {
    for (let i = 1; i < steps.length; i++) {
      if (steps[i] <= steps[i - 1]) {
        ctx.addIssue({
          code: "custom",
          path: [i],
          message: `ramp must be strictly ascending (${steps[i - 1]} then ${steps[i]}); hint: e.g. [10, 50, 100]`,
        });
      }
    }
    if (steps[steps.length - 1] !== 100) {
      ctx.addIssue({
        code: "custom",
        path: [steps.length - 1],
        message: `ramp must end at 100 (got ${steps[steps.length - 1]}); hint: the last step sends all traffic`,
      });
    }
  });

export const EnvNameSchema = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, {
  message: "expected an environment variable name (letters, digits, '_')",
});

/** A key earlier versions read and this one refuses, with the message saying where the fact lives now. */
export const retiredKey = (message: string) => z.custom<never>(() => false, { message }).optional();

/** Hours after which gate evidence no longer counts (both kinds). */
export const EvidenceMaxAgeHoursSchema = z
  .number()
  .int()
  .min(1)
  .max(24 * 30)
  .default(24);

/**
 * The Ed25519 public key (PEM, `-----BEGIN PUBLIC KEY-----`) of the pipeline that signs gate evidence.
 * When set, a gate accepts only evidence signed by its private half (CUTOVER_EVIDENCE_SIGNING_KEY, held
 * by the pipeline's environment only); prod stacks must set it.
 */
export const EvidenceSignedBySchema = z
  .string()
  .refine(
    (s) => {
      const t = s.trim();
      if (!t.startsWith("-----BEGIN PUBLIC KEY-----") || !t.endsWith("-----END PUBLIC KEY-----"))
        return false;
      try {
        return createPublicKey(t).asymmetricKeyType === "ed25519";
      } catch {
        return false;
      }
    },
    {
      message:
        "expected an Ed25519 public key in PEM (-----BEGIN PUBLIC KEY----- … -----END PUBLIC KEY-----); hint: cutover evidence keygen prints one",
    },
  )
  .optional();

/** The stack this one follows (staging for prod): no position here until the leader has reached it. */
export const FollowsSchema = z
  .string()
  .regex(/^[A-Za-z0-9_.-]+$/, { message: "expected a stack name such as staging" })
  .optional();

/**
 * An emergency override of "the leader goes first", for one step: the position it opens (as the phase
 * label shows it, e.g. `provision`, `canary:50`) and why. The ledger records the reason with the step.
 */
export const FollowOverrideSchema = z
  .strictObject({
    position: z.string().regex(/^[a-z-]+(:[0-9]{1,3}|:[a-z-]+)?$/, {
      message: "expected a position label such as provision or canary:50",
    }),
    reason: z.string().min(10, {
      message: "expected a reason of at least 10 characters (it is recorded in the ledger)",
    }),
  })
  .optional();

/**
 * What was really deployed, stated by the operator when the phase ledger's recorded state is damaged
 * (the ledger refuses every step until then). Applied by one `pulumi up` and recorded in the ledger's
 * history; refused when the ledger is not damaged, so it must be removed afterwards.
 */
export const LedgerRepairSchema = z
  .strictObject({
    phase: z.string().min(1),
    /** The ramp step, when the phase is the ramp phase. */
    percent: z.number().int().min(0).max(100).optional(),
    /** The phase a rollback left, when the phase is rollback. */
    rollbackFrom: z.string().min(1).optional(),
    /** @default 1 */
    attempt: z.number().int().min(1).max(99).default(1),
    /** Why the ledger lost its state and how what runs was checked: kept in the ledger's history. */
    reason: z
      .string()
      .min(10, { message: "expected a reason of at least 10 characters: it is kept in the ledger" }),
  })
  .optional();

/**
 * What every ramp gate of `cutover advance` has (the canary, the read switch): the bake, the error bound,
 * and the series of judgements before a step counts as failing. Each kind adds its own evidence.
 */
export const rampGateFields = {
  /** Time each ramp step serves before it is judged. @default 10 */
  bakeMinutes: z
    .number()
    .int()
    .min(1)
    .max(24 * 60)
    .default(10),
  /** Highest share of failed requests (or calls) over the bake, in percent. @default 1 */
  maxErrorRatePercent: z.number().min(0).max(100).default(1),
  /** Consecutive failed judgements (fresh evidence each) before the step counts as failing. @default 3 */
  failuresBeforeRollback: z.number().int().min(1).max(20).default(3),
  /** Seconds between those judgements. @default 60 */
  rejudgeSeconds: z.number().int().min(1).max(3600).default(60),
};
