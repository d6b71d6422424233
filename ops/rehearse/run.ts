/**
 * Over 300 lines: one walk whose steps are closures over one stand-in's state (servers, revisions,
 * secrets, the load); the one-CLI work (issue 25) moves the per-phase gates to the kinds' registry.
 *
 * The dress rehearsal of a cloudsql cutover on this machine: a local stand-in of production built from
 * the stack file and the engine's plans, driven phase by phase under a fixed write load. Every server is
 * real, on loopback, started here and stopped at the end (also on failure).
 */
import { randomBytes } from "node:crypto";
import { withClient } from "./pg";
import { CONFIG_KEY } from "../../infra/config/common";
import type { CloudSqlMigration } from "../../infra/config/cloudsql";
import { parseMigrations } from "../../infra/config/load";
import { planCloudSql, type CloudSqlPlan } from "../../infra/engine/cloudsql";
import { managedSecretIds } from "../../infra/engine/env";
import { transitionContextOf } from "../../infra/engine/plan";
import { POST_PROMOTION_SQL } from "../../infra/engine/sequences";
import { forwardStep, judgeTransition, positionLabel, type Position } from "../../infra/engine/transitions";
import { checkSource, resolveSource } from "../preflight/source";
import { expectationFor } from "../smoke/expectations";
import { runSmoke } from "../smoke/run";
import { startPostgres } from "../../tooling/local-postgres";
import { startRedis } from "../../tooling/local-redis";
import { readStackConfig, type StackConfig } from "../../tooling/stack-file";
import { migrationAt } from "./spec-at";
import { startLoad, type Load } from "./load";
import { startReplication, type Replication } from "./replication";
import { resolveEnv, startRevision, type RunningRevision } from "./revisions";
import { startRouter, type Router } from "./router";
import { execFile } from "node:child_process";
import { quoteIdent } from "../validate/pg-sql";
import { readFileSync } from "node:fs";
import { revisionEnv } from "../../infra/engine/env";
import { PLATFORM_DELAYS, projectAlternatives, projectWindow } from "../../infra/engine/window";
import { prepareLogicalDestination, prepareSupabaseLikeSource, startLogicalReplication } from "./logical";
import { observeWindow } from "./window";
import {
  BUILT_IN_APP,
  type AppUnderTest,
  type PhaseBand,
  type RehearsalOptions,
  type RehearsalReport,
} from "./report";

export { BUILT_IN_APP, type AppUnderTest, type PhaseBand, type RehearsalOptions, type RehearsalReport };
import { thawSource } from "../replication/source-freeze";
import { compareExactly } from "../replication/switch-freeze";
import { rehearseSwitch } from "./switch";

const accepted = (status: number) => status >= 200 && status < 300;

/** Runs a shell command with `env` added; rejects with its stderr on failure. */
function runCommand(command: string, env: Record<string, string>, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      "/bin/sh",
      ["-c", command],
      { env: { ...process.env, ...env }, maxBuffer: 16 * 1024 * 1024, timeout: 600_000 },
      (error, _out, stderr) =>
        error
          ? reject(new Error(`${what} (${command}) failed: ${stderr.trim() || error.message}`))
          : resolve(),
    );
  });
}

const pct = (sorted: readonly number[], p: number) =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

