/**
 * What the cloudsql rehearsal does at each position of its walk, beside deploying the plan: the gates the
 * next phase's row declares (from the registry in gates.ts), the switch before its traffic moves, and what
 * the position's `pulumi up` starts as its plan declares it (the preflight before provisioning, the
 * replication, the ramp route's promotion), with a status check whenever the serving template changes.
 */
import type { CloudSqlMigration } from "../../infra/config/cloudsql";
import { planCloudSql, type CloudSqlPlan } from "../../infra/engine/cloudsql";
import type { RevisionPlan } from "../../infra/engine/cloudsql-phases";
import { revisionEnv } from "../../infra/engine/env";
import { POST_PROMOTION_SQL } from "../../infra/engine/sequences";
import type { Position } from "../../infra/engine/transitions";
import { PLATFORM_DELAYS, type MeasuredWork } from "../../infra/engine/window";
import type { StackConfig } from "../../tooling/stack-file";
import { checkSource, resolveSource } from "../preflight/source";
import { compareExactly } from "../replication/switch-freeze";
import { expectationFor } from "../smoke/expectations";
import { runSmoke } from "../smoke/run";
import { runCloudSqlGates } from "./gates";
import { startLogicalReplication } from "./logical";
import { withClient } from "./pg";
import { startReplication, type Replication } from "./replication";
import type { AppUnderTest, PhaseBand, RehearsalOptions, RehearsalReport } from "./report";
import { resolveEnv, type RunningRevision } from "./revisions";
import { migrationAt } from "./spec-at";
import { runCommand, type CloudSqlStandIn } from "./stand-in";
import { rehearseSwitch } from "./switch";

export type Check = PhaseBand["checks"][number];

/** The spec of `migration` at a position; the route rehearsed (--write-move) replaces the stack's. */
export function specAt(
  file: StackConfig,
  migration: string,
  p: Position,
  first: CloudSqlMigration,
): CloudSqlMigration {
  const spec = migrationAt(file, migration, p, (entry) => (entry.writeMove = first.writeMove));
  if (spec.kind !== "cloudsql") throw new Error(`${migration} is not a cloudsql migration`);
  return { ...spec, replication: first.replication };
}

/** The traits of a revision the status check judges; a position is smoked when its template's change. */
const traitsOf = (r: RevisionPlan) => `${r.database}/${r.writes}/${r.redis}`;

/** The percent of a plan's traffic on the revisions that `pick` selects. */
const shareOf = (plan: CloudSqlPlan, pick: (r: RevisionPlan) => boolean) =>
  plan.traffic
    .filter((t) => pick(plan.revisions.find((x) => x.name === t.revision)!))
    .reduce((n, t) => n + t.percent, 0);

/** One walk's state, shared by its steps and read by its outcome. */
export interface WalkState {
  readonly opts: RehearsalOptions;
  readonly file: StackConfig;
  readonly migration: string;
  /** The migration as rehearsed: the stack's, with the route and replication asked for. */
  readonly first: CloudSqlMigration;
  readonly app: AppUnderTest;
  readonly s: CloudSqlStandIn;
  readonly revisions: Map<string, RunningRevision>;
  readonly log: (line: string) => void;
  /** Ms since the load started. */
  readonly sinceLoad: () => number;
  readonly marks: { freezeAt: number | null; fullAt: number | null; promotedAt: number | null };
  /** The gates' work, measured, for the production projection. */
  readonly measured: { -readonly [K in keyof MeasuredWork]: MeasuredWork[K] };
  replication?: Replication;
  validation?: RehearsalReport["validation"];
  switched?: RehearsalReport["switch"];
}

