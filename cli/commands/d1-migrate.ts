/**
 * `cutover data d1-schema --stack staging --migration matchauto --local`
 * Applies d1/migrations to the migration's D1 databases with `wrangler d1 migrations apply`, locally
 * (offline, on workerd) or remotely (CLOUDFLARE_API_TOKEN from the environment).
 */
import { WRANGLER } from "../../tooling/root";
import { addTargetOptions } from "../options";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { newCommand, type Leaf } from "../shell";
import { resolveTarget, type TargetOptions } from "../../ops/backfill/target-options";
import { writeWranglerConfig } from "../../ops/backfill/wrangler-config";

async function main(argv: readonly string[]): Promise<void> {
  const command = newCommand("cutover data d1-schema")
    .description("apply d1/migrations to the D1 databases of a dual-write migration")
    .option("-s, --stack <name>", "read the D1 databases from Pulumi.<name>.yaml")
    .option("--database <name>", "only this D1 database (or the database to use without --stack)");
  const opts = addTargetOptions(command, { local: "apply to", remote: "apply to the Cloudflare account" })
    .parse(argv, { from: "user" })
    .opts<TargetOptions>();

  const target = await resolveTarget(opts, process.env, "data d1-schema");
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

export const leaf: Leaf = {
  main,
  secrets: () => [process.env.CLOUDFLARE_API_TOKEN],
};
