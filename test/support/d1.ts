/** Local D1 the way an operator reaches it: `wrangler d1 execute --local`, with the config d1:migrate writes. */
import { spawnSync } from "node:child_process";
import * as path from "node:path";

const WRANGLER = path.resolve(__dirname, "../../node_modules/wrangler/bin/wrangler.js");

/** Runs one SQL statement on a local D1 database; returns the rows of its result (throws on failure). */
export function d1Execute(
  opts: { cwd: string; database: string; persistTo: string; env: NodeJS.ProcessEnv },
  sql: string,
): Record<string, unknown>[] {
  const r = spawnSync(
    process.execPath,
    [
      WRANGLER,
      "d1",
      "execute",
      opts.database,
      "--local",
      "--persist-to",
      opts.persistTo,
      "-c",
      ".cutover/d1/local/wrangler.json",
      "--command",
      sql,
      "--json",
    ],
    { cwd: opts.cwd, env: opts.env, encoding: "utf8" },
  );
  if (r.status !== 0) throw new Error(r.stderr || r.stdout);
  return JSON.parse(r.stdout)[0].results;
}
