/**
 * The plan's core, from stack files to the plan report: loading, the deployed ledger, transitions,
 * gates and synthesis, each step feeding the next. The diff of two phases is in diff.ts, what a first
 * run still needs in first-run.ts.
 */
import { dirname } from "node:path";
import { CLOUDSQL_PHASES } from "../../infra/config/cloudsql";
import { CONFIG_KEY } from "../../infra/config/common";
import { DUAL_WRITE_PHASES } from "../../infra/config/dual-write";
import { ConfigError } from "../../infra/config/load";
import { positionOf, transitionContextOf, type MigrationPlan } from "../../infra/engine/plan";
import {
  BASELINE,
  judgeTransition,
  positionLabel,
  type LedgerFacts,
  type Transition,
} from "../../infra/engine/transitions";
import type { ProgramRun } from "../../stacks/program";
import {
  atPosition,
  readStackConfig,
  StackFileError,
  withPhase,
  type PhaseChoice,
  type StackConfig,
} from "../../tooling/stack-file";
import { synthesize, type RecordedResource } from "../../tooling/synth";
import type { DeployedSide } from "../../tooling/deployed";
import { gateStatus, type GateStatus } from "../../infra/evidence";
import { leaderProblem } from "../../infra/engine/leader";

export interface PlanRequest {
  readonly stack: string;
  /** Folder holding the stack files. @default process.cwd() */
  readonly dir?: string;
  readonly migration?: string;
  readonly phase?: PhaseChoice;
  /** Clock for the decommission windows. @default now */
  readonly now?: Date;
  /** What is deployed: each migration's transition is judged against it. */
  readonly deployed?: DeployedSide;
  /** Plan this config instead of reading the stack file (the base branch's file, a moved copy). */
  readonly config?: StackConfig;
  /**
   * Where each leading stack stands (`follows`), by stack name: its `pulumi stack output --json` or its
   * file at the base ref. A follower's step past its leader is refused; no entry: not judged here.
   */
  readonly leaders?: Readonly<Record<string, DeployedSide>>;
}

/** A `secretKeyRef` on the serving template, or an accessor grant. */
export interface SecretWiring {
  readonly env?: string;
  readonly secret: string;
  readonly version?: string;
  readonly revision?: string;
  readonly accessor?: string;
}

export interface MigrationReport {
  readonly name: string;
  readonly planned: MigrationPlan;
  readonly resources: readonly RecordedResource[];
  readonly secrets: readonly SecretWiring[];
  /** Deployed → proposed, when the deployed side is known. */
  readonly transition?: Transition;
  /** The data checks the step needs (a gated forward step) and whether the committed evidence holds. */
  readonly gates?: readonly GateStatus[];
}

export type { GateStatus };

export interface PlanReport {
  readonly stack: string;
  readonly path: string;
  readonly migrations: readonly MigrationReport[];
  readonly resources: readonly RecordedResource[];
  /** Secret keys still holding the committed placeholder instead of a ciphertext. */
  readonly placeholderSecrets: readonly string[];
}

const PHASES_BY_KIND = { cloudsql: CLOUDSQL_PHASES, "dual-write": DUAL_WRITE_PHASES } as const;

/** The migration a `--phase` applies to: the one named, or the only one whose kind has that phase. */
export function resolveMigration(stack: StackConfig, phase: string, migration?: string): string {
  const all = (stack.config[CONFIG_KEY] ?? {}) as Record<string, { kind?: string }>;
  if (migration !== undefined) return migration;
  const matching = Object.entries(all)
    .filter(([, m]) =>
      (PHASES_BY_KIND[m.kind as keyof typeof PHASES_BY_KIND] as readonly string[])?.includes(phase),
    )
    .map(([name]) => name);
  if (matching.length === 1) return matching[0];
  if (matching.length === 0)
    throw new StackFileError(
      `no migration in ${stack.path} has a phase "${phase}"; hint: cloudsql phases are ${CLOUDSQL_PHASES.join(", ")}; dual-write phases are ${DUAL_WRITE_PHASES.join(", ")}`,
    );
  throw new StackFileError(
    `phase "${phase}" exists in several migrations (${matching.join(", ")}); hint: pass --migration <name>`,
  );
}

