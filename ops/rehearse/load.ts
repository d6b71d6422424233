/**
 * The rehearsal's load: a fixed rate of writes (and a read of each acknowledged write) through the
 * router for as long as it runs, open loop (a slow answer does not slow the schedule), every request
 * recorded with its time, outcome and the revision that answered.
 */
import * as http from "node:http";
import { randomUUID } from "node:crypto";

export interface Sample {
  /** ms since the load started. */
  readonly t: number;
  readonly kind: "write" | "read";
  /** HTTP status, or 0 when no answer came (connection error or timeout). */
  readonly status: number;
  readonly ms: number;
  readonly revision?: string;
  readonly clientId: string;
  /** The app's `x-error-kind` on a 500 (e.g. `sequence-collision`). */
  readonly error?: string;
}

export interface Load {
  readonly startedAt: number;
  /** Every request so far. */
  samples(): readonly Sample[];
  /** Ids of the writes answered 2xx. */
  acknowledged(): readonly string[];
  stop(): Promise<void>;
}

function request(
  agent: http.Agent,
  base: string,
  method: string,
  path: string,
  body: string | undefined,
  timeoutMs: number,
): Promise<{ status: number; revision?: string; error?: string }> {
  return new Promise((resolve) => {
    const req = http.request(
      new URL(path, base),
      { method, agent, timeout: timeoutMs, headers: body ? { "content-type": "application/json" } : {} },
      (res) => {
        res.resume();
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            revision: res.headers["x-revision"] as string,
            error: res.headers["x-error-kind"] as string | undefined,
          }),
        );
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", () => resolve({ status: 0 }));
    req.end(body);
  });
}

/**
 * The app's write and read, as templates where `{{id}}` is the write's unique id (what the rehearsal
 * looks for in the final database) and `{{n}}` its sequence number.
 */
export interface Traffic {
  readonly write: { readonly method: string; readonly path: string; readonly body: string };
  /** GET path of the written record; absent: acknowledged writes are not read back. */
  readonly read?: string;
}

/** The built-in app's routes (ops/rehearse/app.ts). */
export const BUILT_IN_TRAFFIC: Traffic = {
  write: {
    method: "POST",
    path: "/messages",
    body: '{"clientId":"{{id}}","conversationId":{{n}},"body":"message {{n}}"}',
  },
  read: "/messages/{{id}}",
};

const fill = (template: string, id: string, n: number) =>
  template.replace(/\{\{id\}\}/g, id).replace(/\{\{n\}\}/g, String(n));

/** Starts `rate` writes per second against `baseUrl`, each acknowledged write read back once. */
export function startLoad(
  baseUrl: string,
  rate: number,
  opts: { timeoutMs?: number; traffic?: Traffic } = {},
): Load {
  const traffic = opts.traffic ?? BUILT_IN_TRAFFIC;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const startedAt = Date.now();
  const samples: Sample[] = [];
  const acked: string[] = [];
  const inFlight = new Set<Promise<void>>();
  const timeoutMs = opts.timeoutMs ?? 5000;
  let sent = 0;
  let stopped = false;
  const track = (p: Promise<void>) => {
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  };
  const one = async () => {
    const clientId = randomUUID();
    const n = sent;
    const t0 = Date.now();
    const w = await request(
      agent,
      baseUrl,
      traffic.write.method,
      fill(traffic.write.path, clientId, n),
      fill(traffic.write.body, clientId, n),
      timeoutMs,
    );
    samples.push({
      t: t0 - startedAt,
      kind: "write",
      status: w.status,
      ms: Date.now() - t0,
      revision: w.revision,
      clientId,
      ...(w.error ? { error: w.error } : {}),
    });
    if (w.status < 200 || w.status > 299) return;
    acked.push(clientId);
    if (!traffic.read) return;
    const t1 = Date.now();
    const r = await request(agent, baseUrl, "GET", fill(traffic.read, clientId, n), undefined, timeoutMs);
    samples.push({
      t: t1 - startedAt,
      kind: "read",
      status: r.status,
      ms: Date.now() - t1,
      revision: r.revision,
      clientId,
    });
  };
  // A tick every 10 ms sends what the schedule owes: the rate holds whatever the answers do.
  const timer = setInterval(() => {
    if (stopped) return;
    const due = Math.floor(((Date.now() - startedAt) / 1000) * rate);
    while (sent < due) {
      sent++;
      track(one());
    }
  }, 10);
  return {
    startedAt,
    samples: () => samples,
    acknowledged: () => acked,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await Promise.all([...inFlight]);
      agent.destroy();
    },
  };
}
