/** Reads what DMS readiness depends on from a live source: settings, slots, and per-database objects. */
import type { Client } from "pg";
import { withClient, type PgEndpoint } from "./postgres";

export interface DatabaseFacts {
  readonly name: string;
  readonly pglogicalInstalled: boolean;
  /** The role may create in the database (CREATE PUBLICATION needs it). */
  readonly canCreate: boolean;
  /** Tables of the replicated schemas the role does not own (a publication FOR TABLE needs ownership). */
  readonly tablesNotOwned: readonly string[];
  readonly sizeBytes: number;
  readonly tablesWithoutPk: readonly string[];
  readonly unloggedTables: readonly string[];
  /** `schema.table.column` */
  readonly generatedColumns: readonly string[];
  readonly largeObjects: number;
  readonly materializedViews: readonly string[];
  readonly sequences: readonly string[];
  /** Extensions created in the database (plpgsql, always there, left out). */
  readonly extensions: readonly string[];
}

/** What the preflight reads of the destination (Cloud SQL once provisioned), when it can reach it. */
export interface DestinationFacts {
  readonly serverVersionNum: number;
  /** `pg_available_extensions`: what CREATE EXTENSION can install there. */
  readonly availableExtensions: readonly string[];
}

/** The connecting role's attributes. */
export interface RoleFacts {
  readonly name: string;
  readonly superuser: boolean;
  /** May open replication connections (a subscription's connection to the source needs it). */
  readonly replication: boolean;
}

export interface SourceFacts {
  /** `server_version_num`, e.g. 150018 for 15.18. */
  readonly serverVersionNum: number;
  /** Settings the role may read: a non-superuser may not see `shared_preload_libraries` (absent then). */
  readonly settings: Readonly<Record<string, string>>;
  /** pglogical is in `pg_available_extensions`: the server could have it at all. */
  readonly pglogicalAvailable: boolean;
  readonly role: RoleFacts;
  readonly usedReplicationSlots: number;
  readonly activeWalSenders: number;
  /** Every non-template database on the server. */
  readonly databases: readonly string[];
  /** Facts of each migrated database that exists. */
  readonly perDatabase: readonly DatabaseFacts[];
}

const SETTINGS = ["wal_level", "shared_preload_libraries", "max_replication_slots", "max_wal_senders"];

// Schemas that are the server's or pglogical's own, not application data DMS would carry.
const USER_RELATION = `
  n.nspname not in ('pg_catalog', 'information_schema', 'pglogical')
  and n.nspname not like 'pg\\_toast%' and n.nspname not like 'pg\\_temp%'`;

const QUERIES = {
  tablesWithoutPk: `
    select format('%I.%I', n.nspname, c.relname) as name from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    where c.relkind in ('r', 'p') and not c.relispartition and ${USER_RELATION}
      and not exists (select 1 from pg_constraint k where k.conrelid = c.oid and k.contype = 'p')
    order by 1`,
  unloggedTables: `
    select format('%I.%I', n.nspname, c.relname) as name from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    where c.relkind in ('r', 'p') and c.relpersistence = 'u' and ${USER_RELATION}
    order by 1`,
  generatedColumns: `
    select format('%I.%I.%I', n.nspname, c.relname, a.attname) as name from pg_attribute a
    join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
    where a.attgenerated <> '' and not a.attisdropped and c.relkind in ('r', 'p') and ${USER_RELATION}
    order by 1`,
  materializedViews: `
    select format('%I.%I', n.nspname, c.relname) as name from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    where c.relkind = 'm' and ${USER_RELATION} order by 1`,
  sequences: `
    select format('%I.%I', n.nspname, c.relname) as name from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    where c.relkind = 'S' and ${USER_RELATION} order by 1`,
} as const;

async function names(client: Client, sql: string): Promise<string[]> {
  return (await client.query<{ name: string }>(sql)).rows.map((r) => r.name);
}

