/**
 * `cutover check preflight` — the runbook's phase A check (DB and Redis connectivity), plus DMS
 * source readiness with `--source <url>` or `--migration <name> --stack <stack>`.
 * Exit 0 only when every required check passed; 1 when one failed; 2 on bad input.
 */
import { Option } from "commander";
import { newCommand, type Leaf, wholeNumber } from "../shell";
import { secretsOfUrl } from "../../ops/lib/mask";
import { exitCodeOf, renderJson, renderText } from "../../ops/lib/verdict";
import { runPreflight, secretsOf } from "../../ops/preflight/run";
import { resolveSource, SSL_MODES } from "../../ops/preflight/source";

const program = newCommand("cutover check preflight")
  .description(
    "Checks DATABASE_URL, DIRECT_URL and REDIS_URL connectivity (OK / SKIP / FAIL), and with --source or " +
      "--migration whether the PostgreSQL source is ready for Database Migration Service.",
  )
  .option("--json", "print one JSON document instead of one line per check")
  .option("--timeout <s>", "connect and statement timeout per check", wholeNumber("seconds, e.g. 5"), 5)
  .option(
    "--source <url>",
    "DMS source to check (or SOURCE_DATABASE_URL), postgres://user:password@host:5432/postgres",
  )
  .option(
    "-m, --migration <name>",
    "read the DMS source from this cloudsql migration (password: SOURCE_PASSWORD)",
  )
  .option("-s, --stack <stack>", "stack whose Pulumi.<stack>.yaml holds the migration (with --migration)")
  .option(
    "--target <url>",
    "the destination Cloud SQL once provisioned (or TARGET_DATABASE_URL): compares versions and extensions live",
  )
  // The names of earlier releases, read for one more: --destination, SOURCE_URL, DESTINATION_URL.
  .addOption(new Option("--destination <url>").hideHelp())
  .option("--databases <list>", "comma-separated databases DMS migrates (default: config dms.databases)")
  .option(
    "--sslmode <mode>",
    `TLS to the source: ${SSL_MODES.join(", ")} (default with --migration: verify-full)`,
  )
  .option("--redis-ca <file>", "PEM CA of a rediss:// server (or REDIS_CA_FILE), e.g. Memorystore's")
  .addHelpText(
    "after",
    "\nEnvironment: DATABASE_URL (required), DIRECT_URL and REDIS_URL (recommended), SOURCE_DATABASE_URL,\n" +
      "TARGET_DATABASE_URL, SOURCE_PASSWORD (with --migration), REDIS_CA_FILE.\n" +
      "Passwords are never printed: credentials in URLs are shown as ***.",
  );

async function main(argv: readonly string[]): Promise<number> {
  program.parse(argv, { from: "user" });
  const opts = program.opts<{
    json?: boolean;
    timeout: number;
    source?: string;
    target?: string;
    destination?: string;
    migration?: string;
    stack?: string;
    databases?: string;
    sslmode?: string;
    redisCa?: string;
  }>();
  const env = process.env;
  const secrets = runSecrets(opts.source);
  const renamed = (now: string, was: string) => {
    process.stderr.write(
      `check preflight: ${was} is read as ${now}; the old name goes in the next release\n`,
    );
  };
  if (opts.destination !== undefined) renamed("--target", "--destination");
  if (env.SOURCE_URL && !env.SOURCE_DATABASE_URL) renamed("SOURCE_DATABASE_URL", "SOURCE_URL");
  if (env.DESTINATION_URL && !env.TARGET_DATABASE_URL) renamed("TARGET_DATABASE_URL", "DESTINATION_URL");
  const source = resolveSource(
    {
      // The environment keeps the password off the command line (shell history, `ps`).
      source:
        opts.source ?? (opts.migration ? undefined : env.SOURCE_DATABASE_URL || env.SOURCE_URL || undefined),
      destination:
        opts.target ?? opts.destination ?? (env.TARGET_DATABASE_URL || env.DESTINATION_URL || undefined),
      migration: opts.migration,
      stack: opts.stack,
      sslmode: opts.sslmode,
      databases: opts.databases
        ?.split(",")
        .map((d) => d.trim())
        .filter(Boolean),
    },
    env,
  );
  const input = { env, timeoutMs: opts.timeout * 1000, redisCaFile: opts.redisCa, source };
  const results = await runPreflight(input);
  const allSecrets = [...secrets, ...secretsOf(input)];
  process.stdout.write(
    opts.json ? renderJson("check preflight", results, allSecrets) : renderText(results, allSecrets),
  );
  return exitCodeOf(results);
}

/** Every secret value this run may meet, to mask in anything printed. */
function runSecrets(source?: string): string[] {
  const env = process.env;
  return [
    ...secretsOfUrl(source),
    ...secretsOfUrl(env.SOURCE_DATABASE_URL),
    ...secretsOfUrl(env.TARGET_DATABASE_URL),
    ...secretsOfUrl(env.SOURCE_URL),
    ...secretsOfUrl(env.DESTINATION_URL),
    ...secretsOfUrl(env.DATABASE_URL),
    ...secretsOfUrl(env.DIRECT_URL),
    ...secretsOfUrl(env.REDIS_URL),
    env.SOURCE_PASSWORD ?? "",
    env.PGPASSWORD ?? "",
  ];
}

export const leaf: Leaf = {
  main,
  secrets: () => runSecrets(program.opts<{ source?: string }>().source),
};