/** The spec of `migration` at a position; the route rehearsed (--write-move) replaces the stack's. */
function specAt(
  file: StackConfig,
  migration: string,
  p: Position,
  writeMove: CloudSqlMigration["writeMove"],
): CloudSqlMigration {
  const spec = migrationAt(file, migration, p, (entry) => (entry.writeMove = writeMove));
  if (spec.kind !== "cloudsql") throw new Error(`${migration} is not a cloudsql migration`);
  return spec;
}

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
  const mode = opts.replication ?? declared.replication;
  const writeMove = opts.writeMove ?? declared.writeMove;
  const first: CloudSqlMigration = { ...declared, replication: mode, writeMove };
  const logical = mode === "logical";
  const database = first.source.database;
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
    const [source, destination, redis] = await Promise.all([
      startPostgres(logical ? { logical: true, system: true } : { pglogical: true }),
      startPostgres(logical ? { logical: true, system: true } : { pglogical: true }),
      startRedis({ tls: true }),
    ]);
    servers.push(source, destination, redis);
    const sourceUrl = logical ? await prepareSupabaseLikeSource(source, database) : source.urlFor(database);
    const appUser = { user: first.cloudSql.user, password: randomBytes(12).toString("hex") };
    if (logical) await prepareLogicalDestination(destination, database, appUser);
    const destAppUrl = destination
      .urlFor(database)
      .replace(`${destination.user}:${destination.password}`, `${appUser.user}:${appUser.password}`);
    const token = randomBytes(12).toString("hex");
    // The user's secrets point at the source; the program's own ones exist once a phase creates them.
    const secrets: Record<string, string> = {};
    for (const [name, ref] of Object.entries(first.cloudRun.secretEnv))
      secrets[ref.secret] =
        name === "DATABASE_URL" || name === "DIRECT_URL"
          ? sourceUrl
          : name === "ADMIN_STATUS_TOKEN"
            ? token
            : `rehearsal-${name.toLowerCase()}`;
    const ids = managedSecretIds(migration);
    const createSecrets = (plan: CloudSqlPlan) => {
      if (plan.resources.secrets) {
        secrets[ids.databaseUrl] = destAppUrl;
        secrets[ids.directUrl] = destAppUrl;
      }
      if (plan.resources.redis) {
        secrets[ids.redisUrl] = redis.url;
        secrets[ids.redisCa] = readFileSync(redis.caFile!, "utf8");
      }
    };

    const app = opts.app ?? BUILT_IN_APP;
    // The runbook's source preparation for DMS: pglogical in every migrated database.
    if (!logical) await withClient(sourceUrl, (c) => c.query("CREATE EXTENSION IF NOT EXISTS pglogical"));
    await runCommand(
      app.schemaCommand,
      { DATABASE_URL: sourceUrl, DIRECT_URL: sourceUrl },
      "the schema command",
    );
    const ackTable = `${quoteIdent(app.ack.table)}`;
    const ackColumn = quoteIdent(app.ack.column);
    await withClient(sourceUrl, async (c) => {
      const { rows } = await c.query(
        "SELECT 1 FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1 AND column_name = $2",
        [app.ack.table, app.ack.column],
      );
      if (rows.length === 0)
        throw new Error(
          `the schema command created no column ${app.ack.table}.${app.ack.column} on the source: that is where the rehearsal looks for acknowledged writes (--ack)`,
        );
      if (app.seedSql !== undefined) await c.query(app.seedSql);
      else if (app === BUILT_IN_APP)
        await c.query(
          `INSERT INTO "ChatMessage" ("clientId", "conversationId", body)
           SELECT 'seed-' || i, i % 1000, repeat('x', 64) FROM generate_series(1, $1::int) i`,
          [opts.rows],
        );
    });
    const seeded = await withClient(
      sourceUrl,
      async (c) => (await c.query(`SELECT count(*)::int AS n FROM ${ackTable}`)).rows[0].n as number,
    );
    log(`source ready: schema applied, ${seeded} rows in ${app.ack.table}`);

    router = await startRouter();
    let replication: Replication | undefined;
    const bands: PhaseBand[] = [];
    let validation: RehearsalReport["validation"];
    let freezeAt: number | null = null;
    let fullAt: number | null = null;
    let promotedAt: number | null = null;
    // The gates' work, measured, for the production projection.
    const measured: { freezeGateSeconds?: number; promoteWorkSeconds?: number; smokeSeconds?: number } = {};

    const apply = async (p: Position): Promise<{ spec: CloudSqlMigration; plan: CloudSqlPlan }> => {
      const spec: CloudSqlMigration = { ...specAt(file, migration, p, writeMove), replication: mode };
      const plan = planCloudSql(migration, spec);
      createSecrets(plan);
      for (const r of plan.revisions) {
        if (!revisions.has(r.name))
          revisions.set(r.name, await startRevision(migration, spec, r, secrets, app.command));
      }
      router!.setTraffic(plan.traffic.map((t) => ({ ...t, url: revisions.get(t.revision)!.url })));
      return { spec, plan };
    };

    const hold = async (
      label: string,
      work: (spec: CloudSqlMigration, plan: CloudSqlPlan) => Promise<PhaseBand["checks"]>,
      p: Position,
      before?: () => Promise<PhaseBand["checks"]>,
    ) => {
      const t0 = Date.now() - load!.startedAt;
      // What must happen before traffic moves to this position (the switch), inside its band.
      const first = before ? await before() : [];
      const { spec, plan } = await apply(p);
      log(`${label}: ${plan.traffic.map((t) => `${t.revision} ${t.percent}%`).join(", ")}`);
      const checks = [...first, ...(await work(spec, plan))];
      await new Promise((r) => setTimeout(r, opts.bakeSeconds * 1000));
      const t1 = Date.now() - load!.startedAt;
      const inBand = load!.samples().filter((s) => s.kind === "write" && s.t >= t0 && s.t < t1);
      const lat = inBand
        .filter((s) => s.status > 0)
        .map((s) => s.ms)
        .sort((a, b) => a - b);
      bands.push({
        position: label,
        startMs: t0,
        endMs: t1,
        writes: {
          accepted: inBand.filter((s) => accepted(s.status)).length,
          refused: inBand.filter((s) => s.status === 503).length,
          errors: inBand.filter((s) => !accepted(s.status) && s.status !== 503).length,
        },
        latencyMs: { p50: pct(lat, 50), p99: pct(lat, 99) },
        checks,
      });
      for (const c of checks) log(`  ${c.ok ? "ok  " : "FAIL"} ${c.name}: ${c.detail}`);
      return { spec, plan };
    };

    const smoke = async (url: string, phase: string) => {
      const results = await runSmoke({
        baseUrl: url,
        auth: { header: "authorization", token },
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
        await withClient(sourceUrl, async (c) =>
          (
            await c.query(
              "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
            )
          ).rows.map((r) => r.table_name as string),
        ),
      );
      return [...new Set([...spec.source.criticalTables, app.ack.table])].filter((t) => present.has(t));
    };
    /** The validate gate: every critical table the app has here and where writes land, exactly. */
    const validateNow = async (
      spec: CloudSqlMigration,
      note: string,
    ): Promise<{ name: string; ok: boolean; detail: string }> => {
      const reports = await compareExactly(
        sourceUrl,
        destination.urlFor(database),
        await tablesToValidate(spec),
        "public",
        60_000,
      );
      const identical = reports.every((r) => r.identical);
      validation = {
        identical,
        detail: `${reports.map((r) => `${r.table} ${r.counts?.source} rows${r.identical ? "" : " DIFFERENT"}`).join(", ")} (${reports[0]?.method ?? "no table"}), ${note}`,
      };
      return { name: "validate", ok: identical, detail: validation.detail };
    };

    /**
     * The migrate job's work, with the env the plan gives that job (the candidate's): the post-promotion
     * SQL first, then the app's own schema migration.
     */
    const migrateJob = async (spec: CloudSqlMigration, plan: CloudSqlPlan) => {
      const env = resolveEnv(
        revisionEnv(migration, spec, plan.migrateJobRevision),
        secrets,
        plan.migrateJobName,
      );
      await withClient(env.DIRECT_URL, (c) => c.query(POST_PROMOTION_SQL));
      await runCommand(app.schemaCommand, env, "the migrate job's schema command");
    };

    let switched: RehearsalReport["switch"];
    /** The app's role on the source: the one the switch freezes (Supabase's `postgres`, here the URL's). */
    const appRole = decodeURIComponent(new URL(sourceUrl).username);
    /**
     * The switch (writeMove: switch), as the program's switch runs it, before traffic moves: the source
     * frozen, the replication at the marker, the exact validation, the promotion, the post-promotion steps
     * and the schema command, the candidate's smoke on its own URL (deployed at replicate).
     */
    const theSwitch = async (p: Position): Promise<PhaseBand["checks"]> => {
      const spec: CloudSqlMigration = { ...specAt(file, migration, p, writeMove), replication: mode };
      const plan = planCloudSql(migration, spec);
      const candidate = revisions.get(plan.revisions.find((r) => r.role === "candidate")!.name);
      if (!candidate)
        throw new Error("the candidate was not deployed before the switch (replicate deploys it)");
      freezeAt = Date.now() - load!.startedAt;
      const dmsWaitSeconds = logical ? 0 : (opts.dmsPromoteSeconds ?? PLATFORM_DELAYS.dmsPromoteSeconds);
      const r = await rehearseSwitch({
        mode,
        sourceUrl,
        destinationUrl: destination.urlFor(database),
        role: appRole,
        tables: await tablesToValidate(spec),
        deadlineSeconds: spec.switch.deadlineSeconds,
        ...(replication?.logical ? { logical: replication.logical } : {}),
        dmsWaitSeconds,
        dmsPromote: async () => {
          await new Promise((resolve) => setTimeout(resolve, dmsWaitSeconds * 1000));
          await replication!.promote();
        },
        promoted: () => (promotedAt = Date.now() - load!.startedAt),
        migrate: () => migrateJob(spec, plan),
        smoke: () => smoke(candidate.url, "switch"),
        log,
      });
      validation = r.validation;
      switched = { terms: r.terms, totalMs: r.totalMs };
      Object.assign(measured, r.measured);
      return r.checks;
    };

    // Baseline first, then the load for the whole walk.
    await apply({ phase: "baseline", attempt: 1 });
    load = startLoad(router.url, opts.rate, { traffic: app.traffic });
    let position: Position | undefined = { phase: "baseline", attempt: first.attempt };
    const ctx = transitionContextOf(migration, first, { now: new Date() });
    let last: Position = position;
    while (position && position.phase !== "decommission") {
      const p: Position = position;
      const label = positionLabel(p);
      const verdict = judgeTransition(last, p, ctx);
      if (!verdict.allowed)
        throw new Error(`the engine refuses ${positionLabel(last)} → ${label}: ${verdict.message}`);
      await hold(
        label,
        async (spec, plan) => {
          const checks: { name: string; ok: boolean; detail: string }[] = [];
          if (p.phase === "provision") {
            // The runbook's preflight before the DMS job: the project's own source readiness checks.
            const target = resolveSource(
              {
                source: sourceUrl,
                destination: destination.urlFor(database),
                stack: opts.stack,
                sslmode: "disable",
                databases: [database],
              },
              process.env,
            )!;
            const results = await checkSource(
              { ...target, replication: mode, schemas: spec.logical.schemas },
              5000,
            );
            const failed = results.filter((r) => r.status === "FAIL");
            checks.push({
              name: "preflight",
              ok: failed.length === 0,
              detail: failed.length
                ? failed.map((f) => `${f.name}: ${f.detail}`).join("; ")
                : `${results.length} source checks, ${results.filter((r) => r.status === "WARN").length} warnings`,
            });
          }
          if (plan.resources.replication && !replication) {
            const t = Date.now();
            replication = plan.logical
              ? await startLogicalReplication({
                  name: plan.logical.name,
                  sourceUrl,
                  destinationUrl: destAppUrl,
                  binDir: source.binDir,
                })
              : await startReplication(source, destination, database, appUser);
            checks.push({
              name: "replication",
              ok: true,
              detail: `initial copy (${seeded} rows in ${app.ack.table}) and CDC in ${Date.now() - t} ms`,
            });
          }
          if (p.phase === "freeze") {
            freezeAt = Date.now() - load!.startedAt;
            const gateStarted = Date.now();
            const caught = await replication!.waitCaughtUp();
            const check = await validateNow(spec, `caught up in ${caught} ms`);
            checks.push(check);
            measured.freezeGateSeconds = (Date.now() - gateStarted) / 1000;
            const frozen = plan.revisions.find((r) => !r.writes)!;
            checks.push(await smoke(revisions.get(frozen.name)!.url, "freeze"));
          }
          if (p.phase === "promote") {
            const promoteStarted = Date.now();
            await replication!.waitCaughtUp();
            // DMS's promote operation takes minutes (its documented term); the logical stop does not.
            if (!logical)
              await new Promise((r) =>
                setTimeout(r, (opts.dmsPromoteSeconds ?? PLATFORM_DELAYS.dmsPromoteSeconds) * 1000),
              );
            const workStarted = Date.now();
            await replication!.promote();
            promotedAt = Date.now() - load!.startedAt;
            await migrateJob(spec, plan);
            checks.push({
              name: "post-promotion steps",
              ok: true,
              detail: `${logical ? "replication stopped at its marker" : `DMS promote (${Math.round((workStarted - promoteStarted) / 1000)} s)`}, grant, sequences, materialized views, then the schema command`,
            });
            // The platform's promote is a modelled term of the projection, not measured work.
            measured.promoteWorkSeconds = (Date.now() - workStarted) / 1000;
            const candidate = plan.traffic.find((t) => t.tag === "candidate")!;
            const smokeStarted = Date.now();
            checks.push(await smoke(revisions.get(candidate.revision)!.url, "promote"));
            measured.smokeSeconds = (Date.now() - smokeStarted) / 1000;
          }
          if ((p.phase === "canary" && p.percent === 100) || p.phase === "switch")
            fullAt = Date.now() - load!.startedAt;
          if (p.phase === "stabilize") {
            const serving = plan.traffic.find((t) => t.percent === 100)!;
            checks.push(await smoke(revisions.get(serving.revision)!.url, "stabilize"));
          }
          return checks;
        },
        p,
        p.phase === "switch" ? () => theSwitch(p) : undefined,
      );
      last = p;
      if (opts.drill && p.phase === opts.drill) break;
      position = forwardStep(p, ctx);
    }

    let drill: RehearsalReport["drill"];
    if (opts.drill) {
      if (last.phase !== opts.drill)
        throw new Error(`--drill ${opts.drill}: the walk never reached that phase`);
      const back: Position = { phase: "rollback", rollbackFrom: last.phase, attempt: last.attempt };
      const verdict = judgeTransition(last, back, ctx);
      if (!verdict.allowed)
        throw new Error(`rollback from ${opts.drill} is refused by the engine: ${verdict.message}`);
      const t = Date.now();
      let serviceOk = false;
      await hold(
        positionLabel(back),
        async (_spec, plan) => {
          const stable = plan.traffic.find((x) => x.percent === 100)!;
          const check = await smoke(revisions.get(stable.revision)!.url, "rollback");
          serviceOk = check.ok;
          return [check];
        },
        back,
        // A rollback on the switch route gives writes back to the source before traffic moves to it.
        writeMove === "switch"
          ? async () => {
              await thawSource(sourceUrl, appRole);
              return [{ name: "thaw", ok: true, detail: `role ${appRole} takes writes again` }];
            }
          : undefined,
      );
      // From the rollback to the first write the stable revision accepts through the router.
      const stableName = first.cloudRun.stableRevision;
      const since = t - load.startedAt;
      const firstOnStable = load
        .samples()
        .find((x) => x.kind === "write" && accepted(x.status) && x.t >= since && x.revision === stableName);
      const toStableMs = firstOnStable ? firstOnStable.t + firstOnStable.ms - since : null;
      const onDestination = load
        .samples()
        .filter(
          (s) =>
            s.kind === "write" &&
            accepted(s.status) &&
            revisions.get(s.revision ?? "")?.plan.database === "cloudsql",
        );
      const onSource = await withClient(
        sourceUrl,
        async (c) =>
          (
            await c.query(`SELECT count(*)::int AS n FROM ${ackTable} WHERE ${ackColumn}::text = ANY($1)`, [
              onDestination.map((s) => s.clientId),
            ])
          ).rows[0].n,
      );
      drill = {
        from: opts.drill,
        toStableMs,
        serviceOk: serviceOk && toStableMs !== null,
        writesOnlyOnDestination: onDestination.length - onSource,
      };
    }

    await load.stop();
    const samples = load.samples();
    const acked = load.acknowledged();
    // The final database: the destination once promoted, else still the source.
    const finalIsDestination = promotedAt !== null && !drill;
    const finalUrl = finalIsDestination ? destination.urlFor(database) : sourceUrl;
    const found = await withClient(
      finalUrl,
      async (c) =>
        (
          await c.query(
            `SELECT count(*)::int AS n, count(DISTINCT ${ackColumn})::int AS d FROM ${ackTable} WHERE ${ackColumn}::text = ANY($1)`,
            [acked],
          )
        ).rows[0],
    );
    const writes = samples.filter((s) => s.kind === "write");
    const collisions = writes.filter((s) => s.error === "sequence-collision").length;
    const window = observeWindow(
      samples,
      (s) => revisions.get(s.revision ?? "")?.plan.database === "cloudsql",
      bands,
      { freezeAt, fullAt },
    );
    const delays = { ...PLATFORM_DELAYS, ...opts.delays };
    const projection = { ...projectWindow(migration, first, measured, delays), delays };
    // The options measured beside it: the same run's work on the other routes.
    const alternatives = projectAlternatives(migration, first, measured, delays);
    return {
      stack: opts.stack,
      migration,
      rows: seeded,
      rate: opts.rate,
      durationMs: Date.now() - started,
      phases: bands,
      writes: {
        acknowledged: acked.length,
        foundInFinal: found.n,
        // After a rollback past promotion, the destination's writes are the plan's announced loss, not this.
        lost: acked.length - found.d - (drill?.writesOnlyOnDestination ?? 0),
        duplicates: found.n - found.d,
        refused: writes.filter((s) => s.status === 503).length,
        errors: writes.filter((s) => !accepted(s.status) && s.status !== 503).length,
      },
      replication: mode,
      writeMove,
      ...(switched ? { switch: switched } : {}),
      window,
      projection,
      alternatives,
      sequenceCollisions: collisions,
      ...(validation ? { validation } : {}),
      ...(drill ? { drill } : {}),
      samples,
      final: finalIsDestination ? "destination" : "source",
    };
  } finally {
    running.delete(teardown);
    await teardown();
  }
}
