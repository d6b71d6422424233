/**
 * One scheduled run of a cutover Worker (the comparison Worker, the capture Worker) on this machine: `wrangler dev --test-scheduled` (workerd,
 * offline) on the local D1 and KV state of `--persist-to`, with the two PostgreSQL URLs handed to its
 * Hyperdrive bindings through wrangler's CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_<BINDING>
 * variables, then a request to its /__scheduled route. Wrangler is stopped whatever happens.
 */
import { WRANGLER } from "../../tooling/root";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { UsageError } from "../lib/errors";

/** `n` distinct free loopback ports (all held open together, so none is handed out twice). */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const server = net.createServer();
          server.once("error", reject);
          server.listen(0, "127.0.0.1", () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

export interface LocalRunOptions {
  /** The rendered wrangler config (JSON) and the folder it is written to. */
  readonly config: Record<string, unknown>;
  readonly configDir: string;
  readonly persistTo: string;
  readonly legacyUrl: string;
  readonly targetUrl?: string;
  readonly cron: string;
  /** Bound on the whole run. @default 120000 */
  readonly timeoutMs?: number;
  /** What the messages call it. @default "the comparison Worker" */
  readonly what?: string;
}

/** Starts the Worker, triggers one scheduled event, waits for it, and stops the Worker. */
export async function runScheduledLocally(
  opts: LocalRunOptions,
): Promise<{ elapsedMs: number; log: string }> {
  fs.mkdirSync(opts.configDir, { recursive: true });
  const configPath = path.join(opts.configDir, "wrangler.json");
  fs.writeFileSync(configPath, JSON.stringify(opts.config, null, 2) + "\n");
  fs.writeFileSync(path.join(opts.configDir, ".dev.vars"), "");
  const [port, inspectorPort] = await freePorts(2);
  const started = Date.now();
  const child = spawn(
    process.execPath,
    [
      WRANGLER,
      "dev",
      "--config",
      configPath,
      "--local",
      "--test-scheduled",
      "--ip",
      "127.0.0.1",
      "--port",
      String(port),
      "--inspector-port",
      String(inspectorPort),
      "--persist-to",
      path.resolve(opts.persistTo),
      "--show-interactive-dev-session=false",
      "--log-level",
      "info",
    ],
    {
      cwd: opts.configDir,
      env: {
        ...process.env,
        CLOUDFLARE_CF_FETCH_ENABLED: "false",
        WRANGLER_SEND_METRICS: "false",
        CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_LEGACY_DB: opts.legacyUrl,
        ...(opts.targetUrl
          ? { CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_TARGET_DB: opts.targetUrl }
          : {}),
      },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    },
  );
  let log = "";
  child.stdout.on("data", (d) => (log += d));
  child.stderr.on("data", (d) => (log += d));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const deadline = started + (opts.timeoutMs ?? 120_000);
  try {
    const base = `http://127.0.0.1:${port}`;
    // Ready when the Worker answers (its only route is a 404).
    for (;;) {
      if (child.exitCode !== null)
        throw new UsageError(`wrangler dev stopped before the Worker was ready:\n${log.trim()}`);
      if (Date.now() > deadline)
        throw new UsageError(
          `${opts.what ?? "the comparison Worker"} did not start within the time allowed:\n${log.trim()}`,
        );
      try {
        await fetch(`${base}/`, { signal: AbortSignal.timeout(2000) });
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    const response = await fetch(`${base}/__scheduled?cron=${encodeURIComponent(opts.cron)}`, {
      signal: AbortSignal.timeout(Math.max(1000, deadline - Date.now())),
    });
    const body = await response.text();
    if (!response.ok)
      throw new UsageError(`the scheduled run failed (HTTP ${response.status}): ${body}\n${log.trim()}`);
    return { elapsedMs: Date.now() - started, log };
  } finally {
    if (child.exitCode === null) {
      try {
        process.kill(-child.pid!, "SIGTERM");
      } catch {
        /* already gone */
      }
      const killer = setTimeout(() => {
        try {
          process.kill(-child.pid!, "SIGKILL");
        } catch {
          /* already gone */
        }
      }, 5000);
      await exited;
      clearTimeout(killer);
    }
  }
}
