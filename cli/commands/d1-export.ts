/**
 * `cutover data export --stack prod --migration matchauto --remote --evidence`
 * Exports, before decommission can delete any of them, every D1 database of a dual-write migration
 * (`wrangler d1 export`: schema and rows as one .sql file each; `--database` for one), checks each
 * file, and with `--evidence` records the export as the gate evidence `final-cut → decommission`
 * needs. It runs at final-cut, before the decommission change marks which databases are `retired`, so
 * it exports them all.
 */
import { WRANGLER } from "../../tooling/root";
import { addTargetOptions } from "../options";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { positionOf } from "../../infra/engine/plan";
import { positionLabel } from "../../infra/engine/transitions";
import { recordEvidence } from "../../infra/evidence";
import { cloudflareEndpoint, LOCAL_STATE } from "../../infra/engine/gates";
import { EXIT, newCommand, type Leaf, UsageError } from "../shell";
import { resolveTarget, type TargetOptions } from "../../ops/backfill/target-options";
import { writeWranglerConfig } from "../../ops/backfill/wrangler-config";

interface ExportOptions extends TargetOptions {
  readonly out: string;
  readonly evidence?: boolean;
}

/** One exported database: where, how big, its digest, and what the file holds. */
interface Exported {
  readonly database: string;
  readonly file: string;
  readonly bytes: number;
  readonly sha256: string;
  readonly tables: number;
  readonly rows: number;
}

async function main(argv: readonly string[]): Promise<number> {
  const command = newCommand("cutover data export")
    .description("export a dual-write migration's D1 databases before decommission may delete them")
    .option("-s, --stack <name>", "read the D1 databases from Pulumi.<name>.yaml")
    .option("--database <name>", "only this D1 database")
    .option("--out <dir>", "folder for the .sql files", "exports")
    .option("--evidence", "record the export as the decommission gate's evidence (with --stack/--migration)");
  const opts = addTargetOptions(command, {
    local: "export from",
    remote: "export from the Cloudflare account",
  })
    .parse(argv, { from: "user" })
    .opts<ExportOptions>();
  if (opts.evidence && !opts.stack)
    throw new UsageError(
      "--evidence needs --stack and --migration",
      "the evidence belongs to one migration of one stack",
    );

  const target = await resolveTarget(opts, process.env, "data export");
  const databases = target.databases;
  const outDir = path.resolve(opts.out, opts.stack ?? "", opts.migration ?? "");
  fs.mkdirSync(outDir, { recursive: true });

  // `wrangler d1 export --local` reads the state beside its config: point that at --persist-to.
  const configDir = fs.mkdtempSync(path.join(os.tmpdir(), "cutover-d1-export-"));
  const exported: Exported[] = [];
  try {
    const config = writeWranglerConfig(configDir, databases);
    if (target.local) {
      fs.mkdirSync(path.join(configDir, ".wrangler"), { recursive: true });
      fs.symlinkSync(path.resolve(target.persistTo), path.join(configDir, ".wrangler", "state"));
    }
    for (const db of databases) {
      const file = path.join(outDir, `${db.name}.sql`);
      const args = [
        WRANGLER,
        "d1",
        "export",
        db.name,
        "-c",
        config,
        target.local ? "--local" : "--remote",
        "--output",
        file,
      ];
      process.stdout.write(
        `d1:export: ${db.name} (${target.local ? "local" : "remote"}) → ${path.relative(process.cwd(), file)}\n`,
      );
      const result = spawnSync(process.execPath, args, {
        cwd: configDir,
        encoding: "utf8",
        env: { ...process.env, CLOUDFLARE_ACCOUNT_ID: target.accountId ?? process.env.CLOUDFLARE_ACCOUNT_ID },
      });
      if (result.status !== 0 || !fs.existsSync(file))
        throw new Error(
          `wrangler d1 export ${db.name} failed (exit ${result.status}): ${(result.stderr || result.stdout).trim().split("\n").slice(-3).join(" ")}`,
        );
      const text = fs.readFileSync(file, "utf8");
      const tables = (text.match(/^CREATE TABLE /gm) ?? []).length;
      if (tables === 0)
        throw new Error(`the export of ${db.name} holds no CREATE TABLE: ${file} is not a usable export`);
      exported.push({
        database: db.name,
        file: path.relative(process.cwd(), file),
        bytes: Buffer.byteLength(text),
        sha256: createHash("sha256").update(text).digest("hex"),
        tables,
        rows: (text.match(/^INSERT INTO /gm) ?? []).length,
      });
    }
  } finally {
    fs.rmSync(configDir, { recursive: true, force: true });
  }

  for (const e of exported)
    process.stdout.write(
      `  ${e.database}: ${e.tables} tables, ${e.rows} rows, ${e.bytes} bytes, sha256 ${e.sha256.slice(0, 16)}…\n`,
    );
  if (databases.length === 0)
    process.stdout.write(
      "d1:export: no retired D1 database: decommission deletes none (pass --all to export every one)\n",
    );

  if (opts.evidence && target.spec) {
    const file = recordEvidence(process.cwd(), {
      stack: opts.stack!,
      migration: opts.migration!,
      check: "export",
      endpoints: [
        target.local || !target.accountId
          ? LOCAL_STATE
          : cloudflareEndpoint(target.accountId, databases.map((d) => d.databaseId ?? d.name).join(",")),
      ],
      position: positionLabel(positionOf(target.spec)),
      attempt: positionOf(target.spec).attempt,
      passed: true,
      summary:
        exported.length === 0
          ? "no D1 database: nothing can be deleted at decommission"
          : exported
              .map((e) => `${e.database} → ${e.file} (${e.rows} rows, sha256 ${e.sha256.slice(0, 12)})`)
              .join("; "),
      report: JSON.stringify(exported),
    });
    process.stderr.write(`d1:export: evidence written to ${file}\n`);
  }
  return EXIT.ok;
}

export const leaf: Leaf = {
  main,
  secrets: () => [process.env.CLOUDFLARE_API_TOKEN],
};
