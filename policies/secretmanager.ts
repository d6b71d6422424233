// Per-module imports: the pack is type-checked by ts-node at start-up, and the whole @pulumi/gcp
// index costs ~20 s more than the modules the rules use.
import { IAMBinding } from "@pulumi/gcp/projects/iambinding";
import { IAMMember } from "@pulumi/gcp/projects/iammember";
import { SecretIamBinding } from "@pulumi/gcp/secretmanager/secretIamBinding";
import { SecretIamMember } from "@pulumi/gcp/secretmanager/secretIamMember";
import { validateResourceOfType } from "@pulumi/policy";
import { CutoverPolicy, describeResource, resourcePolicy } from "./support";

/** A named service account: `serviceAccount:<name>@<project>.iam.gserviceaccount.com` (or another SA domain). */
const NAMED_SERVICE_ACCOUNT = /^serviceAccount:[a-z0-9-]+@[a-z0-9.-]+\.gserviceaccount\.com$/;
/** Roles that let the holder read secret values. */
const READER_ROLES = ["roles/secretmanager.secretAccessor", "roles/secretmanager.admin"];

function memberProblem(member: string | undefined): string | undefined {
  if (member === undefined || member === "") return "member is not set";
  if (member === "allUsers" || member === "allAuthenticatedUsers") return `${member} makes the secret public`;
  if (!NAMED_SERVICE_ACCOUNT.test(member)) return `${member} is not a named service account`;
  return undefined;
}

export const secretAccessorNamedServiceAccounts = resourcePolicy({
  name: "secretmanager-accessor-named-service-accounts",
  description:
    "Secret Manager grants are made per secret (SecretIamMember/SecretIamBinding) to named service accounts only: no allUsers, allAuthenticatedUsers, users, groups or domains.",
  enforcementLevel: "mandatory",
  validateResource: [
    validateResourceOfType(SecretIamMember, (grant, args, report) => {
      const problem = memberProblem(grant.member);
      if (problem !== undefined)
        report(
          `${describeResource(args.type, args.name)} must grant ${grant.role} to a named service account only: ${problem}; hint: member: serviceAccount:<runtime-sa>@<project>.iam.gserviceaccount.com`,
        );
    }),
    validateResourceOfType(SecretIamBinding, (binding, args, report) => {
      for (const member of binding.members) {
        const problem = memberProblem(member);
        if (problem !== undefined)
          report(
            `${describeResource(args.type, args.name)} must grant ${binding.role} to named service accounts only: ${problem}; hint: one SecretIamMember per service account`,
          );
      }
    }),
  ],
});

export const secretNoProjectWideReaders = resourcePolicy({
  name: "secretmanager-no-project-wide-access",
  description:
    "No project-level grant of roles/secretmanager.secretAccessor or roles/secretmanager.admin: secret access is granted per secret.",
  enforcementLevel: "mandatory",
  validateResource: [
    validateResourceOfType(IAMMember, (grant, args, report) => {
      if (READER_ROLES.includes(grant.role))
        report(
          `${describeResource(args.type, args.name)} must not grant ${grant.role} on the whole project: it reads every secret; hint: grant roles/secretmanager.secretAccessor per secret with SecretIamMember`,
        );
    }),
    validateResourceOfType(IAMBinding, (binding, args, report) => {
      if (READER_ROLES.includes(binding.role))
        report(
          `${describeResource(args.type, args.name)} must not grant ${binding.role} on the whole project: it reads every secret; hint: grant roles/secretmanager.secretAccessor per secret with SecretIamMember`,
        );
    }),
  ],
});

export const SECRETMANAGER_POLICIES: CutoverPolicy[] = [
  secretAccessorNamedServiceAccounts,
  secretNoProjectWideReaders,
];
