import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, parseMigrations } from "../infra/config/load";
import { sourcePasswordKeyOf } from "../infra/config/secrets";
// Internal module of the SDK: whether a config key is a secret is not in its public surface.
import * as runtimeConfig from "@pulumi/pulumi/runtime/config";
import { CloudSqlCutover } from "../infra/components/cloud-sql-cutover";
import { DualWriteCutover } from "../infra/components/dual-write-cutover";
import { dependOn, PhaseLedger } from "../infra/components/phase-ledger";
import { committedEvidence } from "../infra/evidence";
import { evidenceRequirements, evidenceTrust } from "../infra/engine/evidence-scope";
import { planMigration, positionOf, transitionContextOf, type MigrationPlan } from "../infra/engine/plan";
import type { LedgerFacts, Position } from "../infra/engine/transitions";
import type { LedgerRepair } from "../infra/engine/ledger-health";
import type { Migration } from "../infra/config/schema";

const { getConfig, isConfigSecret } = runtimeConfig as typeof runtimeConfig & {
  isConfigSecret(key: string): boolean;
};

/** Stateful resources get Pulumi `protect` in prod stacks unless `cutover:protect` says otherwise. */
function shouldProtect(config: pulumi.Config): boolean {
  return config.getBoolean("protect") ?? /^prod/.test(pulumi.getStack());
}

/**
 * Validates `cutover:migrations` before any resource is declared: a bad config declares nothing. The
 * Pulumi engine prints a RunError without a stack trace; its `cause` keeps the ConfigError for callers
 * that run the program themselves (the offline plan).
 */
export function loadPlans(
  config: pulumi.Config,
  now = new Date(),
  facts: Readonly<Record<string, LedgerFacts>> = {},
): MigrationPlan[] {
  try {
    const migrations = parseMigrations(config.getObject<unknown>("migrations"), {
      now,
      isPlainValue: (key) => getConfig(key) !== undefined && !isConfigSecret(key),
    });
    return Object.entries(migrations).map(([name, spec]) => planMigration(name, spec, now, facts[name]));
  } catch (e) {
    if (e instanceof ConfigError) throw Object.assign(new pulumi.RunError(e.message), { cause: e });
    throw e;
  }
}

export interface ProgramOptions {
  /** Clock for the windows shown by the plans. @default now */
  readonly now?: Date;
  /** What the ledgers recorded, when a caller knows it (the offline plan with --deployed). */
  readonly facts?: Readonly<Record<string, LedgerFacts>>;
  /** The folder holding `evidence/` (the stack file's). @default process.cwd(), where Pulumi runs the program */
  readonly evidenceDir?: string;
}

/** What a run of the program declared, per migration: the plan it used and its root resources. */
export interface ProgramRun {
  readonly outputs: Record<string, unknown>;
  readonly migrations: readonly {
    readonly planned: MigrationPlan;
    /** The ledger and the migration's component: every resource of the migration descends from one. */
    readonly roots: readonly pulumi.Resource[];
  }[];
}

/** The cutover program: one component per migration, each at its own phase. Stack outputs only. */
export async function program(now = new Date()): Promise<Record<string, unknown>> {
  return (await runProgram({ now })).outputs;
}

/** The program, returning the plans it used so that callers never parse or plan the config again. */
export async function runProgram(opts: ProgramOptions = {}): Promise<ProgramRun> {
  const now = opts.now ?? new Date();
  const config = new pulumi.Config("cutover");
  const plans = loadPlans(config, now, opts.facts);
  const protect = shouldProtect(config);
  const outputs: Record<string, unknown> = {};
  const migrations: ProgramRun["migrations"][number][] = [];
  const leaders = new Map<string, pulumi.StackReference>();
  for (const planned of plans) {
    const { name, spec, plan } = planned;
    // Judged first: every resource of the migration depends on the ledger, so a refused step changes nothing.
    const { ramp, route, windowHours } = transitionContextOf(name, spec, { now });
    const ledger = new PhaseLedger(`${name}-ledger`, {
      migration: name,
      kind: spec.kind,
      stack: pulumi.getStack(),
      position: positionOf(spec),
      ramp,
      ...(route ? { route } : {}),
      windowHours,
      ...repairOf(spec),
      evidenceMaxAgeHours: spec.evidenceMaxAgeHours,
      evidenceRequirements: evidenceRequirements(spec),
      evidenceTrust: evidenceTrust(spec, pulumi.getStack()),
      ...evidenceOf(opts.evidenceDir ?? process.cwd(), name),
      ...leaderOf(name, spec, leaders),
    });
    const gated = { transformations: [dependOn(ledger)] };
    const recorded = {
      deployed: ledger.deployed,
      appliedAt: ledger.appliedAt,
      facts: ledger.facts,
      history: ledger.history,
      pins: ledger.pins,
    };
    const { component, kindOutputs } = declareMigration(planned, config, protect, gated);
    migrations.push({ planned, roots: [ledger, component] });
    outputs[name] = {
      kind: spec.kind,
      phase: plan.phase,
      ledger: recorded,
      irreversible: plan.irreversible,
      ...kindOutputs,
    };
  }
  return { outputs, migrations };
}

