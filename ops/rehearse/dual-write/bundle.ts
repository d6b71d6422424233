/** A Worker bundled the way `wrangler deploy` bundles it (`--dry-run`, offline), for the stand-in's workerd. */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { fromRoot, WRANGLER } from "../../../tooling/root";
import { COMPATIBILITY } from "../../compare/config";

/** Bundles one Worker as `wrangler deploy` would, without deploying it; returns the script's path. */
export function bundleWorker(main: string, outDir: string): Promise<string> {
  fs.mkdirSync(outDir, { recursive: true });
  const config = path.join(outDir, "wrangler.json");
  fs.writeFileSync(
    config,
    JSON.stringify({
      name: path.basename(path.dirname(main)),
      main,
      compatibility_date: COMPATIBILITY.date,
      compatibility_flags: [...COMPATIBILITY.flags],
    }),
  );
  fs.writeFileSync(path.join(outDir, ".dev.vars"), "");
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [WRANGLER, "deploy", "--dry-run", "--outdir", path.join(outDir, "out"), "-c", config],
      {
        cwd: outDir,
        env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let log = "";
    child.stdout.on("data", (d) => (log += d));
    child.stderr.on("data", (d) => (log += d));
    child.once("error", reject);
    child.once("exit", (code) =>
      code === 0
        ? resolve(path.join(outDir, "out", "worker.js"))
        : reject(new Error(`bundling ${path.relative(fromRoot("."), main)} failed:\n${log.trim()}`)),
    );
  });
}
