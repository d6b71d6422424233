/**
 * A fake of the Cloud Run Admin API v2 for the switch's provider: jobs run as long-running operations
 * (done after a poll, failed when asked), the service's traffic statuses with the candidate's tag URL;
 * and a candidate revision answering the smoke. Every request is recorded.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";

export const PROJECT = "acme-prod";
export const REGION = "us-west2";

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const closer = (server: http.Server) => () =>
  new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });

/** The Cloud Run Admin API: `failJobs` end with a failed execution; `candidateUrl` is the tag's URL. */
export async function startFakeRun(opts: {
  candidateUrl: string;
  failJobs?: readonly string[];
  slowJobs?: readonly string[];
}) {
  const calls: string[] = [];
  const auth: (string | undefined)[] = [];
  let n = 0;
  const ops = new Map<string, { job: string; polls: number }>();
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const path = req.url ?? "";
      calls.push(`${req.method} ${path}`);
      auth.push(req.headers.authorization);
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(body));
      };
      const run = /^\/v2\/projects\/([^/]+)\/locations\/([^/]+)\/jobs\/([^/:]+):run$/.exec(path);
      if (req.method === "POST" && run) {
        const name = `projects/${run[1]}/locations/${run[2]}/operations/op-${++n}`;
        ops.set(name, { job: run[3], polls: 0 });
        return send(200, { name, done: false });
      }
      const op = /^\/v2\/(projects\/[^/]+\/locations\/[^/]+\/operations\/op-\d+)$/.exec(path);
      if (req.method === "GET" && op && ops.has(op[1])) {
        const o = ops.get(op[1])!;
        o.polls++;
        if (opts.slowJobs?.includes(o.job)) return send(200, { name: op[1], done: false });
        const execution = `projects/${PROJECT}/locations/${REGION}/jobs/${o.job}/executions/${o.job}-x1`;
        const failed = opts.failJobs?.includes(o.job);
        return send(200, {
          name: op[1],
          done: true,
          response: { name: execution, succeededCount: failed ? 0 : 1, failedCount: failed ? 1 : 0 },
          ...(failed ? { error: { code: 2, message: "Task failed with exit code 1" } } : {}),
        });
      }
      const svc = /^\/v2\/projects\/[^/]+\/locations\/[^/]+\/services\/([^/]+)$/.exec(path);
      if (req.method === "GET" && svc)
        return send(200, {
          name: svc[1],
          uri: "https://avvivo-api-xyz.a.run.app",
          trafficStatuses: [
            {
              type: "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION",
              revision: "avvivo-api-00042-kav",
              percent: 100,
            },
            { revision: "avvivo-api-cand-a1", percent: 0, tag: "candidate", uri: opts.candidateUrl },
          ],
        });
      send(404, { error: { code: 404, message: `no route ${req.method} ${path}` } });
    });
  });
  const url = await listen(server);
  /** The jobs run, in order. */
  const jobsRun = () =>
    calls.map((c) => /jobs\/([^/:]+):run$/.exec(c)?.[1]).filter((j): j is string => j !== undefined);
  return { url, calls, auth, jobsRun, close: closer(server) };
}

/** A candidate revision: its status route (with the admin token) and its write probe. */
export async function startCandidate(opts: { token: string; probeStatus?: number }) {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    req.resume();
    seen.push(`${req.method} ${req.url}`);
    const ok = req.headers.authorization === `Bearer ${opts.token}`;
    if (req.url === "/system/status") res.writeHead(ok ? 200 : 401).end("{}");
    else if (req.url === "/system/write-probe") res.writeHead(opts.probeStatus ?? 200).end("{}");
    else res.writeHead(404).end();
  });
  const url = await listen(server);
  return { url, seen, close: closer(server) };
}
