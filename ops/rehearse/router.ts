/**
 * The rehearsal's router: a local weighted HTTP proxy that plays Cloud Run's traffic split. It serves
 * one URL and sends each request to a revision drawn by the percentages of the plan's traffic table
 * (`setTraffic`), as Cloud Run does per request; a revision missing from the table gets nothing.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";

/** One row of the traffic table, with the local URL of the revision's process. */
export interface Route {
  readonly revision: string;
  readonly percent: number;
  readonly url: string;
}

export interface Router {
  readonly url: string;
  /** Applies a traffic table (percentages summing to 100). */
  setTraffic(routes: readonly Route[]): void;
  /** The table in force. */
  traffic(): readonly Route[];
  close(): Promise<void>;
}

/** Picks a route by weight; `draw` is a number in [0, 100). */
export function pick(routes: readonly Route[], draw: number): Route | undefined {
  let acc = 0;
  for (const r of routes) {
    acc += r.percent;
    if (draw < acc) return r;
  }
  return undefined;
}

export async function startRouter(): Promise<Router> {
  let table: readonly Route[] = [];
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const server = http.createServer((req, res) => {
    const route = pick(table, Math.random() * 100);
    if (!route) {
      res.writeHead(503, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: "no revision receives traffic" }));
      return;
    }
    const target = new URL(req.url ?? "/", route.url);
    const upstream = http.request(target, { method: req.method, headers: req.headers, agent }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on("error", (error) => {
      if (!res.headersSent)
        res.writeHead(502, { "content-type": "application/json", "x-revision": route.revision });
      res.end(JSON.stringify({ error: `revision ${route.revision} unreachable: ${error.message}` }));
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    setTraffic(routes) {
      const sum = routes.reduce((n, r) => n + r.percent, 0);
      if (sum !== 100) throw new Error(`traffic must sum to 100%, got ${sum}% (${JSON.stringify(routes)})`);
      table = routes.filter((r) => r.percent > 0);
    },
    traffic: () => table,
    close: async () => {
      server.closeAllConnections();
      agent.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
