import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, parseMigrations } from "../infra/config/load";
import type { CloudSqlMigration } from "../infra/config/cloudsql";
import { CloudSqlMigrationStack } from "../infra/components/cloudsql-migration";
import { DualWriteMigrationStack } from "../infra/components/dual-write-migration";
import { planMigration, type MigrationPlan } from "../infra/engine/plan";

/** Stateful resources get Pulumi `protect` in prod stacks unless `cutover:protect` says otherwise. */
function shouldProtect(config: pulumi.Config): boolean {
  return config.getBoolean("protect") ?? /^prod/.test(pulumi.getStack());
}

/** Validates `cutover:migrations` before any resource is declared: a bad config declares nothing. */
export function loadPlans(config: pulumi.Config, now = new Date()): MigrationPlan[] {
  try {
    const migrations = parseMigrations(config.getObject<unknown>("migrations"), { now });
    return Object.entries(migrations).map(([name, spec]) => planMigration(name, spec, now));
  } catch (e) {
    if (e instanceof ConfigError) throw new pulumi.RunError(e.message);
    throw e;
  }
}

function sourcePasswordKey(name: string, spec: CloudSqlMigration): string {
  return spec.source.passwordSecretKey ?? `${name}SourcePassword`;
}

/** The cutover program: one component per migration, each at its own phase. */
export async function program(now = new Date()): Promise<Record<string, unknown>> {
  const config = new pulumi.Config("cutover");
  const plans = loadPlans(config, now);
  const protect = shouldProtect(config);
  const outputs: Record<string, unknown> = {};
  for (const { name, spec, plan } of plans) {
    switch (spec.kind) {
      case "cloudsql": {
        if (plan.kind !== "cloudsql") throw new Error("plan kind mismatch");
        const needsToken = plan.resources.promotion;
        const m = new CloudSqlMigrationStack(name, {
          spec,
          plan,
          sourcePassword: plan.resources.dms ? config.requireSecret(sourcePasswordKey(name, spec)) : "",
          accessToken: needsToken ? gcp.organizations.getClientConfigOutput().accessToken : "",
          protect,
        });
        outputs[name] = {
          kind: spec.kind,
          phase: plan.phase,
          traffic: plan.traffic,
          irreversible: plan.irreversible,
          serviceUri: m.serviceUri,
        };
        break;
      }
      case "dual-write": {
        if (plan.kind !== "dual-write") throw new Error("plan kind mismatch");
        const needsToken = plan.resources.d1 || plan.resources.kv;
        const m = new DualWriteMigrationStack(name, {
          spec,
          plan,
          apiToken: needsToken ? new pulumi.Config("cloudflare").requireSecret("apiToken") : "",
          protect,
        });
        outputs[name] = {
          kind: spec.kind,
          phase: plan.phase,
          flags: plan.flags,
          d1: plan.d1.map((d) => d.name),
          irreversible: plan.irreversible,
          // What the Workers' wrangler config binds: D1 ids and the flags namespace id.
          d1DatabaseIds: m.d1DatabaseIds,
          kvNamespaceId: m.kvNamespaceId,
        };
        break;
      }
      default: {
        const unreachable: never = spec;
        throw new Error(`unknown migration kind ${JSON.stringify(unreachable)}`);
      }
    }
  }
  return outputs;
}
