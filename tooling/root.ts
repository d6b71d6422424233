/**
 * The project's root directory (where its package.json, node_modules, d1/ and supabase-schema/ are),
 * found from this file whether it runs as TypeScript from the source tree or compiled under dist/.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";

function findRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const manifest = join(dir, "package.json");
    if (
      existsSync(manifest) &&
      (JSON.parse(readFileSync(manifest, "utf8")) as { name?: string }).name === "cutover"
    )
      return dir;
    if (dirname(dir) === dir) throw new Error(`cutover's package.json not found above ${from}`);
  }
}

export const PROJECT_ROOT = findRoot(__dirname);

/** A path inside the project, e.g. `fromRoot("node_modules/wrangler/bin/wrangler.js")`. */
export const fromRoot = (...parts: string[]): string => join(PROJECT_ROOT, ...parts);

/** wrangler's entry, run with node (offline for --local). */
export const WRANGLER = fromRoot("node_modules/wrangler/bin/wrangler.js");
