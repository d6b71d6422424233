/**
 * `cutover replication start|status|stop|freeze-source|thaw-source|switch` — the `replication: logical`
 * path's steps, and the switch's freeze job (`writeMove: switch`). The program runs
 * them as Cloud Run Jobs inside the VPC (start at `replicate`, stop at `promote`); an operator runs
 * `status` from a machine that reaches both databases, or any step again by hand (each is idempotent).
 * Exit 0 done (status: every table streaming); 1 refused or not ready; 2 bad input.
 */
import { addConnectionBounds, newCommand, type Leaf, UsageError, wholeNumber } from "../shell";
import { maskText, secretsOfUrl } from "../../ops/lib/mask";
import {
  ReplicationError,
  startLogical,
  statusLogical,
  stopLogical,
  waitReady,
  type LogicalOptions,
} from "../../ops/replication/logical";
import { freezeSource, thawSource } from "../../ops/replication/source-freeze";
import { describeStatus } from "../../ops/replication/status-text";
import { switchFreeze } from "../../ops/replication/switch-freeze";
import { SwitchError } from "../../infra/replication/switch";

const ACTIONS = ["start", "status", "stop", "freeze-source", "thaw-source", "switch"] as const;
type Action = (typeof ACTIONS)[number];

const program = newCommand("cutover replication")
  .description(
    "Logical replication from the source to Cloud SQL (config replication: logical): start creates the " +
      "publications and the subscription, status shows the copy and the lag, stop (the promotion) waits for " +
      "a marker written after the freeze, moves the sequences and drops the replication.",
  )
  .argument("<action>", ACTIONS.join(" | "))
  .option("--name <name>", "publication, subscription and slot name, e.g. cutover_avvivo_a1")
  .option("--role <role>", "freeze-source, thaw-source, switch: the role the app connects to the source as")
  .option("--mode <path>", "switch: dms or logical (the stack's replication)")
  .option("--tables <list>", "switch: the tables validated after the freeze, comma-separated")
  .option(
    "--deadline <s>",
    "switch: longest the freeze, marker and validation may take",
    wholeNumber("seconds"),
    600,
  )
  .option(
    "--validate-target <url>",
    "switch: Cloud SQL as the validation's reader (default: env VALIDATE_TARGET_URL, else the target)",
  )
  .option("--source <url>", "source as the migration role (default: env SOURCE_DATABASE_URL)")
  .option("--target <url>", "Cloud SQL database (default: env TARGET_DATABASE_URL)")
  .option(
    "--subscriber-connection <conninfo>",
    "how Cloud SQL reaches the source (default: env SUBSCRIBER_CONNECTION, else --source with sslmode=require)",
  )
  .option("--schemas <list>", "schemas to replicate, comma-separated", "public")
  .option("--wait", "start: return once every table is copied and streaming")
  .option(
    "--timeout <s>",
    "longest wait of --wait and of stop's catch-up, in seconds",
    wholeNumber("seconds"),
    600,
  )
  .option(
    "--give-up-after <s>",
    "status, --wait, stop: seconds to keep reconnecting when a server restarts mid-step",
    wholeNumber("seconds"),
    120,
  )
  .option("--json", "print one JSON document");
addConnectionBounds(program).addHelpText(
  "after",
  "\nExit status: 0 done; 1 refused (not ready, not caught up); 2 could not run (bad input, a server out of reach).\n" +
    "The source role must own the replicated tables and have REPLICATION (no superuser needed); the\n" +
    "target user must be allowed to create subscriptions (a Cloud SQL user of cloudsqlsuperuser).\n" +
    "URLs and passwords are never printed.",
);

interface Opts {
  name?: string;
  role?: string;
  mode?: string;
  tables?: string;
  deadline: number;
  validateTarget?: string;
  source?: string;
  target?: string;
  subscriberConnection?: string;
  schemas: string;
  wait?: boolean;
  timeout: number;
  giveUpAfter: number;
  connectTimeout: number;
  queryTimeout: number;
  json?: boolean;
}

const bounds = (o: Opts) => ({ timeoutMs: o.queryTimeout * 1000, connectTimeoutMs: o.connectTimeout * 1000 });