export function positionSteps(w: WalkState) {
  const { opts, file, migration, first, app, s, revisions, log, sinceLoad, marks, measured } = w;
  const logical = first.replication === "logical";
  const dmsWaitSeconds = logical ? 0 : (opts.dmsPromoteSeconds ?? PLATFORM_DELAYS.dmsPromoteSeconds);
  /** The app's role on the source: the one the switch freezes (Supabase's `postgres`, here the URL's). */
  const appRole = decodeURIComponent(new URL(s.sourceUrl).username);
  const planAt = (p: Position) => planCloudSql(migration, specAt(file, migration, p, first));
  const smoke = async (url: string, phase: string): Promise<Check> => {
    const results = await runSmoke({
      baseUrl: url,
      auth: { header: "authorization", token: s.token },
      tokenEnv: "ADMIN_STATUS_TOKEN",
      timeoutMs: 5000,
      expectation: expectationFor(phase as CloudSqlMigration["phase"]),
      writeProbe: { method: "POST", path: "/system/write-probe", refusedStatus: 503 },
    });
    const failed = results.filter((r) => r.status === "FAIL");
    return {
      name: `smoke ${url}`,
      ok: failed.length === 0,
      detail: failed.length
        ? failed.map((f) => `${f.name}: ${f.detail}`).join("; ")
        : `${results.length} checks passed`,
    };
  };
  /** The validate gate's tables: the critical ones the app has here, and where writes land. */
  const tablesToValidate = async (spec: CloudSqlMigration): Promise<string[]> => {
    const present = new Set(
      await withClient(s.sourceUrl, async (c) =>
        (
          await c.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
          )
        ).rows.map((r) => r.table_name as string),
      ),
    );
    return [...new Set([...spec.source.criticalTables, app.ack.table])].filter((t) => present.has(t));
  };
  /** The migrate job's work, with the env the plan gives it: the post-promotion SQL, then the app's schema. */
  const migrateJob = async (spec: CloudSqlMigration, plan: CloudSqlPlan) => {
    const env = resolveEnv(
      revisionEnv(migration, spec, plan.migrateJobRevision),
      s.secrets,
      plan.migrateJobName,
    );
    await withClient(env.DIRECT_URL, (c) => c.query(POST_PROMOTION_SQL));
    await runCommand(app.schemaCommand, env, "the migrate job's schema command");
  };
  const candidateOf = (plan: CloudSqlPlan) =>
    revisions.get(plan.revisions.find((r) => r.role === "candidate")!.name);

  /** The gates `p`'s row declares, taken at `from`, the position before it (a ramp gates its first step only). */
  const gatesInto = async (from: Position, p: Position): Promise<Check[]> => {
    if (from.phase === p.phase) return [];
    const spec = specAt(file, migration, from, first);
    const here = planCloudSql(migration, spec);
    const writesFlow = shareOf(here, (r) => r.writes) > 0;
    const t = Date.now();
    const checks = await runCloudSqlGates(p.phase, {
      writesFlow,
      caughtUp: () => w.replication!.waitCaughtUp(),
      compare: async () =>
        compareExactly(
          s.sourceUrl,
          s.destinationUrl,
          await tablesToValidate(spec),
          "public",
          60_000,
          writesFlow ? 1000 : 10,
        ),
      smokeCandidate: async () => {
        const smokeStarted = Date.now();
        const check = await smoke(candidateOf(here)!.url, from.phase);
        measured.smokeSeconds = (Date.now() - smokeStarted) / 1000;
        return check;
      },
    });
    const exact = checks.find((c) => c.name === "validate" && !writesFlow);
    if (exact) {
      w.validation = { identical: exact.ok, detail: exact.detail };
      measured.freezeGateSeconds = (Date.now() - t) / 1000;
    }
    return checks;
  };

  /**
   * The switch (writeMove: switch), as the program's switch runs it, before traffic moves: the source
   * frozen, the replication at the marker, the exact validation, the promotion, the post-promotion steps
   * and the schema command, the candidate's smoke on its own URL (deployed at replicate).
   */
  const theSwitch = async (p: Position): Promise<Check[]> => {
    const spec = specAt(file, migration, p, first);
    const plan = planCloudSql(migration, spec);
    const candidate = candidateOf(plan);
    if (!candidate)
      throw new Error("the candidate was not deployed before the switch (replicate deploys it)");
    marks.freezeAt = sinceLoad();
    const r = await rehearseSwitch({
      mode: first.replication,
      sourceUrl: s.sourceUrl,
      destinationUrl: s.destinationUrl,
      role: appRole,
      tables: await tablesToValidate(spec),
      deadlineSeconds: spec.switch.deadlineSeconds,
      ...(w.replication?.logical ? { logical: w.replication.logical } : {}),
      dmsWaitSeconds,
      dmsPromote: async () => {
        await new Promise((resolve) => setTimeout(resolve, dmsWaitSeconds * 1000));
        await w.replication!.promote();
      },
      promoted: () => (marks.promotedAt = sinceLoad()),
      migrate: () => migrateJob(spec, plan),
      smoke: () => smoke(candidate.url, "switch"),
      log,
    });
    w.validation = r.validation;
    w.switched = { terms: r.terms, totalMs: r.totalMs };
    Object.assign(measured, r.measured);
    return [...r.checks];
  };

  /** The runbook's preflight before the replication starts: the project's own source readiness checks. */
  const preflight = async (spec: CloudSqlMigration): Promise<Check> => {
    const target = resolveSource(
      {
        source: s.sourceUrl,
        destination: s.destinationUrl,
        stack: opts.stack,
        sslmode: "disable",
        databases: [first.source.database],
      },
      process.env,
    )!;
    const results = await checkSource(
      { ...target, replication: first.replication, schemas: spec.logical.schemas },
      5000,
    );
    const failed = results.filter((r) => r.status === "FAIL");
    return {
      name: "preflight",
      ok: failed.length === 0,
      detail: failed.length
        ? failed.map((f) => `${f.name}: ${f.detail}`).join("; ")
        : `${results.length} source checks, ${results.filter((r) => r.status === "WARN").length} warnings`,
    };
  };

  /** The ramp route's promotion, as its `pulumi up` runs it: caught up, the platform's promote, the migrate job. */
  const promote = async (spec: CloudSqlMigration, plan: CloudSqlPlan): Promise<Check> => {
    const promoteStarted = Date.now();
    await w.replication!.waitCaughtUp();
    // DMS's promote operation takes minutes (its documented term); the logical stop does not.
    await new Promise((r) => setTimeout(r, dmsWaitSeconds * 1000));
    const workStarted = Date.now();
    await w.replication!.promote();
    marks.promotedAt = sinceLoad();
    await migrateJob(spec, plan);
    // The platform's promote is a modelled term of the projection, not measured work.
    measured.promoteWorkSeconds = (Date.now() - workStarted) / 1000;
    return {
      name: "post-promotion steps",
      ok: true,
      detail: `${logical ? "replication stopped at its marker" : `DMS promote (${Math.round((workStarted - promoteStarted) / 1000)} s)`}, grant, sequences, materialized views, then the schema command`,
    };
  };

  let provisioned = false;
  let shown = planAt({ phase: "baseline", attempt: first.attempt }).template;
  /** What this position's `pulumi up` starts, as its plan declares it, and the status of a template that changed. */
  const up = async (p: Position, plan: CloudSqlPlan, spec: CloudSqlMigration): Promise<Check[]> => {
    const checks: Check[] = [];
    if (plan.resources.cloudSql && !provisioned) {
      provisioned = true;
      checks.push(await preflight(spec));
    }
    if (plan.resources.replication && !w.replication) {
      const t = Date.now();
      w.replication = plan.logical
        ? await startLogicalReplication({
            name: plan.logical.name,
            sourceUrl: s.sourceUrl,
            destinationUrl: s.destinationAppUrl,
            binDir: s.source.binDir,
          })
        : await startReplication(s.source, s.destination, first.source.database, s.appUser);
      checks.push({
        name: "replication",
        ok: true,
        detail: `initial copy (${s.seeded} rows in ${app.ack.table}) and CDC in ${Date.now() - t} ms`,
      });
    }
    if (plan.resources.promotion && !plan.resources.switch && marks.promotedAt === null)
      checks.push(await promote(spec, plan));
    const share = (r: (x: RevisionPlan) => boolean) => shareOf(plan, r);
    if (marks.freezeAt === null && share((r) => !r.writes) > 0) marks.freezeAt = sinceLoad();
    if (marks.fullAt === null && share((r) => r.database === "cloudsql") === 100) marks.fullAt = sinceLoad();
    // The serving template changed what the status must say (writes blocked, Redis wired): check it.
    if (share((r) => r.name === plan.template.name) > 0 && traitsOf(plan.template) !== traitsOf(shown))
      checks.push(await smoke(revisions.get(plan.template.name)!.url, p.phase));
    shown = plan.template;
    return checks;
  };

  return { appRole, planAt, smoke, gatesInto, theSwitch, up };
}