async function readDatabase(
  client: Client,
  name: string,
  schemas: readonly string[],
): Promise<DatabaseFacts> {
  const scalar = async (sql: string) => (await client.query(sql)).rows[0].v;
  return {
    name,
    pglogicalInstalled: await scalar(
      "select exists(select 1 from pg_extension where extname = 'pglogical') as v",
    ),
    canCreate: await scalar("select has_database_privilege(current_database(), 'CREATE') as v"),
    tablesNotOwned: (
      await client.query<{ name: string }>(
        `select format('%I.%I', n.nspname, c.relname) as name from pg_class c
           join pg_namespace n on n.oid = c.relnamespace
          where c.relkind in ('r', 'p') and not c.relispartition and n.nspname = any($1)
            and not pg_has_role(c.relowner, 'USAGE') order by 1`,
        [schemas],
      )
    ).rows.map((r) => r.name),
    sizeBytes: Number(await scalar("select pg_database_size(current_database()) as v")),
    tablesWithoutPk: await names(client, QUERIES.tablesWithoutPk),
    unloggedTables: await names(client, QUERIES.unloggedTables),
    generatedColumns: await names(client, QUERIES.generatedColumns),
    largeObjects: Number(await scalar("select count(*) as v from pg_largeobject_metadata")),
    materializedViews: await names(client, QUERIES.materializedViews),
    sequences: await names(client, QUERIES.sequences),
    extensions: await names(
      client,
      "select extname as name from pg_extension where extname <> 'plpgsql' order by 1",
    ),
  };
}

/** The destination's version and installable extensions (one connection). */
export function readDestinationFacts(endpoint: PgEndpoint, timeoutMs: number): Promise<DestinationFacts> {
  return withClient(endpoint, timeoutMs, async (client) => ({
    serverVersionNum: Number((await client.query("show server_version_num")).rows[0].server_version_num),
    availableExtensions: await names(client, "select name from pg_available_extensions order by 1"),
  }));
}

/** One connection for the server-wide facts, then one per migrated database (catalogs are per database). */
export async function readSourceFacts(
  endpoint: PgEndpoint,
  migratedDatabases: readonly string[],
  timeoutMs: number,
  /** Schemas the logical path publishes. @default ["public"] */
  schemas: readonly string[] = ["public"],
): Promise<SourceFacts> {
  const server = await withClient(endpoint, timeoutMs, async (client) => {
    const rows = (
      await client.query<{ name: string; setting: string }>(
        "select name, setting from pg_settings where name = any($1)",
        [SETTINGS],
      )
    ).rows;
    const count = async (sql: string) => Number((await client.query(sql)).rows[0].n);
    return {
      serverVersionNum: Number((await client.query("show server_version_num")).rows[0].server_version_num),
      settings: Object.fromEntries(rows.map((r) => [r.name, r.setting])),
      pglogicalAvailable: (
        await client.query(
          "select exists(select 1 from pg_available_extensions where name = 'pglogical') as v",
        )
      ).rows[0].v as boolean,
      role: (
        await client.query<RoleFacts>(
          `select rolname as name, rolsuper as superuser, rolreplication as replication
             from pg_roles where rolname = current_user`,
        )
      ).rows[0],
      usedReplicationSlots: await count("select count(*) as n from pg_replication_slots"),
      activeWalSenders: await count("select count(*) as n from pg_stat_replication"),
      databases: (
        await client.query<{ datname: string }>(
          "select datname from pg_database where not datistemplate order by 1",
        )
      ).rows.map((r) => r.datname),
    };
  });
  const perDatabase: DatabaseFacts[] = [];
  for (const name of migratedDatabases.filter((d) => server.databases.includes(d))) {
    perDatabase.push(
      await withClient(endpoint, timeoutMs, (client) => readDatabase(client, name, schemas), name),
    );
  }
  return { ...server, perDatabase };
}