function secretWiringOf(resources: readonly RecordedResource[]): SecretWiring[] {
  const wiring: SecretWiring[] = [];
  for (const r of resources) {
    if (r.type === "gcp:cloudrunv2/service:Service" || r.type === "gcp:cloudrunv2/job:Job") {
      const template = r.inputs.template as Record<string, unknown> | undefined;
      const inner =
        (r.type.endsWith("Job") ? (template?.template as Record<string, unknown>) : template) ?? {};
      const containers = (inner.containers ?? []) as { envs?: Record<string, unknown>[] }[];
      const revision = r.type.endsWith("Job") ? `job ${String(r.inputs.name)}` : String(inner.revision);
      for (const env of containers.flatMap((c) => c.envs ?? [])) {
        const ref = (env.valueSource as { secretKeyRef?: { secret: string; version?: string } })
          ?.secretKeyRef;
        if (ref) wiring.push({ env: String(env.name), secret: ref.secret, version: ref.version, revision });
      }
    }
    if (r.type === "gcp:secretmanager/secretIamMember:SecretIamMember")
      wiring.push({ secret: String(r.inputs.secretId), accessor: String(r.inputs.member) });
  }
  return wiring;
}

/** The URN of a resource once the mock runtime has registered it. */
const urnOf = (r: { urn: { apply<U>(f: (u: string) => U): unknown } }) =>
  new Promise<string>((resolve) => r.urn.apply((u) => (resolve(u), u)));

/** The leaders' ledgers as stack outputs, for the program's StackReferences on the mock runtime. */
function leaderOutputs(leaders: PlanRequest["leaders"]): Record<string, Record<string, unknown>> {
  return Object.fromEntries(
    Object.entries(leaders ?? {}).map(([stack, side]) => [
      stack,
      Object.fromEntries(
        Object.entries(side.migrations).map(([name, m]) => [name, { ledger: { deployed: m.position } }]),
      ),
    ]),
  );
}

/** The resources that descend from one of `roots` (by their parent chain), roots included. */
function descendants(resources: readonly RecordedResource[], roots: readonly string[]): RecordedResource[] {
  const byUrn = new Map(resources.map((r) => [r.urn, r]));
  const within = (r: RecordedResource | undefined): boolean =>
    r !== undefined && (roots.includes(r.urn) || (r.parent !== undefined && within(byUrn.get(r.parent))));
  return resources.filter((r) => within(r));
}

/**
 * Synthesizes the real program (which validates the config, throwing ConfigError with every problem,
 * and plans it) and reports each migration from the plan the program used: nothing is parsed or planned
 * twice, and resources are grouped by the component (and ledger) they descend from.
 */
