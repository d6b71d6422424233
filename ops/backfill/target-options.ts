import type Cloudflare from "cloudflare";
import { loadMigration } from "../../tooling/stack-file";
import { UsageError } from "../lib/errors";
import { cloudflareClient } from "../lib/cloudflare";

/** Why a backfill or d1:migrate refuses another kind. */
/** Why a command refuses a cloudsql migration, naming the command. */
export const dualWriteOnly = (command: string) =>
  `${command} works on dual-write migrations (runbook 2); a cloudsql migration moves its data by replication (cutover phase, cutover replication)`;
import type { D1Binding } from "./wrangler-config";
import type { DualWriteMigration } from "../../infra/config/schema";

/** Flags shared by d1:migrate and backfill to say which D1 databases, where. */
export interface TargetOptions {
  readonly stack?: string;
  readonly migration?: string;
  readonly database?: string;
  readonly binding: string;
  readonly local?: boolean;
  readonly remote?: boolean;
  readonly persistTo: string;
  readonly databaseId?: string;
  readonly accountId?: string;
  /** Seconds per Cloudflare API request (remote). */
  readonly requestTimeout?: number;
}

export interface ResolvedTarget {
  readonly local: boolean;
  readonly persistTo: string;
  readonly accountId?: string;
  /** Remote only: the API client (token from CLOUDFLARE_API_TOKEN, never printed). */
  readonly client?: Cloudflare;
  readonly databases: readonly D1Binding[];
  /** The stack's migration when --stack was given. */
  readonly spec?: DualWriteMigration;
}

/** Cloudflare's id of a D1 database, looked up by its name. */
export async function resolveDatabaseId(
  client: Cloudflare,
  accountId: string,
  name: string,
): Promise<string> {
  for await (const db of client.d1.database.list({ account_id: accountId, name })) {
    if (db.name === name && db.uuid) return db.uuid;
  }
  throw new UsageError(
    `D1 database "${name}" not found in account ${accountId}; hint: create it with pulumi up (phase shadow) or pass --database-id`,
  );
}

export async function resolveTarget(
  opts: TargetOptions,
  env = process.env,
  command = "this command",
): Promise<ResolvedTarget> {
  if (Boolean(opts.local) === Boolean(opts.remote)) {
    throw new UsageError(
      "choose exactly one of --local (local D1 on workerd, offline) or --remote (the Cloudflare account)",
    );
  }
  if (opts.stack !== undefined && opts.migration === undefined)
    throw new UsageError(
      `--stack ${opts.stack} needs --migration <name>: which dual-write migration of the stack to work on`,
    );
  const spec = opts.stack
    ? loadMigration(opts.stack, opts.migration!, { kind: "dual-write", purpose: dualWriteOnly(command) })
    : undefined;
  let databases: D1Binding[];
  if (spec) {
    databases = spec.d1.filter((d) => opts.database === undefined || d.name === opts.database);
    if (databases.length === 0) {
      throw new UsageError(
        `D1 database "${opts.database}" is not declared in migration ${opts.migration}; hint: one of ${spec.d1.map((d) => d.name).join(", ")}`,
      );
    }
  } else if (opts.database) {
    databases = [{ name: opts.database, binding: opts.binding }];
  } else {
    throw new UsageError(
      "no D1 database given; hint: pass --stack <stack> --migration <name>, or --database <name> [--binding <NAME>]",
    );
  }
  if (opts.local) return { local: true, persistTo: opts.persistTo, databases, spec };

  const accountId = opts.accountId ?? spec?.cloudflare.accountId;
  if (!accountId)
    throw new UsageError("--remote needs the Cloudflare account; hint: pass --account-id or --stack");
  const token = env.CLOUDFLARE_API_TOKEN;
  if (!token) {
    throw new UsageError(
      "CLOUDFLARE_API_TOKEN is not set; hint: export an API token with D1 edit permission (it is never printed)",
    );
  }
  if (opts.databaseId && databases.length > 1) {
    throw new UsageError("--database-id needs --database to say which database it belongs to");
  }
  // The SDK honours CLOUDFLARE_BASE_URL (an API gateway or a test stand-in).
  const client = await cloudflareClient(token, opts.requestTimeout);
  const withIds = await Promise.all(
    databases.map(async (d) => ({
      ...d,
      databaseId: opts.databaseId ?? (await resolveDatabaseId(client, accountId, d.name)),
    })),
  );
  return { local: false, persistTo: opts.persistTo, accountId, client, databases: withIds, spec };
}
