/**
 * Riding out a database restart: what counts as a lost connection, and a bounded, announced backoff
 * for getting it back. A command that runs for hours (the change applier until the final cut) uses it
 * instead of dying on the first `Connection terminated`.
 */
import type { Client } from "pg";
import { UsageError } from "./errors";

/** Errors that mean "the connection is gone" (server restart, network), not "the statement is wrong". */
const LOSS_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "57P01", // admin_shutdown: the server is shutting down
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now: starting up or shutting down
  "08000",
  "08003",
  "08006",
]);
const LOSS_MESSAGES =
  /Connection terminated|not queryable|connection error|terminating connection|server closed the connection|the database system is (starting up|shutting down)/i;

export function isConnectionLoss(error: unknown): boolean {
  const e = error as { code?: string; message?: string; cause?: unknown } | undefined;
  if (e === undefined || e === null) return false;
  if (e.code && LOSS_CODES.has(e.code)) return true;
  // A connect timeout (a server still starting, a network that has not come back) is a loss too.
  if ((e as { name?: string }).name === "BoundedConnectionError")
    return (e as { transient?: boolean }).transient !== false;
  if (typeof e.message === "string" && LOSS_MESSAGES.test(e.message)) return true;
  return e.cause !== undefined && isConnectionLoss(e.cause);
}

/**
 * Watches a client: returns a probe that says why it is lost (its error, or that it ended), or undefined
 * while it is usable. The listener also keeps an idle client's error from crashing the process.
 */
export function watchLoss(client: Client): () => string | undefined {
  let lost: string | undefined;
  client.on("error", (e: Error) => (lost ??= e.message));
  client.on("end", () => (lost ??= "the connection ended"));
  return () => lost;
}

export interface BackoffOptions {
  /** Give up after this long without a connection, in ms. */
  readonly giveUpMs: number;
  /** First wait, doubled each attempt up to `maxWaitMs`. @default 250 */
  readonly firstWaitMs?: number;
  /** @default 5000 */
  readonly maxWaitMs?: number;
  /** Where each attempt is announced (stderr). */
  readonly say: (line: string) => void;
  /** True when the command was asked to stop: no more attempts. */
  readonly stopping?: () => boolean;
  /** What to do once it gave up. @default bring the database back and run again (resumes from what is committed) */
  readonly hint?: string;
}

/**
 * Retries `connect` while it fails with a lost connection, waiting 250 ms, 500 ms, … up to 5 s between
 * attempts, each announced; after `giveUpMs` without success, a usage error (exit 2) naming what could
 * not be reached and for how long. Any other error is thrown at once.
 */
export async function reconnectWithBackoff<T>(
  what: string,
  reason: string,
  connect: () => Promise<T>,
  o: BackoffOptions,
): Promise<T | undefined> {
  const since = Date.now();
  let wait = o.firstWaitMs ?? 250;
  let last = reason;
  for (let attempt = 1; ; attempt++) {
    if (o.stopping?.()) return undefined;
    if (Date.now() - since >= o.giveUpMs)
      throw new UsageError(
        `gave up reconnecting to ${what} after ${Math.round((Date.now() - since) / 1000)} s: ${last}`,
        o.hint ??
          "bring the database back and run the command again: it resumes from what is committed (--give-up-after sets how long it waits)",
      );
    o.say(`connection to ${what} lost (${last}); reconnecting in ${wait} ms (attempt ${attempt})`);
    await new Promise((r) => setTimeout(r, Math.min(wait, Math.max(0, o.giveUpMs - (Date.now() - since)))));
    try {
      const value = await connect();
      o.say(`reconnected to ${what} after ${((Date.now() - since) / 1000).toFixed(1)} s`);
      return value;
    } catch (error) {
      if (!isConnectionLoss(error)) throw error;
      last = (error as Error).message;
      wait = Math.min(wait * 2, o.maxWaitMs ?? 5000);
    }
  }
}
