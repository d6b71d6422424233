/**
 * Over 300 lines: one catalog of short pure rules, one per fact of the source, read and tested as one
 * table (test/ops/preflight-rules.test.ts); splitting it would scatter the catalog.
 *
 * DMS source readiness as pure rules over {@link SourceFacts}: each turns facts into one verdict that
 * names the objects concerned. What DMS cannot carry faithfully is a WARN (the operator decides);
 * what makes the job fail to start is a FAIL.
 */
import { REPLICATION_MODES, type ReplicationMode } from "../../infra/config/cloudsql";
import { fail, ok, skip, warn, type CheckResult } from "../lib/verdict";
import type { DatabaseFacts, DestinationFacts, SourceFacts } from "./source-facts";

export interface SourceContext {
  readonly host: string;
  readonly port: number;
  /** Databases DMS migrates (config `dms.databases`). */
  readonly migratedDatabases: readonly string[];
  /** The destination's `cloudSql.databaseVersion` (e.g. POSTGRES_15), when a migration's config is read. */
  readonly destinationVersion?: string;
  /**
   * The path the migration's config chooses (`replication`). Absent (a bare `--source`): both paths
   * are judged, their own requirements are warnings, and the source fails only when neither can work.
   */
  readonly replication?: ReplicationMode;
}

export { REPLICATION_MODES, type ReplicationMode };

/**
 * DMS standard migrations go to the same or a later major version, never an earlier one ("Supported
 * source and destination databases", cross-version support).
 */
export function checkMajorVersion(ctx: SourceContext, serverVersionNum: number): CheckResult {
  const name = "Major version";
  const source = Math.floor(serverVersionNum / 10000);
  if (ctx.destinationVersion === undefined)
    return skip(
      name,
      `source is PostgreSQL ${source}; pass --migration to compare it with cloudSql.databaseVersion`,
    );
  const destination = Number(/^POSTGRES_(\d+)$/.exec(ctx.destinationVersion)?.[1]);
  if (!Number.isFinite(destination))
    return fail(name, `cannot read the destination version ${ctx.destinationVersion}`);
  return source <= destination
    ? ok(name, `source PostgreSQL ${source} → ${ctx.destinationVersion}`)
    : fail(
        name,
        `source PostgreSQL ${source} is newer than the destination ${ctx.destinationVersion}; DMS does not migrate to an earlier major version: set cloudSql.databaseVersion to POSTGRES_${source} or later`,
      );
}

/** Supabase's transaction-mode pooler (Supavisor) listens here; DMS needs a direct or session connection. */
export const TRANSACTION_POOLER_PORT = 6543;

export function checkDirectConnection(ctx: SourceContext): CheckResult {
  const name = "Direct connection";
  if (ctx.port === TRANSACTION_POOLER_PORT) {
    return fail(
      name,
      `port ${TRANSACTION_POOLER_PORT} is Supabase's transaction pooler; use the direct host db.<ref>.supabase.co:5432 or the session pooler on 5432`,
    );
  }
  if (isSessionPooler(ctx.host)) {
    const detail = `${ctx.host}:${ctx.port} (session-mode pooler)`;
    // A subscription opens a replication connection, which the pooler does not carry.
    return ctx.replication === "logical"
      ? fail(
          name,
          `${detail}: a subscription needs the direct host (db.<ref>.supabase.co:5432), the pooler does not carry replication connections`,
        )
      : ok(name, detail);
  }
  return ok(name, `${ctx.host}:${ctx.port}`);
}

const isSessionPooler = (host: string) => /\.pooler\.supabase\.com$/i.test(host);

function formatBytes(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value >= 10 || unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}

/** With one migrated database the object name is enough; with several, prefix the database. */
function collect(facts: SourceFacts, pick: (db: DatabaseFacts) => readonly string[]): string[] {
  const prefix = facts.perDatabase.length > 1;
  return facts.perDatabase.flatMap((db) => pick(db).map((o) => (prefix ? `${db.name}:${o}` : o)));
}

function objectRule(name: string, objects: readonly string[], problem: string): CheckResult {
  return objects.length === 0 ? ok(name, "none") : warn(name, `${objects.length} ${problem}`, objects);
}

function capacityRule(name: string, setting: string, max: number, used: number, needed: number): CheckResult {
  const free = max - used;
  const figures = `${free} free of ${setting}=${max}; ${needed} needed, one per migrated database`;
  return free >= needed ? ok(name, figures) : fail(name, `${figures}; raise ${setting} and restart`);
}

/** DMS carries pglogical's own objects itself; the rest must be installable on the destination. */
const DMS_OWN_EXTENSIONS = new Set(["pglogical", "pglogical_origin"]);

/**
 * Every extension of a migrated database must be available on the destination (Cloud SQL installs only
 * the extensions it supports, and DMS does not migrate extensions). Read live from the destination's
 * `pg_available_extensions`, so no list of supported extensions is kept here.
 */
