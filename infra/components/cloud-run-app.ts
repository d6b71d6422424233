import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import type { CloudSqlMigration } from "../config/cloudsql";
import type { RevisionPlan, TrafficEntry } from "../engine/cloudsql";
import type { EnvVar } from "../engine/env";

export interface CloudRunAppArgs {
  /** The `cloudRun` section of the migration spec. */
  readonly config: CloudSqlMigration["cloudRun"];
  readonly project: string;
  /** The revision the template declares in this phase. */
  readonly template: RevisionPlan;
  /** Its environment (secrets by reference only). */
  readonly env: readonly EnvVar[];
  /** Pinned traffic, by revision name. */
  readonly traffic: readonly TrafficEntry[];
  /** Direct VPC egress for revisions that reach Cloud SQL or Redis on private IPs. */
  readonly vpc?: Vpc;
}

/** The VPC and subnet a revision or job reaches private IPs (Cloud SQL, Redis) through. */
export interface Vpc {
  readonly network: string;
  readonly subnetwork: string;
}

/** Direct VPC egress: private ranges through the VPC, everything else (e.g. Supabase) directly. */
export function directVpcEgress(vpc: Vpc) {
  return {
    networkInterfaces: [{ network: vpc.network, subnetwork: vpc.subnetwork }],
    egress: "PRIVATE_RANGES_ONLY",
  };
}

/** Renders env for a container: secrets become `valueSource.secretKeyRef`, never values. */
export function containerEnv(env: readonly EnvVar[]) {
  return env.map((e) =>
    "secret" in e
      ? { name: e.name, valueSource: { secretKeyRef: { secret: e.secret, version: e.version } } }
      : { name: e.name, value: e.value },
  );
}

/**
 * The app's Cloud Run service (adopted with `cloudRun.adopt`, the `import` resource option): one named revision template per phase and
 * traffic pinned by revision name, with `candidate` / `rollback` tags for 0% revisions.
 */
export class CloudRunApp extends pulumi.ComponentResource {
  public readonly service: gcp.cloudrunv2.Service;

  constructor(name: string, args: CloudRunAppArgs, opts?: pulumi.ComponentResourceOptions) {
    super("cutover:gcp:CloudRunApp", name, {}, opts);
    const c = args.config;
    this.service = new gcp.cloudrunv2.Service(
      `${name}-service`,
      {
        name: c.service,
        project: args.project,
        location: c.region,
        ingress: "INGRESS_TRAFFIC_ALL",
        deletionProtection: true,
        template: {
          revision: args.template.name,
          serviceAccount: c.serviceAccount,
          scaling: { minInstanceCount: c.minInstances, maxInstanceCount: c.maxInstances },
          containers: [
            {
              image: c.image,
              ports: { containerPort: c.port },
              resources: { limits: { cpu: c.cpu, memory: c.memory } },
              envs: containerEnv(args.env),
            },
          ],
          ...(args.vpc
            ? {
                vpcAccess: directVpcEgress(args.vpc),
              }
            : {}),
        },
        traffics: args.traffic.map((t) => ({
          type: "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION",
          revision: t.revision,
          percent: t.percent,
          ...(t.tag ? { tag: t.tag } : {}),
        })),
      },
      {
        parent: this,
        // Adopting the running service: the ID Cloud Run's provider imports by.
        ...(c.adopt
          ? { import: `projects/${args.project}/locations/${c.region}/services/${c.service}` }
          : {}),
      },
    );
    if (c.public) {
      new gcp.cloudrunv2.ServiceIamMember(
        `${name}-public-invoker`,
        {
          project: args.project,
          location: c.region,
          name: this.service.name,
          role: "roles/run.invoker",
          member: "allUsers",
        },
        { parent: this },
      );
    }
    this.registerOutputs({ uri: this.service.uri });
  }
}
