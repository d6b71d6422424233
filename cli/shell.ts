/**
 * The shell every operator script runs in: one usage error, one set of argument parsers, one `runMain`
 * with one exit-code convention, one masker.
 *
 * Exit codes, for every script:
 *   0  done: the command did what was asked and every check passed;
 *   1  answered "no" or failed part way: a check failed, the data differs, a transition is refused, a
 *      mandatory policy finding, or an operation (backfill, migrations) broke off;
 *   2  could not run as asked: a bad flag, a missing or invalid stack file or config, an endpoint the
 *      command needs but cannot use. Nothing was changed; the message says what to fix.
 */
import { Command, CommanderError, InvalidArgumentError } from "commander";
import { extname, join } from "node:path";
import { maskText, secretsOfEnv } from "../ops/lib/mask";
import { BoundedConnectionError, UsageError } from "../ops/lib/errors";

export { BoundedConnectionError, UsageError };
export { boundsOf, type ConnectionFlags } from "../ops/lib/bounds";

export const EXIT = { ok: 0, no: 1, usage: 2 } as const;

/**
 * A commander program that throws instead of exiting, so that `runMain` applies the exit codes: a bad
 * flag is a usage error (2), `--help` and `--version` are 0.
 */
export function newCommand(name: string): Command {
  return new Command(name).exitOverride().showHelpAfterError();
}

/**
 * The action and the stack's migration of an `<action> --stack <s> --migration <m>` command, checked:
 * an unknown action or a missing flag is a usage error saying what is expected and why.
 */
export function actionOnMigration<A extends string>(
  parsed: Command,
  actions: readonly A[],
  command: string,
  why: string,
): { action: A; stack: string; migration: string } {
  const action = parsed.args[0] as A;
  if (!actions.includes(action))
    throw new UsageError(`unknown action "${action}"; hint: one of ${actions.join(", ")}`);
  const { stack, migration } = parsed.opts<{ stack?: string; migration?: string }>();
  if (stack === undefined || migration === undefined)
    throw new UsageError(`${command} needs --stack <stack> --migration <name>: ${why}`);
  return { action, stack, migration };
}

/** True for the errors that mean "could not run as asked" (exit 2). */
export function isUsageError(error: unknown): boolean {
  return (
    error instanceof UsageError ||
    (error instanceof BoundedConnectionError && error.beforeWork) ||
    // By name: their modules load the config schema and the YAML parser, which `--help` must not pay for.
    (error instanceof Error && (error.name === "StackFileError" || error.name === "ConfigError")) ||
    error instanceof CommanderError
  );
}

/**
 * A whole number for a commander option, at least `min`: `wholeNumber("milliseconds, e.g. 5000")`.
 * Commander prints `option '--timeout <ms>' argument 'soon' is invalid. expected milliseconds, e.g. 5000`.
 */
export function wholeNumber(expected: string, min = 1) {
  return (value: string): number => {
    if (!/^[0-9]+$/.test(value) || Number(value) < min)
      throw new InvalidArgumentError(`expected ${expected} (a whole number ≥ ${min})`);
    return Number(value);
  };
}

/**
 * A duration in seconds for a commander option, decimals allowed (`0.2`), at least `min`:
 * `option '--interval <s>' argument 'soon' is invalid. expected seconds, e.g. 0.2 (a number ≥ 0.01)`.
 */
export function seconds(expected: string, min = 0.01) {
  return (value: string): number => {
    if (!/^[0-9]+(\.[0-9]+)?$/.test(value) || Number(value) < min)
      throw new InvalidArgumentError(`expected ${expected} (a number ≥ ${min})`);
    return Number(value);
  };
}

export interface RunMainOptions {
  /** Prefix of every error line, e.g. `validate`. */
  readonly name: string;
  /**
   * Secret values to mask in any error printed, on top of every variable of the registry
   * (`SECRET_ENV`) and of URLs' passwords, which are masked anyway.
   */
  readonly secrets?: () => readonly (string | undefined)[];
}

/**
 * Runs a command's main function and exits with its code (0 or 1), or with 2 for a usage error and 1 for
 * anything unexpected. Errors are printed masked, with their hint when they carry one.
 */
export function runMain(main: () => Promise<number | void>, opts: RunMainOptions): void {
  main().then(
    (code) => exitFlushed(code ?? EXIT.ok),
    async (caught: unknown) => {
      const secrets = [...secretsOfEnv(), ...(opts.secrets?.() ?? [])];
      // A Cloudflare SDK failure in words (loaded only on this path: the SDK is slow to load).
      const error =
        caught instanceof Error && !isUsageError(caught)
          ? ((await import("../ops/lib/cloudflare-errors")).describeCloudflareError(caught) ?? caught)
          : caught;
      // Commander has printed its own message already.
      if (error instanceof CommanderError) return exitFlushed(error.exitCode === 0 ? EXIT.ok : EXIT.usage);
      const usage = isUsageError(error);
      const text = error instanceof Error ? error.message : String(error);
      const hint = error instanceof UsageError && error.hint ? `\n  hint: ${error.hint}` : "";
      process.stderr.write(maskText(`${opts.name}: ${text}${hint}\n`, secrets));
      return exitFlushed(usage ? EXIT.usage : EXIT.no);
    },
  );
}

/** Resolves once everything written to the stream so far has been handed to the OS. */
const drained = (stream: NodeJS.WriteStream) => new Promise<void>((done) => stream.write("", () => done()));

/**
 * Exits once stdout and stderr are written out. `process.exit` alone drops what a pipe has not taken
 * yet: `cutover plan -s prod --json | jq` used to receive the first 64 KiB only.
 */
async function exitFlushed(code: number): Promise<never> {
  await Promise.all([drained(process.stdout), drained(process.stderr)]);
  process.exit(code);
}

/** The two bounds of a database connection, as options (seconds), shared by the long-running commands. */
export function addConnectionBounds(command: Command): Command {
  return command
    .option(
      "--connect-timeout <s>",
      "longest wait for a database to accept a connection",
      wholeNumber("seconds, e.g. 10"),
      10,
    )
    .option(
      "--query-timeout <s>",
      "longest wait for a database's reply to one statement (a server that went silent)",
      wholeNumber("seconds, e.g. 300"),
      300,
    );
}

/**
 * One command of the tree, loaded only when it runs: its main function takes the arguments after its
 * words (`cutover check validate <these>`) and returns the exit code; `secrets` are masked in any error.
 */
export interface Leaf {
  main(argv: readonly string[]): Promise<number | void>;
  secrets?: () => readonly (string | undefined)[];
}

/**
 * The node arguments that run `cutover <words>` again in a child process, the way this one runs
 * (compiled JavaScript, or TypeScript under tsx in development): `spawn(process.execPath, selfArgs(…))`.
 */
export function selfArgs(words: readonly string[]): string[] {
  const entry = join(__dirname, `main${extname(__filename)}`);
  return [...process.execArgv, entry, ...words];
}
