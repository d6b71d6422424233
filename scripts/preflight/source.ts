/** Where the DMS source is (`--source <url>` or the migration's config) and its readiness checks. */
import type { ConnectionOptions } from "node:tls";
import { sourcePasswordKeyOf } from "../../infra/config/secrets";
import { secretsOfUrl } from "../lib/mask";
import { fail, type CheckResult } from "../lib/verdict";
import { checkPostgresConnectivity, describeEndpoint, describePgError, type PgEndpoint } from "./postgres";
import { readSourceFacts } from "./source-facts";
import { evaluateSource } from "./source-rules";
import { loadMigration } from "../../tooling/stack-file";
import { UsageError } from "../lib/cli";

export interface SourceTarget {
  readonly endpoint: PgEndpoint;
  readonly host: string;
  readonly port: number;
  readonly migratedDatabases: readonly string[];
  /** The destination's major version from the migration's config (absent with --source). */
  readonly destinationVersion?: string;
  /** Values to mask in every output line. */
  readonly secrets: readonly string[];
}

export interface SourceRequest {
  readonly source?: string;
  readonly migration?: string;
  readonly stack: string;
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
    secrets: secretsOfUrl(url),
  };
}

/** Why preflight --migration and smoke refuse another kind. */
export const CLOUDSQL_ONLY = "this command checks kind cloudsql (a DMS source / Cloud Run service)";

function fromConfig(req: SourceRequest & { migration: string }, env: NodeJS.ProcessEnv): SourceTarget {
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
    secrets: [password],
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
  if (req.migration) return fromConfig({ ...req, migration: req.migration }, env);
  return undefined;
}

/** `Source connectivity` first; the readiness rules only when it connects. */
export async function checkSource(target: SourceTarget, timeoutMs: number): Promise<CheckResult[]> {
  const connectivity = await checkPostgresConnectivity("Source connectivity", target.endpoint, timeoutMs);
  if (connectivity.status === "FAIL") return [connectivity];
  try {
    const facts = await readSourceFacts(target.endpoint, target.migratedDatabases, timeoutMs);
    return [connectivity, ...evaluateSource(target, facts)];
  } catch (error) {
    const where = describeEndpoint(target.endpoint);
    return [connectivity, fail("Source readiness", describePgError(error, where, timeoutMs))];
  }
}
