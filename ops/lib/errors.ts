/**
 * The errors every operation throws for what its caller can fix or retry. They import nothing, so a
 * Worker or a job that bundles an operation carries no command-line code; `cli/shell.ts` maps them to
 * exit codes (both are "could not run as asked", exit 2, when nothing ran).
 */

/** Input the operator can fix before the operation can run: a flag, a file, an endpoint, a setting. */
export class UsageError extends Error {
  constructor(
    message: string,
    /** What to do instead, printed on its own line. */
    readonly hint?: string,
  ) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * A connection that could not be made, or a server that stopped answering, within its bound: the
 * message names the side, the bound and the flag. Before any work it means "could not run" (exit 2).
 */
export class BoundedConnectionError extends Error {
  constructor(
    message: string,
    /** True when nothing ran: the connection itself could not be made. */
    readonly beforeWork: boolean,
    /** A server that may come back (a timeout, a refused connection): worth reconnecting to. */
    readonly transient = true,
  ) {
    super(message);
    this.name = "BoundedConnectionError";
  }
}
