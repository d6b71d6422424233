/**
 * Scratch folders for a test file, removed after its last test: importing this module registers the
 * cleanup in the importing file (jest evaluates support modules once per test file).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const made: string[] = [];

afterAll(() => {
  for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/** A new empty folder under the system temp folder, `cutover-<prefix>-XXXXXX`. */
export function scratchDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `cutover-${prefix}-`));
  made.push(dir);
  return dir;
}
