// Per-module imports: the pack is type-checked by ts-node at start-up, and the whole @pulumi/gcp
// index costs ~20 s more than the modules the rules use.
import { Instance } from "@pulumi/gcp/redis/instance";
import { validateResourceOfType } from "@pulumi/policy";
import { CutoverPolicy, describeResource, isProdStack, resourcePolicy } from "./support";

const REDIS = Instance;

export const redisAuthEnabled = resourcePolicy({
  name: "redis-auth-enabled",
  description: "Memorystore for Redis requires AUTH (authEnabled true).",
  enforcementLevel: "mandatory",
  validateResource: validateResourceOfType(REDIS, (redis, args, report) => {
    if (redis.authEnabled !== true)
      report(
        `${describeResource(args.type, args.name)} must require AUTH: authEnabled is ${redis.authEnabled ?? "not set (false)"}; hint: authEnabled: true, and read the AUTH string into a secret`,
      );
  }),
});

export const redisTransitEncryption = resourcePolicy({
  name: "redis-transit-encryption",
  description:
    "Memorystore for Redis encrypts traffic (transitEncryptionMode SERVER_AUTHENTICATION). Create-only: changing it later replaces the instance.",
  enforcementLevel: "mandatory",
  validateResource: validateResourceOfType(REDIS, (redis, args, report) => {
    if (redis.transitEncryptionMode !== "SERVER_AUTHENTICATION")
      report(
        `${describeResource(args.type, args.name)} must use in-transit TLS: transitEncryptionMode is ${redis.transitEncryptionMode ?? "not set (DISABLED)"}, expected SERVER_AUTHENTICATION; hint: it is create-only, set it before the instance exists (clients then use rediss:// and the server CA)`,
      );
  }),
});

export const redisStandardHaInProd = resourcePolicy({
  name: "redis-standard-ha-in-prod",
  description:
    "In prod stacks, Memorystore for Redis is STANDARD_HA (tier is create-only: changing it replaces the instance).",
  enforcementLevel: "mandatory",
  validateResource: validateResourceOfType(REDIS, (redis, args, report) => {
    if (isProdStack(args.urn) && redis.tier !== "STANDARD_HA")
      report(
        `${describeResource(args.type, args.name)} must be STANDARD_HA in prod: tier is ${redis.tier ?? "not set (BASIC)"}; hint: tier is create-only, choose STANDARD_HA from the start`,
      );
  }),
});

export const MEMORYSTORE_POLICIES: CutoverPolicy[] = [
  redisAuthEnabled,
  redisTransitEncryption,
  redisStandardHaInProd,
];
