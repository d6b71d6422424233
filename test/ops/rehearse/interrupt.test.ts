/**
 * An interrupted rehearsal leaves nothing behind: no PostgreSQL, Redis or app process, no data folder,
 * no TLS key. Each run gets its own TMPDIR, so whatever it started can be found afterwards by that
 * variable (in /proc/<pid>/environ) and by the folder's contents. Interrupted the ways it happens: a CI
 * cancel (SIGTERM to the process group), Ctrl-C twice, the visible process (the tsx wrapper) killed
 * outright, and the whole group killed outright.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { ROOT, CUTOVER } from "../../support/cli";
import { scratchDir } from "../../support/scratch";

jest.setTimeout(180_000);

const TSX = path.join(ROOT, "node_modules/.bin/tsx");

/** Processes whose environment carries this TMPDIR (the runner's own excluded). */
function processesOf(tmp: string): string[] {
  const found: string[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const environ = fs.readFileSync(`/proc/${entry}/environ`, "utf8").split("\0");
      if (environ.includes(`TMPDIR=${tmp}`))
        found.push(
          `${entry} ${fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").replace(/\0/g, " ").trim()}`,
        );
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}

async function leftovers(tmp: string, withinMs: number): Promise<{ processes: string[]; files: string[] }> {
  const end = Date.now() + withinMs;
  for (;;) {
    const processes = processesOf(tmp);
    // tsx keeps its compile cache in TMPDIR (tsx-<uid>): the tool's, not the run's.
    const files = fs.readdirSync(tmp).filter((f) => !/^tsx-\d+$/.test(f));
    if ((processes.length === 0 && files.length === 0) || Date.now() > end) return { processes, files };
    await new Promise((r) => setTimeout(r, 250));
  }
}

type Interrupt = (pid: number) => void;

it.each<[string, Interrupt]>([
  ["SIGTERM to the process group (a CI cancel)", (pid) => process.kill(-pid, "SIGTERM")],
  [
    "Ctrl-C twice to the visible process",
    (pid) => {
      process.kill(pid, "SIGINT");
      setTimeout(() => process.kill(pid, "SIGINT"), 100);
    },
  ],
  ["SIGKILL to the visible process (the tsx wrapper)", (pid) => process.kill(pid, "SIGKILL")],
  ["SIGKILL to the whole process group", (pid) => process.kill(-pid, "SIGKILL")],
])("%s: nothing is left", async (_label, interrupt) => {
  const tmp = scratchDir("interrupt");
  fs.chmodSync(tmp, 0o755); // the servers run as another user (postgres) when the tests run as root
  const out = path.join(scratchDir("interrupt-out"), "out");
  const child = spawn(
    TSX,
    [
      CUTOVER,
      "rehearse",
      ...["--replication", "logical", "--rows", "500", "--rate", "10", "--bake", "5", "--out", out],
    ],
    { cwd: ROOT, env: { ...process.env, TMPDIR: tmp }, detached: true, stdio: ["ignore", "pipe", "pipe"] },
  );
  let err = "";
  child.stdout!.resume();
  const reached = new Promise<void>((resolve, reject) => {
    child.stderr!.on("data", (d: Buffer) => {
      err += d.toString();
      if (/rehearse: replicate:/.test(err)) resolve();
    });
    child.once("exit", () => reject(new Error(`the rehearsal ended before replicate:\n${err}`)));
  });
  await reached;
  // Servers, revisions and reapers run now, all under this TMPDIR.
  expect(processesOf(tmp).length).toBeGreaterThan(3);
  expect(fs.readdirSync(tmp).filter((f) => f.startsWith("cutover-")).length).toBeGreaterThanOrEqual(3);
  interrupt(child.pid!);
  await new Promise((r) =>
    child.exitCode !== null || child.signalCode !== null ? r(null) : child.once("exit", r),
  );
  const left = await leftovers(tmp, 15_000);
  expect(left).toEqual({ processes: [], files: [] });
});
