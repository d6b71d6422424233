/**
 * `npm run preflight:cloud` — the runbook's phase A check (DB and Redis connectivity), plus DMS
 * source readiness with `--source <url>` or `--migration <name> --stack <stack>`.
 * Exit 0 only when every required check passed; 1 when one failed; 2 on bad input.
 */
import { Command, InvalidArgumentError } from "commander";
import { maskText, secretsOfUrl } from "./lib/mask";
import { exitCodeOf, renderJson, renderText } from "./lib/verdict";
import { runPreflight, secretsOf } from "./preflight/run";
import { resolveSource, SSL_MODES } from "./preflight/source";
import { UsageError } from "./preflight/stack";

function positiveInt(value: string): number {
  if (!/^[1-9][0-9]*$/.test(value)) throw new InvalidArgumentError("expected milliseconds, e.g. 5000");
  return Number(value);
}

const program = new Command("preflight:cloud")
  .description(
    "Checks DATABASE_URL, DIRECT_URL and REDIS_URL connectivity (OK / SKIP / FAIL), and with --source or " +
      "--migration whether the PostgreSQL source is ready for Database Migration Service.",
  )
  .option("--json", "print one JSON document instead of one line per check")
  .option("--timeout <ms>", "connect and statement timeout per check", positiveInt, 5000)
  .option(
    "--source <url>",
    "DMS source to check (or SOURCE_URL), postgres://user:password@host:5432/postgres",
  )
  .option(
    "--migration <name>",
    "read the DMS source from this cloudsql migration (password: SOURCE_PASSWORD)",
  )
  .option("--stack <stack>", "stack whose Pulumi.<stack>.yaml holds the migration", "staging")
  .option("--databases <list>", "comma-separated databases DMS migrates (default: config dms.databases)")
  .option(
    "--sslmode <mode>",
    `TLS to the source: ${SSL_MODES.join(", ")} (default with --migration: verify-full)`,
  )
  .option("--redis-ca <file>", "PEM CA of a rediss:// server (or REDIS_CA_FILE), e.g. Memorystore's")
  .addHelpText(
    "after",
    "\nEnvironment: DATABASE_URL (required), DIRECT_URL and REDIS_URL (recommended), SOURCE_URL,\n" +
      "SOURCE_PASSWORD (with --migration), REDIS_CA_FILE.\n" +
      "Passwords are never printed: credentials in URLs are shown as ***.",
  )
  .showHelpAfterError()
  // Bad input exits 2 like every other input error; help and version stay 0.
  .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : 2));

async function main(): Promise<number> {
  program.parse();
  const opts = program.opts<{
    json?: boolean;
    timeout: number;
    source?: string;
    migration?: string;
    stack: string;
    databases?: string;
    sslmode?: string;
    redisCa?: string;
  }>();
  const env = process.env;
  const secrets = [
    ...secretsOfUrl(opts.source),
    ...secretsOfUrl(env.SOURCE_URL),
    env.SOURCE_PASSWORD ?? "",
    env.PGPASSWORD ?? "",
  ];
  try {
    const source = resolveSource(
      {
        // SOURCE_URL keeps the password off the command line (shell history, `ps`).
        source: opts.source ?? (opts.migration ? undefined : env.SOURCE_URL || undefined),
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
    const input = { env, timeoutMs: opts.timeout, redisCaFile: opts.redisCa, source };
    const results = await runPreflight(input);
    const allSecrets = [...secrets, ...secretsOf(input)];
    process.stdout.write(
      opts.json ? renderJson("preflight:cloud", results, allSecrets) : renderText(results, allSecrets),
    );
    return exitCodeOf(results);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(maskText(`preflight:cloud: ${error.message}\n`, secrets));
    return 2;
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    const secrets = [...secretsOfUrl(process.env.DATABASE_URL), ...secretsOfUrl(process.env.REDIS_URL)];
    process.stderr.write(maskText(`preflight:cloud: unexpected error: ${String(error)}\n`, secrets));
    process.exit(2);
  },
);
