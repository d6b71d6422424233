/**
 * A parent-death watch for the servers and processes the tests and the rehearsal start: a tiny detached
 * shell that waits for its owner (this Node process) to disappear, then kills what the owner started
 * and removes its folders. Cleanup in-process covers every orderly exit and signal; this covers the one
 * it cannot, a SIGKILL of the owner. `cancel` ends the watch once the owner has cleaned up itself.
 */
import { spawn } from "node:child_process";

export interface Reaped {
  /** Processes to kill (SIGKILL) when the owner dies. */
  readonly pids?: readonly number[];
  /** PostgreSQL `postmaster.pid` files: the pid on their first line is killed (the server may restart). */
  readonly pidFiles?: readonly string[];
  /** Folders to remove (data, certificates and keys). */
  readonly dirs?: readonly string[];
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export function reapOnDeath(what: Reaped, owner = process.pid): { cancel(): void } {
  const kills = [
    ...(what.pids ?? []).map((pid) => `kill -KILL ${pid} 2>/dev/null`),
    ...(what.pidFiles ?? []).map(
      (f) => `[ -f ${quote(f)} ] && kill -KILL "$(head -n 1 ${quote(f)})" 2>/dev/null`,
    ),
  ];
  const script = [
    `while kill -0 ${owner} 2>/dev/null; do sleep 0.5; done`,
    ...kills,
    // Backends notice the postmaster's death within a moment; give them it before removing the folder.
    kills.length ? "sleep 1" : ":",
    ...(what.dirs ?? []).map((d) => `rm -rf ${quote(d)}`),
  ].join("\n");
  const child = spawn("/bin/sh", ["-c", script], { detached: true, stdio: "ignore" });
  child.unref();
  return {
    cancel: () => {
      try {
        process.kill(child.pid as number, "SIGKILL");
      } catch {
        // already gone
      }
    },
  };
}
