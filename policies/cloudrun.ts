// Per-module imports: the pack is type-checked by ts-node at start-up, and the whole @pulumi/gcp
// index costs ~20 s more than the modules the rules use.
import { Job } from "@pulumi/gcp/cloudrunv2/job";
import { Service, ServiceArgs } from "@pulumi/gcp/cloudrunv2/service";
import { ServiceIamBinding } from "@pulumi/gcp/cloudrunv2/serviceIamBinding";
import { ServiceIamMember } from "@pulumi/gcp/cloudrunv2/serviceIamMember";
import { PolicyResource, validateResourceOfType } from "@pulumi/policy";
import type { Unwrap } from "@pulumi/pulumi";
import { readSpecs } from "./spec";
import { checkEach, CutoverPolicy, describeResource, resourcePolicy, stackPolicy } from "./support";

type Env = { name: string; value?: string };
type Container = { envs?: Env[] };

/** Env names that carry credentials or connection strings. */
const CREDENTIAL_NAME =
  /(^|_)(DATABASE_URL|DIRECT_URL|REDIS_URL|PASSWORD|PASSWD|TOKEN|SECRET|API_KEY|PRIVATE_KEY|CREDENTIALS)$/;
/** scheme://user[:password]@host — a URL carrying credentials. */
const URL_WITH_USERINFO = /^[a-z][a-z0-9+.-]*:\/\/[^/@\s]+@/i;
/** The default compute and App Engine service accounts: shared, over-privileged, not per service. */
const DEFAULT_SERVICE_ACCOUNT =
  /^(\d+-compute@developer\.gserviceaccount\.com|[a-z0-9-]+@appspot\.gserviceaccount\.com)$/;
const REVISION_TARGET = "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION";
const PUBLIC_MEMBERS = ["allUsers", "allAuthenticatedUsers"];

/** Env vars whose plain value looks like a credential (names only: values are never printed). */
export function plaintextCredentials(containers: Container[] | undefined): string[] {
  const found: string[] = [];
  (containers ?? []).forEach((container, i) => {
    for (const env of container.envs ?? []) {
      if (env.value === undefined) continue;
      if (CREDENTIAL_NAME.test(env.name) || URL_WITH_USERINFO.test(env.value))
        found.push(`${env.name} (container ${i})`);
    }
  });
  return found;
}

const credentialMessage = (subject: string, found: string[]) =>
  `${subject} must not hold credentials or connection strings in plain env: ${found.join(", ")} (values not shown); hint: use env[].valueSource.secretKeyRef to a Secret Manager secret`;

export const cloudRunNoPlaintextCredentials = resourcePolicy({
  name: "cloudrun-no-plaintext-credentials",
  description:
    "Cloud Run services and jobs take credentials and connection strings (DATABASE_URL, DIRECT_URL, REDIS_URL, *_PASSWORD, *_TOKEN, *_SECRET, *_API_KEY, URLs with user:password@) only through valueSource.secretKeyRef.",
  enforcementLevel: "mandatory",
  validateResource: [
    validateResourceOfType(Service, (service, args, report) => {
      const found = plaintextCredentials(service.template.containers);
      if (found.length > 0) report(credentialMessage(describeResource(args.type, args.name), found));
    }),
    validateResourceOfType(Job, (job, args, report) => {
      const found = plaintextCredentials(job.template.template.containers);
      if (found.length > 0) report(credentialMessage(describeResource(args.type, args.name), found));
    }),
  ],
});

function serviceAccountProblem(account: string | undefined): string | undefined {
  if (account === undefined || account === "")
    return "template.serviceAccount is not set (the default compute account runs it)";
  if (DEFAULT_SERVICE_ACCOUNT.test(account)) return `${account} is a default service account`;
  return undefined;
}

const serviceAccountMessage = (subject: string, problem: string) =>
  `${subject} must run as a dedicated service account: ${problem}; hint: cloudRun.serviceAccount: <app>@<project>.iam.gserviceaccount.com`;