export async function buildPlan(req: PlanRequest): Promise<PlanReport> {
  let stack = req.config ?? readStackConfig(req.stack, req.dir);
  if (req.phase) stack = withPhase(stack, resolveMigration(stack, req.phase.phase, req.migration), req.phase);
  const now = req.now ?? new Date();
  const facts: Record<string, LedgerFacts> = {};
  for (const [name, d] of Object.entries(req.deployed?.migrations ?? {})) if (d.facts) facts[name] = d.facts;
  const { runProgram } = await import("../../stacks/program");
  let run: ProgramRun | undefined;
  let roots: string[][] = [];
  let synthesis;
  try {
    synthesis = await synthesize(
      async () => {
        run = await runProgram({ now, facts, evidenceDir: dirname(stack.path) });
        roots = await Promise.all(run.migrations.map((m) => Promise.all(m.roots.map(urnOf))));
        return run.outputs;
      },
      {
        stack: stack.stack,
        config: stack.config,
        secretKeys: stack.secretKeys,
        stackOutputs: leaderOutputs(req.leaders),
      },
    );
  } catch (e) {
    const cause = (e as { cause?: unknown }).cause;
    if (cause instanceof ConfigError) throw new ConfigError(cause.problems, stack.path);
    throw e;
  }
  const used = run!.migrations;
  if (req.migration !== undefined && !used.some((m) => m.planned.name === req.migration))
    throw new StackFileError(
      `${stack.path} has no migration "${req.migration}"; hint: migrations here are ${used.map((m) => m.planned.name).join(", ")}`,
    );
  const reports = used
    .map((m, i) => ({ planned: m.planned, roots: roots[i] }))
    .filter(({ planned }) => req.migration === undefined || planned.name === req.migration)
    .map(({ planned, roots: mine }) => {
      const { name, spec } = planned;
      const resources = descendants(synthesis.resources, mine);
      const deployed = req.deployed?.migrations[name];
      const known = deployed?.facts ?? (req.deployed?.factsKnown ? {} : undefined);
      const transition = req.deployed
        ? judgeTransition(
            deployed?.position ?? BASELINE,
            positionOf(spec),
            transitionContextOf(name, spec, { now, facts: known, stack: stack.stack }),
          )
        : undefined;
      const gates = transition?.allowed
        ? gateStatus(dirname(stack.path), {
            stack: stack.stack,
            migration: name,
            from: transition.from,
            to: transition.to,
            ctx: transitionContextOf(name, spec, { now, stack: stack.stack }),
            spec,
            now,
            ...(deployed?.pins ? { pins: deployed.pins } : {}),
          })
        : [];
      // The leader goes first: the ledger's rule, judged here from the leader's side when it is known.
      const leaderSide = spec.follows ? req.leaders?.[spec.follows] : undefined;
      const ahead =
        transition?.allowed && spec.follows && leaderSide
          ? leaderProblem(
              name,
              stack.stack,
              transition.from,
              transition.to,
              spec.kind,
              {
                stack: spec.follows,
                ...(leaderSide.migrations[name] ? { position: leaderSide.migrations[name].position } : {}),
              },
              spec.followOverride,
            )
          : undefined;
      // The gate judge refuses the step here as at every other door: the plan exits 1 on it.
      const failing = gates.filter((g) => g.problem !== undefined);
      const judged = ahead
        ? { ...transition!, allowed: false, message: ahead }
        : transition && failing.length > 0
          ? {
              ...transition,
              allowed: false,
              message: failing
                .map(
                  (g) =>
                    `${name}: ${positionLabel(transition.from)} → ${positionLabel(transition.to)} is refused: it needs passing ${g.check}${g.store ? ` (${g.store})` : ""} evidence taken at ${g.at} (attempt ${transition.from.attempt}): ${g.problem}; hint: ${g.command}, then commit evidence/ with the change`,
                )
                .join("\n"),
            }
          : transition;
      return {
        name,
        planned,
        resources,
        secrets: secretWiringOf(resources),
        ...(judged ? { transition: judged } : {}),
        ...(gates.length > 0 ? { gates } : {}),
      };
    });
  return {
    stack: stack.stack,
    path: stack.path,
    migrations: reports,
    resources: synthesis.resources,
    placeholderSecrets: stack.placeholderSecrets,
  };
}

/** What the deployed side declares, planned: the base branch's file, or the file at the ledger's positions. */
export interface BeforePlan {
  readonly report?: PlanReport;
  /** How it was obtained, for the summary. */
  readonly from: string;
}

/**
 * Plans what is deployed, to compare the proposed change against: the stack file at the git ref when
 * it still plans (an older file today's schema refuses falls back), else this file with every
 * migration moved to its deployed position. Nothing deployed: no report (everything is new).
 */
export async function buildBefore(req: PlanRequest, deployed: DeployedSide): Promise<BeforePlan> {
  if (deployed.config) {
    try {
      return {
        report: await buildPlan({ ...req, config: deployed.config, deployed: undefined, phase: undefined }),
        from: `the stack file at ${deployed.source}`,
      };
    } catch (e) {
      if (!(e instanceof ConfigError || e instanceof StackFileError)) throw e;
    }
  } else if (!deployed.factsKnown && Object.keys(deployed.migrations).length === 0)
    return { from: `${deployed.source}: nothing deployed` };
  let stack = req.config ?? readStackConfig(req.stack, req.dir);
  const names = Object.keys((stack.config[CONFIG_KEY] ?? {}) as Record<string, unknown>);
  for (const name of names) stack = atPosition(stack, name, deployed.migrations[name]?.position ?? BASELINE);
  return {
    report: await buildPlan({ ...req, config: stack, deployed: undefined, phase: undefined }),
    from: `this file at the deployed positions (${deployed.source})`,
  };
}
