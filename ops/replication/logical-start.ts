/** `start` of the logical path: the schema copied, the publications and the subscription created. */
import type { Client } from "pg";
import {
  exists,
  ident,
  literal,
  names,
  ReplicationError,
  run,
  sourceTables,
  withBoth,
  type LogicalOptions,
  type SourceTable,
} from "./logical-parts";

/** The schema of the published schemas, copied once: a destination holding every table is left alone. */
async function copySchema(
  opts: LogicalOptions,
  destination: Client,
  tables: readonly SourceTable[],
): Promise<boolean> {
  const present = (
    await destination.query<{ name: string }>(
      `select format('%I.%I', n.nspname, c.relname) as name from pg_class c
         join pg_namespace n on n.oid = c.relnamespace where c.relkind in ('r', 'p') and n.nspname = any($1)`,
      [opts.schemas ?? ["public"]],
    )
  ).rows.map((r) => r.name);
  const missing = tables.filter((t) => !present.includes(t.table));
  if (missing.length === 0) return false;
  if (missing.length < tables.length)
    throw new ReplicationError(
      `the destination holds ${tables.length - missing.length} of the ${tables.length} source tables (missing: ${missing
        .slice(0, 5)
        .map((t) => t.table)
        .join(", ")}${missing.length > 5 ? ", …" : ""}): a schema copy half done, or another schema`,
      "start from an empty destination database: drop those tables there, or retry with the next attempt",
    );
  const bin = (tool: string) => (opts.binDir ? `${opts.binDir}/${tool}` : tool);
  const schemaArgs = (opts.schemas ?? ["public"]).flatMap((s) => ["--schema", s]);
  const dump = await run(opts, bin("pg_dump"), [
    "--schema-only",
    "--no-owner",
    "--no-privileges",
    "--no-publications",
    "--no-subscriptions",
    ...schemaArgs,
    "--dbname",
    opts.source,
  ]);
  // A schema named with --schema is dumped with its CREATE SCHEMA, and `public` exists everywhere.
  const script = dump.replace(/^CREATE SCHEMA (\S+);$/gm, "CREATE SCHEMA IF NOT EXISTS $1;");
  // psql, not the driver: current pg_dump writes psql meta-commands (\restrict).
  await run(opts, bin("psql"), ["-X", "-q", "-v", "ON_ERROR_STOP=1", "--dbname", opts.destination], script);
  return true;
}

function subscriberConnection(opts: LogicalOptions): string {
  if (opts.subscriberConnection) return opts.subscriberConnection;
  const url = new URL(opts.source);
  if (!url.searchParams.has("sslmode")) url.searchParams.set("sslmode", "require");
  return url.toString();
}

export interface StartResult {
  readonly schemaCopied: boolean;
  readonly publicationCreated: boolean;
  readonly subscriptionCreated: boolean;
  readonly tables: number;
  readonly insertOnly: readonly string[];
}

/** Creates what is missing: schema, publications, subscription. A second run changes nothing. */
export async function startLogical(opts: LogicalOptions): Promise<StartResult> {
  const n = names(opts);
  const schemas = opts.schemas ?? ["public"];
  return withBoth(opts, async (source, destination) => {
    const tables = await sourceTables(source, schemas);
    if (tables.length === 0)
      throw new ReplicationError(
        `no table to replicate in schema(s) ${schemas.join(", ")} of the source`,
        "check replication.schemas and the source database",
      );
    const subscribed = await exists(destination, "select 1 from pg_subscription where subname = $1", [
      n.subscription,
    ]);
    const schemaCopied = subscribed ? false : await copySchema(opts, destination, tables);

    let publicationCreated = false;
    const full = tables.filter((t) => t.identity).map((t) => t.table);
    const insertOnly = tables.filter((t) => !t.identity).map((t) => t.table);
    for (const [pub, list, options] of [
      [n.publication, full, "publish = 'insert, update, delete, truncate'"],
      [n.insertOnly, insertOnly, "publish = 'insert'"],
    ] as const) {
      if (list.length === 0) continue;
      if (await exists(source, "select 1 from pg_publication where pubname = $1", [pub])) continue;
      // FOR TABLE needs only ownership of each table; FOR ALL TABLES would need a superuser.
      await source.query(`create publication ${ident(pub)} for table ${list.join(", ")} with (${options})`);
      publicationCreated = true;
    }

    let subscriptionCreated = false;
    if (!subscribed) {
      const pubs = [full.length ? n.publication : "", insertOnly.length ? n.insertOnly : ""].filter(Boolean);
      // Outside a transaction: CREATE SUBSCRIPTION creates the slot on the source.
      await destination.query(
        `create subscription ${ident(n.subscription)} connection ${literal(subscriberConnection(opts))}
           publication ${pubs.map(ident).join(", ")}
           with (copy_data = true, create_slot = true, slot_name = ${literal(n.subscription)})`,
      );
      subscriptionCreated = true;
    }
    return { schemaCopied, publicationCreated, subscriptionCreated, tables: tables.length, insertOnly };
  });
}
