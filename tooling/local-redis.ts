/**
 * A local Redis server for the tests and the rehearsal: Debian's `redis-server` on a free 127.0.0.1 port,
 * no persistence, optional AUTH, and optional TLS (certificates made by `openssl` for `rediss://`).
 */
import { ChildProcess, execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { randomBytes } from "node:crypto";
import { reapOnDeath } from "./reaper";
import { freePort } from "./local-postgres";

export interface StartRedisOptions {
  /** `requirepass`; unset means no AUTH. */
  readonly password?: string;
  /** Serve TLS only (`rediss://`), with a throwaway CA written next to the server. @default false */
  readonly tls?: boolean;
  /** Called with the server's pid once spawned (the test harness records it). */
  readonly onSpawn?: (pid: number | undefined) => void;
}

export interface RedisServer {
  /** redis://[:pass@]127.0.0.1:port or rediss://… when `tls` */
  readonly url: string;
  readonly port: number;
  readonly password?: string;
  /** PEM file of the CA that signed the server certificate (TLS only). */
  readonly caFile?: string;
  /** Shuts the server down and removes its temp dir. Safe to call twice or after `kill`. */
  stop(): Promise<void>;
  /** SIGKILL: the server dies mid-run. */
  kill(): Promise<void>;
}

const READY_TIMEOUT_MS = 15_000;

function redisBinary(): string {
  for (const candidate of ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]) {
    if (fs.existsSync(candidate)) return candidate;
  }
  throw new Error("redis-server not found: run `apt-get install -y redis-server` (bash .ci/run does it)");
}

/** A CA and a server certificate for 127.0.0.1/localhost, valid one day. */
function makeCertificates(dir: string): { ca: string; cert: string; key: string } {
  const file = (name: string) => path.join(dir, name);
  const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: "pipe" });
  fs.writeFileSync(file("san.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  openssl(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "1",
    "-subj",
    "/CN=cutover-test-ca",
    "-keyout",
    file("ca.key"),
    "-out",
    file("ca.crt"),
  );
  openssl(
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-subj",
    "/CN=127.0.0.1",
    "-keyout",
    file("server.key"),
    "-out",
    file("server.csr"),
  );
  openssl(
    "x509",
    "-req",
    "-in",
    file("server.csr"),
    "-CA",
    file("ca.crt"),
    "-CAkey",
    file("ca.key"),
    "-CAcreateserial",
    "-days",
    "1",
    "-extfile",
    file("san.ext"),
    "-out",
    file("server.crt"),
  );
  return { ca: file("ca.crt"), cert: file("server.crt"), key: file("server.key") };
}

function exited(child: ChildProcess): Promise<void> {
  // "close" rather than "exit": the stdio pipes are released too, so jest sees no open handle.
  if ((child.exitCode !== null || child.signalCode !== null) && child.stdout?.closed !== false) {
    return Promise.resolve();
  }
  return new Promise((resolve) => child.once("close", () => resolve()));
}

/** Redis logs this line once it listens; waiting for it avoids a client whose timers outlive the test. */
function waitUntilReady(child: ChildProcess, log: () => string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => finish(new Error(`redis-server not ready after ${READY_TIMEOUT_MS} ms`)),
      READY_TIMEOUT_MS,
    );
    const onData = () => {
      if (/Ready to accept connections/.test(log())) finish();
    };
    const onExit = (code: number | null) => finish(new Error(`redis-server exited ${code}`));
    function finish(error?: Error) {
      clearTimeout(timer);
      child.stdout?.off("data", onData);
      child.off("exit", onExit);
      if (error) reject(new Error(`${error.message}:\n${log()}`));
      else resolve();
    }
    child.stdout?.on("data", onData);
    child.once("exit", onExit);
    onData();
  });
}

export async function startRedis(opts: StartRedisOptions = {}): Promise<RedisServer> {
  const binary = redisBinary();
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), "cutover-redis-"));
  const port = await freePort();
  const password = opts.password;
  const args = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir];
  if (password) args.push("--requirepass", password);
  let caFile: string | undefined;
  if (opts.tls) {
    const certs = makeCertificates(dir);
    caFile = certs.ca;
    args.push("--port", "0", "--tls-port", String(port), "--tls-auth-clients", "no");
    args.push("--tls-cert-file", certs.cert, "--tls-key-file", certs.key, "--tls-ca-cert-file", certs.ca);
  } else {
    args.push("--port", String(port));
  }

  const child = spawn(binary, args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  opts.onSpawn?.(child.pid);
  let output = "";
  const keep = (d: Buffer) => (output = (output + d.toString()).slice(-8000));
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const onExit = () => child.kill("SIGKILL");
  process.once("exit", onExit);
  // Its folder holds the TLS private key: removed even if this process is SIGKILLed.
  const reaper = reapOnDeath({ pids: child.pid ? [child.pid] : [], dirs: [dir] });

  let removed = false;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      await exited(child);
    }
    process.removeListener("exit", onExit);
    // The folder first, the watch after: killed in between, the watch is still there to remove it.
    if (!removed) {
      removed = true;
      fs.rmSync(dir, { recursive: true, force: true });
    }
    reaper.cancel();
  };
  try {
    await waitUntilReady(child, () => output);
  } catch (error) {
    await stop();
    throw error;
  }

  const scheme = opts.tls ? "rediss" : "redis";
  const auth = password ? `:${encodeURIComponent(password)}@` : "";
  return {
    url: `${scheme}://${auth}127.0.0.1:${port}`,
    port,
    password,
    caFile,
    stop,
    kill: async () => {
      child.kill("SIGKILL");
      await exited(child);
    },
  };
}

/** Unique enough for throwaway passwords in tests. */
export function randomPassword(): string {
  return randomBytes(12).toString("hex");
}
