/**
 * `npm run d1:migrate -- --stack staging --migration matchauto --local`
 * Applies d1/migrations to the migration's D1 databases with `wrangler d1 migrations apply`, locally
 * (offline, on workerd) or remotely (CLOUDFLARE_API_TOKEN from the environment).
 */
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { newCommand, runMain } from "./lib/cli";
import { addTargetOptions, resolveTarget, type TargetOptions } from "./backfill/target-options";
import { writeWranglerConfig } from "./backfill/wrangler-config";

const WRANGLER = path.resolve(__dirname, "../node_modules/wrangler/bin/wrangler.js");

async function main(): Promise<void> {
  const command = newCommand("d1:migrate")
    .description("apply d1/migrations to the D1 databases of a dual-write migration")
    .option("--stack <name>", "read the D1 databases from Pulumi.<name>.yaml")
    .option("--database <name>", "only this D1 database (or the database to use without --stack)");
  const opts = addTargetOptions(command, { local: "apply to", remote: "apply to the Cloudflare account" })
    .parse()
    .opts<TargetOptions>();

  const target = await resolveTarget(opts, process.env, "d1:migrate");
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

runMain(main, { name: "d1:migrate", secrets: () => [process.env.CLOUDFLARE_API_TOKEN] });
