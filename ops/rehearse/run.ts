/**
 * The dress rehearsal of a cloudsql cutover on this machine: a local stand-in of production built from
 * the stack file and the engine's plans, driven position by position under a fixed write load. The
 * engine's tables decide everything a position means: the plan gives the revisions and their traffic;
 * the gates a phase's row declares run from the registry (gates.ts) at the position before it; what
 * `pulumi up` starts there (the replication, the promotion, the switch) follows the plan's resources.
 * Every server is real, on loopback, started here and stopped at the end (also on failure).
 */
import type { CloudSqlMigration } from "../../infra/config/cloudsql";
import { CONFIG_KEY } from "../../infra/config/common";
import { parseMigrations } from "../../infra/config/load";
import { planCloudSql, type CloudSqlPlan } from "../../infra/engine/cloudsql";
import { transitionContextOf } from "../../infra/engine/plan";
import { forwardStep, judgeTransition, positionLabel, type Position } from "../../infra/engine/transitions";
import { readStackConfig } from "../../tooling/stack-file";
import { bandOf } from "./bands";
import { drillRollback } from "./drill";
import { startLoad, type Load } from "./load";
import { outcomeOf } from "./outcome";
import {
  BUILT_IN_APP,
  type AppUnderTest,
  type PhaseBand,
  type RehearsalOptions,
  type RehearsalReport,
} from "./report";
import { startRevision, type RunningRevision } from "./revisions";
import { startRouter, type Router } from "./router";
import { startCloudSqlStandIn } from "./stand-in";
import { positionSteps, specAt, type Check, type WalkState } from "./steps";

export { BUILT_IN_APP, type AppUnderTest, type PhaseBand, type RehearsalOptions, type RehearsalReport };

/** What a running rehearsal must stop when interrupted (Ctrl-C): the command calls {@link stopRunning}. */
const running = new Set<() => Promise<void>>();

/** Stops every server and process of the rehearsals in progress. */
export async function stopRunning(): Promise<void> {
  await Promise.all([...running].map((stop) => stop()));
}

export async function rehearse(opts: RehearsalOptions): Promise<RehearsalReport> {
  const log = opts.log ?? (() => undefined);
  const file = readStackConfig(opts.stack, opts.dir);
  const all = parseMigrations(file.config[CONFIG_KEY], { now: new Date() });
  const migration = opts.migration ?? Object.keys(all).find((m) => all[m].kind === "cloudsql") ?? "(none)";
  const declared = all[migration];
  if (declared?.kind !== "cloudsql")
    throw new Error(`${file.path} has no cloudsql migration "${migration}" to rehearse`);
  const first: CloudSqlMigration = {
    ...declared,
    replication: opts.replication ?? declared.replication,
    writeMove: opts.writeMove ?? declared.writeMove,
  };
  const logical = first.replication === "logical";
  const app = opts.app ?? BUILT_IN_APP;
  const servers: { stop(): Promise<void> }[] = [];
  const revisions = new Map<string, RunningRevision>();
  let router: Router | undefined;
  let load: Load | undefined;
  const started = Date.now();
  const teardown = async () => {
    await load?.stop().catch(() => undefined);
    await Promise.all([...revisions.values()].map((r) => r.stop().catch(() => undefined)));
    await router?.close().catch(() => undefined);
    await Promise.all(servers.map((s) => s.stop().catch(() => undefined)));
  };
  running.add(teardown);
  try {
    log(
      logical
        ? "starting the stand-in: a Supabase-like source (no superuser, no pglogical) and a destination PostgreSQL, Redis (TLS)"
        : "starting the stand-in: source and destination PostgreSQL (pglogical, as DMS needs), Redis (TLS)",
    );
    const s = await startCloudSqlStandIn({
      migration,
      spec: first,
      app,
      rows: opts.rows,
      onServer: (x) => servers.push(x),
    });
    log(`source ready: schema applied, ${s.seeded} rows in ${app.ack.table}`);
    router = await startRouter();
    const bands: PhaseBand[] = [];
    const w: WalkState = {
      opts,
      file,
      migration,
      first,
      app,
      s,
      revisions,
      log,
      sinceLoad: () => Date.now() - load!.startedAt,
      marks: { freezeAt: null, fullAt: null, promotedAt: null },
      measured: {},
    };
    const { appRole, planAt, smoke, gatesInto, theSwitch, up } = positionSteps(w);
    /** What `pulumi up` of this position deploys: the secrets, the revisions, the traffic. */
    const apply = async (p: Position): Promise<{ spec: CloudSqlMigration; plan: CloudSqlPlan }> => {
      const spec = specAt(file, migration, p, first);
      const plan = planCloudSql(migration, spec);
      s.createSecrets(plan);
      for (const r of plan.revisions)
        if (!revisions.has(r.name))
          revisions.set(r.name, await startRevision(migration, spec, r, s.secrets, app.command));
      router!.setTraffic(plan.traffic.map((t) => ({ ...t, url: revisions.get(t.revision)!.url })));
      return { spec, plan };
    };
    /** One position under load: `before` ahead of the traffic move, `work` after it, then the bake. */
    const hold = async (
      label: string,
      work: (plan: CloudSqlPlan, spec: CloudSqlMigration) => Promise<Check[]>,
      p: Position,
      before?: () => Promise<Check[]>,
    ) => {
      const t0 = w.sinceLoad();
      const ahead = before ? await before() : [];
      const { spec, plan } = await apply(p);
      log(`${label}: ${plan.traffic.map((t) => `${t.revision} ${t.percent}%`).join(", ")}`);
      const checks = [...ahead, ...(await work(plan, spec))];
      await new Promise((r) => setTimeout(r, opts.bakeSeconds * 1000));
      bands.push(bandOf(load!, label, t0, w.sinceLoad(), checks));
      for (const c of checks) log(`  ${c.ok ? "ok  " : "FAIL"} ${c.name}: ${c.detail}`);
    };
    // Baseline first, then the load for the whole walk.
    await apply({ phase: "baseline", attempt: 1 });
    load = startLoad(router.url, opts.rate, { traffic: app.traffic });
    const ctx = transitionContextOf(migration, first, { now: new Date() });
    let last: Position = { phase: "baseline", attempt: first.attempt };
    let position: Position | undefined = last;
    while (position && position.phase !== "decommission") {
      const p: Position = position;
      const from = last;
      const verdict = judgeTransition(from, p, ctx);
      if (!verdict.allowed)
        throw new Error(
          `the engine refuses ${positionLabel(from)} → ${positionLabel(p)}: ${verdict.message}`,
        );
      await hold(
        positionLabel(p),
        (plan, spec) => up(p, plan, spec),
        p,
        async () => [
          ...(await gatesInto(from, p)),
          ...(planAt(p).resources.switch && !w.switched ? await theSwitch(p) : []),
        ],
      );
      last = p;
      if (opts.drill && p.phase === opts.drill) break;
      position = forwardStep(p, ctx);
    }

    let drill: RehearsalReport["drill"];
    if (opts.drill) {
      if (last.phase !== opts.drill)
        throw new Error(`--drill ${opts.drill}: the walk never reached that phase`);
      drill = await drillRollback(w, { from: last, ctx, appRole, load, hold, smoke });
    }
    return await outcomeOf(w, { load, bands, started, drill });
  } finally {
    running.delete(teardown);
    await teardown();
  }
}