export function checkExtensions(facts: SourceFacts, destination?: DestinationFacts): CheckResult {
  const name = "Extensions";
  const used = [...new Set(facts.perDatabase.flatMap((d) => d.extensions))].filter(
    (e) => !DMS_OWN_EXTENSIONS.has(e),
  );
  if (destination === undefined)
    return skip(
      name,
      `${used.length ? used.join(", ") : "none"} in the source; pass --target <url> (Cloud SQL after provision) to check they exist there`,
    );
  const available = new Set(destination.availableExtensions);
  const missing = used.filter((e) => !available.has(e));
  return missing.length === 0
    ? ok(name, used.length ? `${used.join(", ")} available on the destination` : "none to carry")
    : fail(
        name,
        `${missing.length} extension(s) the destination cannot install: drop them on the source or find a replacement before replicate`,
        missing,
      );
}

/** What each path needs of the source beyond the common checks: one problem per unmet need. */
export function pathProblems(ctx: SourceContext, facts: SourceFacts): Record<ReplicationMode, string[]> {
  const s = facts.settings;
  const dms: string[] = [];
  const logical: string[] = [];
  if (s.wal_level !== "logical") {
    dms.push(`wal_level is ${s.wal_level ?? "unknown"}`);
    logical.push(`wal_level is ${s.wal_level ?? "unknown"}`);
  }
  if (!facts.pglogicalAvailable) dms.push("pglogical is not available on this server");
  else {
    const preload = preloaded(facts);
    if (preload === false) dms.push("pglogical is not preloaded");
    if (facts.perDatabase.some((d) => !d.pglogicalInstalled)) dms.push("pglogical is not created");
  }
  if (ctx.port === TRANSACTION_POOLER_PORT || isSessionPooler(ctx.host))
    logical.push("the connection goes through a pooler");
  if (!facts.role.superuser && !facts.role.replication)
    logical.push(`role ${facts.role.name} has no REPLICATION`);
  if (facts.perDatabase.some((d) => !d.canCreate && !facts.role.superuser))
    logical.push(`role ${facts.role.name} may not CREATE in the database`);
  const notOwned = facts.perDatabase.flatMap((d) => d.tablesNotOwned);
  if (notOwned.length > 0 && !facts.role.superuser)
    logical.push(`${notOwned.length} table(s) not owned by ${facts.role.name}`);
  return { dms, logical };
}