function required(value: string | undefined, env: string, flag: string): string {
  if (!value)
    throw new UsageError(
      `no ${flag.slice(2)} database: pass ${flag} <url> or set ${env}`,
      `e.g. ${env}=postgres://user:…@host:5432/postgres`,
    );
  if (!/^postgres(ql)?:\/\//.test(value))
    throw new UsageError(
      `${flag} must be a postgres:// URL`,
      "the password goes in the URL or PGPASSWORD; it is never printed",
    );
  return value;
}

async function main(argv: readonly string[]): Promise<number> {
  program.parse(argv, { from: "user" });
  const action = program.args[0] as Action;
  if (!ACTIONS.includes(action))
    throw new UsageError(`unknown action "${action}"`, `one of ${ACTIONS.join(", ")}`);
  const o = program.opts<Opts>();
  const env = process.env;
  if (action === "freeze-source" || action === "thaw-source")
    return sourceFreezeAction(
      action,
      o,
      required(o.source ?? env.SOURCE_DATABASE_URL, "SOURCE_DATABASE_URL", "--source"),
    );
  if (action === "switch") return switchAction(o);
  if (o.name === undefined) throw new UsageError(`${action} needs --name`, "e.g. --name cutover_avvivo_a1");
  const opts = logicalOptions(o, o.name);
  const print = (text: string, doc: unknown) =>
    process.stdout.write(o.json ? JSON.stringify(doc, null, 2) + "\n" : text);
  try {
    if (action === "start") {
      const started = await startLogical(opts);
      const status = o.wait
        ? await waitReady(opts, { timeoutMs: o.timeout * 1000 })
        : await statusLogical(opts);
      print(
        `${started.subscriptionCreated ? "replication started" : "replication was already started"}` +
          `${started.schemaCopied ? " (schema copied)" : ""}\n${describeStatus(status)}`,
        { action, ...started, status },
      );
      return o.wait && !status.ready ? 1 : 0;
    }
    if (action === "status") {
      const status = await statusLogical(opts);
      print(describeStatus(status), { action, ...status });
      return status.ready ? 0 : 1;
    }
    const stopped = await stopLogical(opts, { catchUpTimeoutMs: o.timeout * 1000 });
    print(
      stopped.stopped
        ? `replication stopped at ${stopped.marker} after ${stopped.waitedMs} ms of catch-up; ${stopped.sequences} sequence(s) moved; Cloud SQL is on its own\n`
        : "replication was already stopped: nothing to do\n",
      { action, ...stopped },
    );
    return 0;
  } catch (error) {
    return refused(action, error);
  }
}

function logicalOptions(o: Opts, name: string): LogicalOptions {
  const env = process.env;
  return {
    name,
    giveUpMs: o.giveUpAfter * 1000,
    connectTimeoutMs: o.connectTimeout * 1000,
    timeoutMs: o.queryTimeout * 1000,
    source: required(o.source ?? env.SOURCE_DATABASE_URL, "SOURCE_DATABASE_URL", "--source"),
    destination: required(o.target ?? env.TARGET_DATABASE_URL, "TARGET_DATABASE_URL", "--target"),
    ...((o.subscriberConnection ?? env.SUBSCRIBER_CONNECTION)
      ? { subscriberConnection: o.subscriberConnection ?? env.SUBSCRIBER_CONNECTION }
      : {}),
    schemas: o.schemas
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
  };
}

/**
 * switch: the switch's first job (writeMove: switch) — freeze, marker (the logical stop), validation;
 * exit 0 when all passed, 1 when a term failed or overran (writes were given back to the source).
 */
async function switchAction(o: Opts): Promise<number> {
  const env = process.env;
  if (o.role === undefined)
    throw new UsageError("switch needs --role <role>", "the role the app connects to the source as");
  if (o.mode !== "dms" && o.mode !== "logical")
    throw new UsageError(
      `switch needs --mode dms or --mode logical, got ${o.mode ?? "none"}`,
      "the stack's replication",
    );
  const tables = (o.tables ?? "")
    .split(",")
    .map((t) => t.trim())
    .filter(Boolean);
  if (tables.length === 0)
    throw new UsageError(
      "switch needs --tables <list>",
      "the migration's critical tables, e.g. --tables Shop,Reel",
    );
  if (o.mode === "logical" && o.name === undefined)
    throw new UsageError("switch --mode logical needs --name", "e.g. --name cutover_avvivo_a1");
  const source = required(o.source ?? env.SOURCE_DATABASE_URL, "SOURCE_DATABASE_URL", "--source");
  const target = o.validateTarget ?? env.VALIDATE_TARGET_URL ?? o.target ?? env.TARGET_DATABASE_URL;
  try {
    const result = await switchFreeze({
      mode: o.mode,
      source,
      validateTarget: required(target, "VALIDATE_TARGET_URL", "--validate-target"),
      role: o.role,
      tables,
      schema: o.schemas.split(",")[0]?.trim() || "public",
      deadlineSeconds: o.deadline,
      ...(o.mode === "logical" ? { logical: logicalOptions(o, o.name!) } : {}),
      connectTimeoutMs: o.connectTimeout * 1000,
      log: (line) => process.stderr.write(maskText(`${line}\n`, secrets())),
    });
    process.stdout.write(
      o.json
        ? JSON.stringify({ action: "switch", ...result }, null, 2) + "\n"
        : `the source is frozen, replication reached the marker and the validation passed in ${result.totalMs} ms: ${result.terms.map((t) => `${t.name} ${t.ms} ms`).join(", ")}\n`,
    );
    return 0;
  } catch (error) {
    if (!(error instanceof SwitchError)) return refused("switch", error);
    process.stderr.write(
      maskText(`replication switch: ${error.message}\n  hint: ${error.hint}\n`, secrets()),
    );
    return 1;
  }
}

/** freeze-source / thaw-source: the app's role read-only on the source, proven, then the marker. */
async function sourceFreezeAction(
  action: "freeze-source" | "thaw-source",
  o: Opts,
  source: string,
): Promise<number> {
  if (o.role === undefined)
    throw new UsageError(`${action} needs --role <role>`, "the role the app connects to the source as");
  try {
    if (action === "thaw-source") {
      await thawSource(source, o.role, bounds(o));
      process.stdout.write(
        o.json
          ? JSON.stringify({ action, role: o.role }) + "\n"
          : `${o.role} may write to the source again\n`,
      );
      return 0;
    }
    const f = await freezeSource(source, o.role, bounds(o));
    process.stdout.write(
      o.json
        ? JSON.stringify({ action, ...f }, null, 2) + "\n"
        : `${f.role} is read-only on the source (${f.ended} session(s) ended, a new session checked); marker ${f.marker}` +
            (f.otherWriters.length ? `\nnot frozen, with sessions open: ${f.otherWriters.join(", ")}` : "") +
            "\n",
    );
    return 0;
  } catch (error) {
    return refused(action, error);
  }
}

/** A step that cannot proceed is exit 1 with its reason and hint, masked; anything else goes up. */
function refused(action: string, error: unknown): number {
  if (!(error instanceof ReplicationError)) throw error;
  const text = `replication ${action}: ${error.message}${error.hint ? `\n  hint: ${error.hint}` : ""}\n`;
  process.stderr.write(maskText(text, secrets()));
  // A server out of reach is "could not run" (2); a refusal of the step itself is "no" (1).
  return error.couldNotRun ? 2 : 1;
}

function secrets(): string[] {
  const o = program.opts<Partial<Opts>>();
  return [
    ...secretsOfUrl(process.env.SOURCE_DATABASE_URL),
    ...secretsOfUrl(process.env.TARGET_DATABASE_URL),
    ...secretsOfUrl(process.env.VALIDATE_TARGET_URL),
    ...secretsOfUrl(o.validateTarget),
    ...secretsOfUrl(process.env.SUBSCRIBER_CONNECTION),
    ...secretsOfUrl(o.source),
    ...secretsOfUrl(o.target),
    ...secretsOfUrl(o.subscriberConnection),
  ];
}

export const leaf: Leaf = {
  main,
  secrets,
};
