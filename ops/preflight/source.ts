/** Where the DMS source is (`--source <url>` or the migration's config) and its readiness checks. */
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import type { ConnectionOptions } from "node:tls";
import { sourcePasswordKeyOf } from "../../infra/config/secrets";
import { secretsOfUrl } from "../lib/mask";
import { fail, ok, skip, type CheckResult } from "../lib/verdict";
import { checkPostgresConnectivity, describeEndpoint, describePgError, type PgEndpoint } from "./postgres";
import { readDestinationFacts, readSourceFacts, type DestinationFacts } from "./source-facts";
import { evaluateSource, type ReplicationMode } from "./source-rules";
import { loadMigration } from "../../tooling/stack-file";
import { UsageError } from "../lib/errors";

export interface SourceTarget {
  readonly endpoint: PgEndpoint;
  readonly host: string;
  readonly port: number;
  readonly migratedDatabases: readonly string[];
  /** The destination's major version from the migration's config (absent with --source). */
  readonly destinationVersion?: string;
  /** The destination itself (Cloud SQL once provisioned), when the operator can reach it. */
  readonly destination?: PgEndpoint;
  /** How DMS reaches the source (config `dms.connectivity`); static IPs need an IPv4 address. */
  readonly connectivity: "static-ip" | "vpc-peering";
  /** The path the migration's config chooses; absent with --source (both are judged). */
  readonly replication?: ReplicationMode;
  /** Schemas the logical path publishes (config `logical.schemas`). */
  readonly schemas?: readonly string[];
  /** Values to mask in every output line. */
  readonly secrets: readonly string[];
}

export interface SourceRequest {
  readonly source?: string;
  /** A URL of the destination (Cloud SQL after provision), to compare versions and extensions live. */
  readonly destination?: string;
  readonly migration?: string;
  /** The stack whose file holds `migration`: named, never assumed. */
  readonly stack?: string;
  readonly sslmode?: string;
  readonly databases?: readonly string[];
  readonly dir?: string;
}

export const SSL_MODES = ["disable", "require", "verify-full"] as const;

function tlsOptions(mode: string, ca?: string): false | ConnectionOptions {
  switch (mode) {
    case "disable":
      return false;
    case "require":
      return { rejectUnauthorized: false };
    case "verify-full":
      return { rejectUnauthorized: true, ...(ca ? { ca } : {}) };
  }
  throw new UsageError(`--sslmode ${mode} is not supported; expected one of ${SSL_MODES.join(", ")}`);
}

function fromUrl(url: string, req: SourceRequest): SourceTarget {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(
      "--source is not a URL; expected postgres://… with user, password, host, port and database",
    );
  }
  if (!/^postgres(ql)?:$/.test(parsed.protocol)) {
    throw new UsageError(`--source must be a postgres:// URL, got ${parsed.protocol}//…`);
  }
  // An explicit --sslmode replaces the URL's: the driver would let the URL's parameter win.
  if (req.sslmode) parsed.searchParams.delete("sslmode");
  const database = decodeURIComponent(parsed.pathname.slice(1)) || "postgres";
  return {
    endpoint: { url: parsed.toString(), ...(req.sslmode ? { ssl: tlsOptions(req.sslmode) } : {}) },
    host: parsed.hostname,
    port: Number(parsed.port || 5432),
    migratedDatabases: req.databases?.length ? req.databases : [database],
    connectivity: "static-ip",
    ...destinationOf(req),
    secrets: [...secretsOfUrl(url), ...secretsOfUrl(req.destination)],
  };
}

/** Why preflight --migration and smoke refuse another kind. */
export const CLOUDSQL_ONLY = "this command checks kind cloudsql (a DMS source / Cloud Run service)";

function fromConfig(
  req: SourceRequest & { migration: string; stack: string },
  env: NodeJS.ProcessEnv,
): SourceTarget {
  const migration = loadMigration(req.stack, req.migration, {
    dir: req.dir,
    kind: "cloudsql",
    purpose: CLOUDSQL_ONLY,
  });
  const { source } = migration;
  const password = env.SOURCE_PASSWORD ?? env.PGPASSWORD;
  const secretKey = sourcePasswordKeyOf(req.migration, migration);
  if (!password) {
    throw new UsageError(
      `no source password: set SOURCE_PASSWORD (config secret cutover:${secretKey} is encrypted); hint: ` +
        `SOURCE_PASSWORD="$(pulumi config get ${secretKey} --stack ${req.stack})"`,
    );
  }
  return {
    endpoint: {
      config: {
        host: source.host,
        port: source.port,
        database: source.database,
        user: source.user,
        password,
        ssl: tlsOptions(req.sslmode ?? "verify-full", source.caCertificate),
      },
    },
    host: source.host,
    port: source.port,
    migratedDatabases: req.databases?.length ? req.databases : migration.dms.databases,
    destinationVersion: migration.cloudSql.databaseVersion,
    connectivity: migration.dms.connectivity,
    replication: migration.replication,
    schemas: migration.logical.schemas,
    ...destinationOf(req),
    secrets: [password, ...secretsOfUrl(req.destination)],
  };
}

