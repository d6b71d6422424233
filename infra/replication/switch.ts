/**
 * The switch: the whole freeze-to-traffic sequence of a cloudsql cutover as one bounded step, so no
 * person and no second `pulumi up` stands inside the write window:
 *
 *   freeze     the source stops taking the app's writes, proven at the database (source-freeze.ts);
 *   steps      the caller's terms, in order: replication caught up to the marker taken after the
 *              freeze, the exact validation of the still source, the promotion (the logical stop or
 *              DMS's promote), the post-promotion fix-ups and schema command, the smoke of the
 *              candidate on its own URL;
 *   done       the caller moves traffic (the program's service update, the rehearsal's router).
 *
 * Every term runs against one deadline. A term that fails or overruns ends the switch: writes go back to
 * the source (`thaw`) and the error names the term, what it took and what is left. This is safe at any
 * point before traffic moves, promotion included: the candidate has served no one, so Cloud SQL holds no
 * write the source lacks (it is spent for this attempt: a retry takes a new attempt).
 */

/** One term of the switch. */
export interface SwitchTerm {
  readonly name: string;
  /** Runs the term; what it returns is reported as its detail. The signal aborts at the deadline. */
  readonly run: (signal: AbortSignal) => Promise<string | void>;
}

export interface SwitchOptions {
  /** Longest the whole switch may take, from the freeze on, in seconds. */
  readonly deadlineSeconds: number;
  /** Freezes the source; returns what it did (the proof and the marker). */
  readonly freeze: (signal: AbortSignal) => Promise<string>;
  readonly terms: readonly SwitchTerm[];
  /** Gives writes back to the source; must be idempotent. */
  readonly thaw: () => Promise<void>;
  readonly log?: (line: string) => void;
  /** @default Date.now */
  readonly now?: () => number;
}

export interface TermTiming {
  readonly name: string;
  readonly ms: number;
  readonly detail: string;
}

export interface SwitchResult {
  /** The freeze and each term that finished, in order, with what it took. */
  readonly terms: readonly TermTiming[];
  /** From the start of the freeze to the end of the last term. */
  readonly totalMs: number;
}

/** A switch that ended early; writes were given back to the source unless `thawed` is false. */
export class SwitchError extends Error {
  constructor(
    message: string,
    readonly hint: string,
    /** The term that failed or overran. */
    readonly term: string,
    readonly finished: readonly TermTiming[],
    /** True when the source took writes again; false when the thaw itself failed (say so loudly). */
    readonly thawed: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "SwitchError";
  }
}

class Overrun extends Error {}

/** Runs the freeze and the terms against the deadline; thaws and throws a SwitchError when one fails. */
export async function runSwitch(opts: SwitchOptions): Promise<SwitchResult> {
  const now = opts.now ?? Date.now;
  const log = opts.log ?? (() => undefined);
  const deadlineMs = opts.deadlineSeconds * 1000;
  const started = now();
  const done: TermTiming[] = [];
  const all: SwitchTerm[] = [{ name: "freeze the source", run: (s) => opts.freeze(s) }, ...opts.terms];
  for (const term of all) {
    const left = deadlineMs - (now() - started);
    const t0 = now();
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    try {
      if (left <= 0) throw new Overrun();
      const detail = await Promise.race([
        term.run(controller.signal),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Overrun()), left);
        }),
      ]);
      const timing = { name: term.name, ms: now() - t0, detail: detail ?? "" };
      done.push(timing);
      log(`  ${term.name}: ${timing.ms} ms${timing.detail ? ` (${timing.detail})` : ""}`);
    } catch (error) {
      controller.abort();
      const overran = error instanceof Overrun;
      let thawed = true;
      try {
        await opts.thaw();
      } catch {
        thawed = false;
      }
      const spent = ((now() - started) / 1000).toFixed(1);
      const why = overran
        ? `${term.name} overran the switch's ${opts.deadlineSeconds} s (${spent} s spent)`
        : `${term.name} failed after ${spent} s: ${(error as Error).message}`;
      const back = thawed
        ? "writes went back to the source; traffic did not move"
        : "AND GIVING WRITES BACK TO THE SOURCE FAILED: run `cutover replication thaw-source` now";
      throw new SwitchError(
        `the switch stopped: ${why}; ${back}`,
        overran
          ? "find what made that term slow (the terms above say what each took), raise switch.deadlineSeconds if it is expected, then roll back and retry with a new attempt"
          : "fix the cause, then roll back and retry with a new attempt (this attempt's replication is spent once a promotion has started)",
        term.name,
        done,
        thawed,
        { cause: error },
      );
    } finally {
      clearTimeout(timer);
    }
  }
  return { terms: done, totalMs: now() - started };
}
