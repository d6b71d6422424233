import { Client } from "pg";

/** One connection for one piece of work, always closed. */
export async function withClient<T>(url: string, work: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  // A server restarting mid-work must fail the work, not crash the process with an unhandled 'error'.
  c.on("error", () => undefined);
  await c.connect();
  try {
    return await work(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}
