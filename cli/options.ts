/** Flag sets shared by several commands. */
import type { Command } from "commander";
import { REQUEST_TIMEOUT_S, RETRIES } from "../ops/lib/cloudflare";
import { wholeNumber } from "./shell";

/** Declares the {@link TargetOptions} flags on a command; `verb` says what the command does to D1. */
export function addTargetOptions(command: Command, verb: { local: string; remote: string }): Command {
  return command
    .option("-m, --migration <name>", "dual-write migration in the stack (required with --stack)")
    .option("--binding <name>", "binding of --database without --stack", "EDGE_DB")
    .option("--local", `${verb.local} local D1 (offline, the state of wrangler --local)`)
    .option("--remote", `${verb.remote} (needs CLOUDFLARE_API_TOKEN)`)
    .option("--persist-to <dir>", "local D1 state directory", ".wrangler/state")
    .option("--database-id <id>", "Cloudflare id of --database (remote; else looked up by name)")
    .option("--account-id <id>", "Cloudflare account id (remote; else from the stack)")
    .option(
      "--request-timeout <s>",
      "remote: longest wait for one Cloudflare API request (tried 3 times)",
      wholeNumber("seconds, e.g. 30"),
      REQUEST_TIMEOUT_S,
    );
}

/** `--request-timeout <s>`: one Cloudflare API request's bound. */
export function addRequestTimeout(command: Command): Command {
  return command.option(
    "--request-timeout <s>",
    `longest wait for one Cloudflare API request (tried ${RETRIES + 1} times)`,
    wholeNumber("seconds, e.g. 30"),
    REQUEST_TIMEOUT_S,
  );
}

/** `--source` and `--target` of a dual-write migration: the legacy PostgreSQL and the new schema. */
export function addLegacyAndNew(command: Command): Command {
  return command
    .option("--source <url>", "legacy PostgreSQL URL (prefer the LEGACY_DATABASE_URL variable)")
    .option("--target <url>", "new Supabase PostgreSQL URL (prefer the TARGET_DATABASE_URL variable)");
}