/** Undefined when neither `--source` nor `--migration` was given: the source checks are opt-in. */
export function resolveSource(req: SourceRequest, env: NodeJS.ProcessEnv): SourceTarget | undefined {
  if (req.sslmode && !(SSL_MODES as readonly string[]).includes(req.sslmode)) {
    throw new UsageError(
      `--sslmode ${req.sslmode} is not supported; expected one of ${SSL_MODES.join(", ")}`,
    );
  }
  if (req.source && req.migration) {
    throw new UsageError("give either --source <url> or --migration <name>, not both");
  }
  if (req.source) return fromUrl(req.source, req);
  if (req.migration) {
    // Prod's source judged by staging's file would mislead: the stack is said, not defaulted.
    if (req.stack === undefined)
      throw new UsageError(
        `--migration ${req.migration} needs the stack whose file holds it`,
        `-s <stack>, e.g. cutover check preflight -s staging -m ${req.migration}`,
      );
    return fromConfig({ ...req, migration: req.migration, stack: req.stack }, env);
  }
  return undefined;
}

function destinationOf(req: SourceRequest): { destination?: PgEndpoint } {
  if (!req.destination) return {};
  if (!/^postgres(ql)?:\/\//.test(req.destination))
    throw new UsageError(
      "--target must be a postgres:// URL of the Cloud SQL instance (through the Auth Proxy or from the VPC)",
    );
  return { destination: { url: req.destination } };
}

/**
 * DMS's static-IP connectivity reaches the source over IPv4, and Supabase's direct host is IPv6-only unless
 * the project has the IPv4 add-on: the host must resolve to an IPv4 address.
 */
export async function checkIpv4(
  host: string,
  connectivity: SourceTarget["connectivity"],
  replication?: ReplicationMode,
): Promise<CheckResult> {
  const name = "IPv4 address";
  // Cloud SQL's subscription reaches the source from Google's network, as DMS's static IPs do.
  if (connectivity !== "static-ip" && replication !== "logical")
    return skip(name, `dms.connectivity is ${connectivity}`);
  try {
    // An IP literal is its own answer (the resolver would echo an IPv6 literal back as is).
    if (isIP(host) === 4) return ok(name, host);
    if (isIP(host) === 6) throw new Error("IPv6 literal");
    const { address } = await lookup(host, { family: 4 });
    return ok(name, `${host} → ${address}`);
  } catch {
    return fail(
      name,
      replication === "logical"
        ? `${host} has no IPv4 address; Cloud SQL's subscription reaches the source over IPv4 and cannot use a pooler: enable Supabase's IPv4 add-on`
        : `${host} has no IPv4 address; DMS (static-IP connectivity) reaches the source over IPv4: enable Supabase's IPv4 add-on, or use the session pooler host (IPv4) on port 5432`,
    );
  }
}

/** `Source connectivity` first; the readiness rules only when it connects. */
export async function checkSource(target: SourceTarget, timeoutMs: number): Promise<CheckResult[]> {
  const connectivity = await checkPostgresConnectivity("Source connectivity", target.endpoint, timeoutMs);
  if (connectivity.status === "FAIL") return [connectivity];
  const ipv4 = await checkIpv4(target.host, target.connectivity, target.replication);
  let destination: DestinationFacts | undefined;
  if (target.destination) {
    try {
      destination = await readDestinationFacts(target.destination, timeoutMs);
    } catch (error) {
      return [
        connectivity,
        ipv4,
        fail(
          "Destination connectivity",
          describePgError(error, describeEndpoint(target.destination), timeoutMs),
        ),
      ];
    }
  }
  try {
    const facts = await readSourceFacts(target.endpoint, target.migratedDatabases, timeoutMs, target.schemas);
    return [connectivity, ipv4, ...evaluateSource(target, facts, destination)];
  } catch (error) {
    const where = describeEndpoint(target.endpoint);
    return [connectivity, ipv4, fail("Source readiness", describePgError(error, where, timeoutMs))];
  }
}