/** The stated repair of a damaged ledger (config `ledgerRepair`), as the ledger reads it. */
function repairOf(spec: Migration): { repair?: LedgerRepair } {
  const r = spec.ledgerRepair;
  if (r === undefined) return {};
  return {
    repair: {
      position: {
        phase: r.phase,
        attempt: r.attempt,
        ...(r.percent !== undefined ? { percent: r.percent } : {}),
        ...(r.rollbackFrom !== undefined ? { rollbackFrom: r.rollbackFrom } : {}),
      },
      reason: r.reason,
    },
  };
}

/**
 * Where the leading stack's ledger stands for this migration (`follows: staging`), read the Pulumi way:
 * a StackReference to `<org>/<project>/<leader>` and its `<migration>.ledger.deployed` output. One
 * reference per leading stack; a leader without this migration's output stands at baseline.
 */
function leaderOf(name: string, spec: Migration, refs: Map<string, pulumi.StackReference>) {
  if (!spec.follows) return {};
  const leaderStack = spec.follows;
  let ref = refs.get(leaderStack);
  if (!ref) {
    ref = new pulumi.StackReference(`leader-${leaderStack}`, {
      name: `${pulumi.getOrganization()}/${pulumi.getProject()}/${leaderStack}`,
    });
    refs.set(leaderStack, ref);
  }
  const leader = ref.getOutput(name).apply((out) => {
    const deployed = (out as { ledger?: { deployed?: Position } } | undefined)?.ledger?.deployed;
    return { stack: leaderStack, ...(deployed ? { position: deployed } : {}) };
  });
  return { leader, ...(spec.followOverride ? { followOverride: spec.followOverride } : {}) };
}

/** The committed gate evidence the ledger records with a gated step (nothing when none is committed). */
function evidenceOf(dir: string, migration: string) {
  const evidence = committedEvidence(dir, pulumi.getStack(), migration);
  return evidence.length ? { evidence } : {};
}

/** The migration's component for its kind, and the stack outputs only that kind has. */
function declareMigration(
  planned: MigrationPlan,
  config: pulumi.Config,
  protect: boolean,
  opts: pulumi.ComponentResourceOptions,
): { component: pulumi.ComponentResource; kindOutputs: Record<string, unknown> } {
  switch (planned.spec.kind) {
    case "cloudsql": {
      const { name, spec, plan } = planned as Extract<MigrationPlan, { spec: { kind: "cloudsql" } }>;
      // The DMS path's promotion calls the DMS API; the logical path's stop is a job the program runs.
      const dms = plan.replication === "dms";
      const needsToken = plan.resources.promotion && dms;
      const component = new CloudSqlCutover(
        name,
        {
          spec,
          plan,
          sourcePassword:
            plan.resources.replication && dms ? config.requireSecret(sourcePasswordKeyOf(name, spec)) : "",
          accessToken: needsToken ? gcp.organizations.getClientConfigOutput().accessToken : "",
          protect,
        },
        opts,
      );
      return {
        component,
        kindOutputs: {
          traffic: plan.traffic,
          serviceUri: component.serviceUri,
          // What up.yml executes and merges: `gcloud run jobs execute <name> --region <region> --wait`.
          ...(component.validationJob
            ? {
                validationJob: {
                  name: component.validationJob,
                  readerJob: component.readerJob,
                  region: spec.cloudRun.region,
                  project: spec.gcp.project,
                },
              }
            : {}),
        },
      };
    }
    case "dual-write": {
      const { name, spec, plan } = planned as Extract<MigrationPlan, { spec: { kind: "dual-write" } }>;
      const needsToken = plan.resources.d1 || plan.resources.kv;
      const component = new DualWriteCutover(
        name,
        {
          spec,
          plan,
          apiToken: needsToken ? new pulumi.Config("cloudflare").requireSecret("apiToken") : "",
          protect,
          ...(plan.resources.hyperdrive
            ? {
                passwords: {
                  legacy: config.requireSecret(spec.legacy.passwordSecretKey),
                  target: config.requireSecret(spec.target.passwordSecretKey),
                },
              }
            : {}),
        },
        opts,
      );
      return {
        component,
        kindOutputs: {
          flags: plan.flags,
          // The Worker's CUTOVER_FLAGS_FLOOR binding: `wrangler deploy --var CUTOVER_FLAGS_FLOOR:<json>`.
          ...(plan.flagsFloor ? { flagsFloor: plan.flagsFloor } : {}),
          d1: plan.d1.map((d) => d.name),
          // With d1DatabaseIds, what up.yml validates the D1 store against (d1:remote:<account>/<id>).
          accountId: spec.cloudflare.accountId,
          // What the Workers' wrangler config binds: D1 ids and the flags namespace id.
          d1DatabaseIds: component.d1DatabaseIds,
          kvNamespaceId: component.kvNamespaceId,
          // What `cutover check compare config --outputs` binds the comparison Worker to.
          ...(component.hyperdriveIds ? { hyperdriveIds: component.hyperdriveIds } : {}),
          compare: plan.compare,
        },
      };
    }
    default: {
      const unreachable: never = planned.spec;
      throw new Error(`unknown migration kind ${JSON.stringify(unreachable)}`);
    }
  }
}
