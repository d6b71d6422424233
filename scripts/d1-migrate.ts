/**
 * `npm run d1:migrate -- --stack staging --migration matchauto --local`
 * Applies d1/migrations to the migration's D1 databases with `wrangler d1 migrations apply`, locally
 * (offline, on workerd) or remotely (CLOUDFLARE_API_TOKEN from the environment).
 */
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { Command } from "commander";
import { runMain } from "./backfill/cli";
import { resolveTarget, type TargetOptions } from "./backfill/target-options";
import { writeWranglerConfig } from "./backfill/wrangler-config";

const WRANGLER = path.resolve(__dirname, "../node_modules/wrangler/bin/wrangler.js");

async function main(): Promise<void> {
  const opts = new Command("d1:migrate")
    .description("apply d1/migrations to the D1 databases of a dual-write migration")
    .option("--stack <name>", "read the D1 databases from Pulumi.<name>.yaml")
    .option("--migration <name>", "dual-write migration in the stack", "matchauto")
    .option("--database <name>", "only this D1 database (or the database to use without --stack)")
    .option("--binding <name>", "binding of --database without --stack", "EDGE_DB")
    .option("--local", "apply to local D1 (offline)")
    .option("--remote", "apply to the Cloudflare account (needs CLOUDFLARE_API_TOKEN)")
    .option("--persist-to <dir>", "local D1 state directory", ".wrangler/state")
    .option("--database-id <id>", "Cloudflare id of --database (remote; else looked up by name)")
    .option("--account-id <id>", "Cloudflare account id (remote; else from the stack)")
    .parse()
    .opts<TargetOptions>();

  const target = await resolveTarget(opts);
  const configDir = path.resolve(".cutover", "d1", target.local ? "local" : "remote");
  const config = writeWranglerConfig(configDir, target.databases);
  for (const db of target.databases) {
    const args = [WRANGLER, "d1", "migrations", "apply", db.name, "-c", config];
    args.push(...(target.local ? ["--local", "--persist-to", path.resolve(target.persistTo)] : ["--remote"]));
    process.stdout.write(`d1:migrate: ${db.name} (${target.local ? "local" : "remote"})\n`);
    const result = spawnSync(process.execPath, args, {
      stdio: "inherit",
      env: { ...process.env, CLOUDFLARE_ACCOUNT_ID: target.accountId ?? process.env.CLOUDFLARE_ACCOUNT_ID },
    });
    if (result.status !== 0)
      throw new Error(`wrangler d1 migrations apply ${db.name} failed (exit ${result.status})`);
  }
}

runMain(main);
