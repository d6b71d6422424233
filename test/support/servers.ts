/**
 * The ledger of servers the tests start (PostgreSQL, Redis, …): each start is recorded in a file the
 * whole jest run shares (its path comes from globalSetup through the environment), so that the global
 * teardown can fail the run when a server outlives it — and stop it, so one leak does not become many.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export const REGISTRY_ENV = "CUTOVER_TEST_SERVERS";

export interface ServerRecord {
  readonly pid: number;
  readonly kind: string;
  /** Which test file started it. */
  readonly by: string;
}

/** Records a started server (no-op outside a jest run that set the registry up). */
export function recordServer(kind: string, pid: number | undefined): void {
  const file = process.env[REGISTRY_ENV];
  if (!file || pid === undefined) return;
  const by = path.relative(process.cwd(), expect.getState().testPath ?? "?");
  fs.appendFileSync(file, JSON.stringify({ pid, kind, by } satisfies ServerRecord) + "\n");
}

/** A fresh registry file for one jest run. */
export function newRegistry(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cutover-test-servers-"));
  const file = path.join(dir, "servers.jsonl");
  fs.writeFileSync(file, "");
  return file;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** The recorded servers still running; each is killed (its process group when it leads one). */
export function reapSurvivors(file: string): ServerRecord[] {
  if (!fs.existsSync(file)) return [];
  const records = fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as ServerRecord);
  const survivors = records.filter((r) => alive(r.pid));
  for (const r of survivors) {
    for (const target of [-r.pid, r.pid]) {
      try {
        process.kill(target, "SIGKILL");
      } catch {
        // not a group leader, or gone
      }
    }
  }
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
  return survivors;
}
