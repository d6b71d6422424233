/** The two bounds of a database connection, as the commands take them (seconds) and drivers want them (ms). */

/** The parsed connection bounds (seconds). */
export interface ConnectionFlags {
  readonly connectTimeout?: number;
  readonly queryTimeout?: number;
}

/** The bounds of a side from those options, for `connectSource`. */
export function boundsOf(
  opts: ConnectionFlags,
  side: string,
): { side: string; connectTimeoutMs?: number; queryTimeoutMs?: number } {
  return {
    side,
    ...(opts.connectTimeout !== undefined ? { connectTimeoutMs: opts.connectTimeout * 1000 } : {}),
    ...(opts.queryTimeout !== undefined ? { queryTimeoutMs: opts.queryTimeout * 1000 } : {}),
  };
}
