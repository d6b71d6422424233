/**
 * One fake of Google's APIs for the tests: Database Migration Service v1 and Cloud SQL Admin v1 as a
 * small state machine on 127.0.0.1, recording every request (method, path, Authorization, body).
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";

export const JOB = "projects/acme-prod/locations/us-west2/migrationJobs/avvivo-dms-a1";
export const OP = "projects/acme-prod/locations/us-west2/operations/op-promote-1";

export interface Recorded {
  method: string;
  path: string;
  auth: string | undefined;
  body: unknown;
}

export interface FakeOptions {
  job: { state: string; phase: string; endTime?: string; error?: { code: number; message: string } };
  /** GETs of the promote operation before it reports done (Infinity: never). */
  opDoneAfterPolls?: number;
  opError?: { code: number; message: string };
  opWithoutName?: boolean;
  /** GETs of a job already in PROMOTE_IN_PROGRESS before it becomes `finishAs`. */
  jobFinishesAfterGets?: number;
  finishAs?: string;
  sqlOpDoneAfterPolls?: number;
  sqlOpErrors?: { code: string; message: string }[];
  /** Answer this status and body to the first request whose "METHOD path" contains `match`. */
  fail?: { match: string; status: number; body: string };
  hang?: boolean;
}

/** Plays DMS v1 and Cloud SQL Admin v1 as a small state machine on 127.0.0.1. */
export async function startFakeGoogle(opts: FakeOptions) {
  const requests: Recorded[] = [];
  const job: Record<string, unknown> = { name: JOB, ...opts.job };
  let opPolls = 0;
  let jobGets = 0;
  let sqlPolls = 0;
  const server = http.createServer((req, res) => {
    let raw = "";
    req.on("data", (c) => (raw += c));
    req.on("end", () => {
      const path = req.url ?? "";
      const method = req.method ?? "";
      requests.push({
        method,
        path,
        auth: req.headers.authorization,
        body: raw ? JSON.parse(raw) : undefined,
      });
      if (opts.hang) return;
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(typeof body === "string" ? body : JSON.stringify(body));
      };
      if (opts.fail && `${method} ${path}`.includes(opts.fail.match))
        return send(opts.fail.status, opts.fail.body);
      if (method === "GET" && path === `/v1/${JOB}`) {
        jobGets++;
        if (
          job.phase === "PROMOTE_IN_PROGRESS" &&
          opts.jobFinishesAfterGets &&
          jobGets > opts.jobFinishesAfterGets
        ) {
          job.state = opts.finishAs ?? "COMPLETED";
        }
        return send(200, job);
      }
      if (method === "POST" && path === `/v1/${JOB}:promote`) {
        job.phase = "PROMOTE_IN_PROGRESS";
        return send(200, { name: opts.opWithoutName ? undefined : OP, done: false });
      }
      if (method === "GET" && path === `/v1/${OP}`) {
        opPolls++;
        const done = opPolls >= (opts.opDoneAfterPolls ?? 1);
        if (done && !opts.opError) Object.assign(job, { state: "COMPLETED", phase: "PROMOTE_IN_PROGRESS" });
        return send(200, { name: OP, done, ...(done && opts.opError ? { error: opts.opError } : {}) });
      }
      if (method === "PATCH" && path === "/v1/projects/acme-prod/instances/avvivo-pg") {
        return send(200, { kind: "sql#operation", name: "sqlop-1", status: "PENDING" });
      }
      if (method === "GET" && path === "/v1/projects/acme-prod/operations/sqlop-1") {
        sqlPolls++;
        const done = sqlPolls >= (opts.sqlOpDoneAfterPolls ?? 1);
        const error = done && opts.sqlOpErrors ? { errors: opts.sqlOpErrors } : undefined;
        return send(200, { name: "sqlop-1", status: done ? "DONE" : "RUNNING", error });
      }
      send(404, { error: { code: 404, message: `no route ${method} ${path}`, status: "NOT_FOUND" } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return { url, requests, close, calls: () => requests.map((r) => `${r.method} ${r.path}`) };
}

export type FakeGoogle = Awaited<ReturnType<typeof startFakeGoogle>>;