export const cloudRunDedicatedServiceAccount = resourcePolicy({
  name: "cloudrun-dedicated-service-account",
  description:
    "Cloud Run services and jobs run as a dedicated service account (template.serviceAccount set, not the default compute or App Engine account).",
  enforcementLevel: "mandatory",
  validateResource: [
    validateResourceOfType(Service, (service, args, report) => {
      const problem = serviceAccountProblem(service.template.serviceAccount);
      if (problem !== undefined)
        report(serviceAccountMessage(describeResource(args.type, args.name), problem));
    }),
    validateResourceOfType(Job, (job, args, report) => {
      const problem = serviceAccountProblem(job.template.template.serviceAccount);
      if (problem !== undefined)
        report(serviceAccountMessage(describeResource(args.type, args.name), problem));
    }),
  ],
});

type Traffic = NonNullable<Unwrap<ServiceArgs>["traffics"]>[number];

/** What is wrong with a service's traffic list (empty when it is pinned and sums to 100). */
export function trafficProblems(traffics: Traffic[] | undefined): string[] {
  if (traffics === undefined || traffics.length === 0)
    return ["traffics is empty, so Cloud Run sends 100% to the LATEST revision"];
  const problems: string[] = [];
  traffics.forEach((t, i) => {
    if (t.type !== REVISION_TARGET)
      problems.push(`traffics[${i}] has type ${t.type ?? "not set"}, expected ${REVISION_TARGET}`);
    else if (t.revision === undefined || t.revision === "") problems.push(`traffics[${i}] names no revision`);
  });
  const sum = traffics.reduce((acc, t) => acc + (t.percent ?? 0), 0);
  if (sum !== 100) problems.push(`percentages sum to ${sum}, expected 100`);
  return problems;
}

export const cloudRunTrafficPinned = resourcePolicy({
  name: "cloudrun-traffic-pinned",
  description: `Cloud Run traffic is pinned: every target is ${REVISION_TARGET} with a revision name (no LATEST) and the percentages sum to 100.`,
  enforcementLevel: "mandatory",
  validateResource: validateResourceOfType(Service, (service, args, report) => {
    const problems = trafficProblems(service.traffics);
    if (problems.length > 0)
      report(
        `${describeResource(args.type, args.name)} must pin its traffic to named revisions: ${problems.join("; ")}; hint: a LATEST target follows every new revision and breaks a pinned rollout`,
      );
  }),
});

/** The Cloud Run service an IAM resource's `name` points at (short name or full resource path). */
const serviceNameOf = (iam: PolicyResource): string =>
  String(iam.props.name ?? "")
    .split("/")
    .pop() ?? "";

export const cloudRunPublicInvokerDeclared = stackPolicy({
  name: "cloudrun-public-invoker-declared",
  description:
    "A Cloud Run service is invocable by allUsers/allAuthenticatedUsers (or has invokerIamDisabled) only when its migration spec says public: true (config cloudRun.public).",
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    const { specs } = readSpecs(args.resources);
    const declaredPublic = (service: string) =>
      specs.some((f) => f.spec.kind === "cloudsql" && f.spec.service === service && f.spec.public);
    const hint = "hint: set cloudRun.public: true in the migration config if the API is meant to be public";
    checkEach(args.resources, report, (r) => {
      if (r.isType(Service) && r.props.invokerIamDisabled === true && !declaredPublic(r.props.name))
        report(
          `${describeResource(r.type, r.name)} must not disable invoker IAM (invokerIamDisabled) unless the config marks it public; ${hint}`,
          r.urn,
        );
      const members: string[] = r.isType(ServiceIamMember)
        ? [r.props.member]
        : r.isType(ServiceIamBinding)
          ? [...r.props.members]
          : [];
      for (const member of members.filter((m) => PUBLIC_MEMBERS.includes(m))) {
        const service = serviceNameOf(r);
        const why = !declaredPublic(service)
          ? `the config does not mark it public; ${hint}`
          : r.props.role !== "roles/run.invoker"
            ? "a public service grants allUsers roles/run.invoker only"
            : undefined;
        if (why !== undefined)
          report(
            `${describeResource(r.type, r.name)} must not grant ${r.props.role} to ${member} on service ${service}: ${why}`,
            r.urn,
          );
      }
    });
  },
});

export const CLOUDRUN_POLICIES: CutoverPolicy[] = [
  cloudRunNoPlaintextCredentials,
  cloudRunDedicatedServiceAccount,
  cloudRunTrafficPinned,
  cloudRunPublicInvokerDeclared,
];
