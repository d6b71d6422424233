/** What each exit code of every `cutover` command means: `cutover help exit-codes` and docs/reference/exit-codes.md. */
export interface ExitCode {
  readonly code: number;
  readonly name: string;
  readonly meaning: string;
}

export const EXIT_CODES: readonly ExitCode[] = [
  {
    code: 0,
    name: "done",
    meaning:
      "the command did what was asked and every check passed (a plan printed, a step written, data equal, a gate met)",
  },
  {
    code: 1,
    name: "no",
    meaning:
      "it ran and the answer is no, or it stopped part way: a check failed, data differs, a transition or step was refused (the stack file untouched), a mandatory policy finding, an operation broke off, a rehearsal lost a write or overran --max-minutes",
  },
  {
    code: 2,
    name: "could not run as asked",
    meaning:
      "a bad flag or argument, a missing or invalid stack file or config, an endpoint the command needs but cannot reach before any work; nothing was changed, and the message says what to fix",
  },
  {
    code: 129,
    name: "hung up",
    meaning:
      "SIGHUP (a closed terminal) or the process that started a rehearsal exited: local servers stopped first",
  },
  {
    code: 130,
    name: "interrupted",
    meaning: "Ctrl-C (SIGINT): long-running commands stop their local servers and child processes first",
  },
  {
    code: 143,
    name: "terminated",
    meaning: "SIGTERM: as for Ctrl-C",
  },
];

export function exitCodesText(): string {
  const width = Math.max(...EXIT_CODES.map((e) => e.name.length));
  return [
    "Exit codes of every cutover command:",
    "",
    ...EXIT_CODES.map((e) => `  ${String(e.code).padStart(3)}  ${e.name.padEnd(width)}  ${e.meaning}`),
    "",
  ].join("\n");
}
