/**
 * DMS source readiness as pure rules over {@link SourceFacts}: each turns facts into one verdict that
 * names the objects concerned. What DMS cannot carry faithfully is a WARN (the operator decides);
 * what makes the job fail to start is a FAIL.
 */
import { REPLICATION_MODES, type ReplicationMode } from "../../infra/config/cloudsql";
import { fail, ok, skip, warn, type CheckResult } from "../lib/verdict";
import type { DestinationFacts, SourceFacts } from "./source-facts";
import { collect, isSessionPooler, TRANSACTION_POOLER_PORT, type SourceContext } from "./source-context";
import { checkReplicationPaths, dmsChecks, logicalChecks } from "./source-paths";

export type { SourceContext };
export { TRANSACTION_POOLER_PORT };

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