/** True / false when the role can read `shared_preload_libraries`; undefined when it cannot. */
function preloaded(facts: SourceFacts): boolean | undefined {
  const libs = facts.settings.shared_preload_libraries;
  if (libs === undefined) return undefined;
  return libs
    .split(",")
    .map((l) => l.trim().replace(/"/g, ""))
    .includes("pglogical");
}

/** The summary: which paths this source supports, and whether the configured one is among them. */
export function checkReplicationPaths(ctx: SourceContext, facts: SourceFacts): CheckResult {
  const name = "Replication paths";
  const problems = pathProblems(ctx, facts);
  const say = (mode: ReplicationMode) =>
    problems[mode].length === 0
      ? `${mode}: possible`
      : `${mode}: not possible (${problems[mode].join("; ")})`;
  const detail = `${say("dms")}; ${say("logical")}`;
  const possible = REPLICATION_MODES.filter((m) => problems[m].length === 0);
  if (ctx.replication === undefined)
    return possible.length > 0
      ? ok(name, detail)
      : fail(name, `${detail}; no path can start from this source`);
  if (possible.includes(ctx.replication)) return ok(name, `${detail}; the config chooses ${ctx.replication}`);
  const other = possible.find((m) => m !== ctx.replication);
  return fail(
    name,
    `${detail}; the config chooses ${ctx.replication}${other ? `: set replication: ${other} (the other path works from this source)` : ""}`,
  );
}

/** Findings of the path the config does not choose are not shown; without a config they warn. */
function forPath(ctx: SourceContext, mode: ReplicationMode, result: CheckResult): CheckResult[] {
  if (ctx.replication === undefined)
    return [
      result.status === "FAIL" ? { ...warn(result.name, result.detail ?? "", result.objects) } : result,
    ];
  return ctx.replication === mode ? [result] : [];
}

function dmsChecks(ctx: SourceContext, facts: SourceFacts): CheckResult[] {
  const s = facts.settings;
  const withoutPglogical = facts.perDatabase.filter((d) => !d.pglogicalInstalled).map((d) => d.name);
  const preload = preloaded(facts);
  const results: CheckResult[] = [];
  if (!facts.pglogicalAvailable) {
    results.push(
      fail(
        "pglogical available",
        "not in pg_available_extensions: this server cannot have pglogical (a managed source such as Supabase does not offer it), so DMS cannot read it; set replication: logical",
      ),
    );
  } else {
    results.push(
      preload === undefined
        ? warn(
            "pglogical preloaded",
            `role ${facts.role.name} may not read shared_preload_libraries; check that it holds pglogical`,
          )
        : preload
          ? ok("pglogical preloaded", "in shared_preload_libraries")
          : fail(
              "pglogical preloaded",
              `shared_preload_libraries is '${s.shared_preload_libraries ?? ""}'; add pglogical and restart`,
            ),
      withoutPglogical.length === 0
        ? ok("pglogical installed", facts.perDatabase.map((d) => d.name).join(", "))
        : fail(
            "pglogical installed",
            `not created in ${withoutPglogical.length} database(s), run CREATE EXTENSION pglogical there`,
            withoutPglogical,
          ),
    );
  }
  results.push(
    facts.databases.includes("postgres")
      ? ok("postgres database", "exists")
      : fail("postgres database", "missing; DMS connects to it (CREATE DATABASE postgres)"),
  );
  return results.flatMap((r) => forPath(ctx, "dms", r));
}

function logicalChecks(ctx: SourceContext, facts: SourceFacts): CheckResult[] {
  const role = facts.role;
  const notOwned = collect(facts, (d) => d.tablesNotOwned);
  const noCreate = facts.perDatabase.filter((d) => !d.canCreate).map((d) => d.name);
  const results: CheckResult[] = [
    role.superuser || role.replication
      ? ok("Role may replicate", `${role.name}: ${role.superuser ? "superuser" : "REPLICATION"}`)
      : fail(
          "Role may replicate",
          `${role.name} has no REPLICATION attribute: the subscription connects as this role; use a role that has it (on Supabase, postgres)`,
        ),
    role.superuser || noCreate.length === 0
      ? ok(
          "Role may publish",
          `${role.name} may CREATE in ${facts.perDatabase.map((d) => d.name).join(", ")}`,
        )
      : fail(
          "Role may publish",
          `${role.name} may not CREATE PUBLICATION (no CREATE on the database)`,
          noCreate,
        ),
    role.superuser || notOwned.length === 0
      ? ok("Tables owned", `every replicated table belongs to ${role.name}`)
      : fail(
          "Tables owned",
          `${notOwned.length} table(s) of the replicated schemas belong to another role; a publication lists only tables its creator owns: ALTER TABLE … OWNER TO ${role.name}, or connect as their owner`,
          notOwned,
        ),
  ];
  return results.flatMap((r) => forPath(ctx, "logical", r));
}

export function evaluateSource(
  ctx: SourceContext,
  facts: SourceFacts,
  destination?: DestinationFacts,
): CheckResult[] {
  const s = facts.settings;
  const needed = ctx.migratedDatabases.length;
  const missing = ctx.migratedDatabases.filter((d) => !facts.databases.includes(d));
  const largeObjects = facts.perDatabase.filter((d) => d.largeObjects > 0);
  const totalSize = facts.perDatabase.reduce((sum, d) => sum + d.sizeBytes, 0);

  return [
    checkReplicationPaths(ctx, facts),
    checkDirectConnection(ctx),
    checkMajorVersion(
      destination
        ? { ...ctx, destinationVersion: `POSTGRES_${Math.floor(destination.serverVersionNum / 10000)}` }
        : ctx,
      facts.serverVersionNum,
    ),
    checkExtensions(facts, destination),
    s.wal_level === "logical"
      ? ok("wal_level", "logical")
      : fail(
          "wal_level",
          `is ${s.wal_level ?? "unknown"}; replication needs logical (set wal_level=logical and restart)`,
        ),
    ...dmsChecks(ctx, facts),
    ...logicalChecks(ctx, facts),
    missing.length === 0
      ? ok("Migrated databases", ctx.migratedDatabases.join(", "))
      : fail("Migrated databases", "not found on the source (check dms.databases)", missing),
    capacityRule(
      "Replication slots",
      "max_replication_slots",
      Number(s.max_replication_slots ?? 0),
      facts.usedReplicationSlots,
      needed,
    ),
    capacityRule(
      "WAL senders",
      "max_wal_senders",
      Number(s.max_wal_senders ?? 0),
      facts.activeWalSenders,
      needed,
    ),
    objectRule(
      "Tables without primary key",
      collect(facts, (d) => d.tablesWithoutPk),
      "table(s) get only INSERTs during CDC (add a primary key)",
    ),
    objectRule(
      "UNLOGGED tables",
      collect(facts, (d) => d.unloggedTables),
      "table(s) not replicated (ALTER TABLE … SET LOGGED)",
    ),
    objectRule(
      "Generated columns",
      collect(facts, (d) => d.generatedColumns),
      "column(s) not carried; recreated by the schema, check values after promotion",
    ),
    largeObjects.length === 0
      ? ok("Large objects", "none")
      : warn(
          "Large objects",
          "not replicated (move them to bytea or object storage)",
          largeObjects.map((d) => `${d.name}: ${d.largeObjects}`),
        ),
    objectRule(
      "Materialized views",
      collect(facts, (d) => d.materializedViews),
      "view(s) arrive empty: REFRESH MATERIALIZED VIEW after promotion",
    ),
    objectRule(
      "Sequences to reset after promotion",
      collect(facts, (d) => d.sequences),
      "sequence(s) may lag: set to max(id)+1 after promotion",
    ),
    ok(
      "Database size",
      `${formatBytes(totalSize)} total; ${facts.perDatabase.map((d) => `${d.name} ${formatBytes(d.sizeBytes)}`).join(", ")}`,
    ),
  ];
}
