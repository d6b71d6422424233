#!/usr/bin/env node
/**
 * `cutover`: one command tree over the project's operations. This file only finds the command its
 * words name (cli/table.ts) and loads that one module, so `cutover --help` starts without loading any.
 */
import { COMMANDS, GROUPS, type CommandEntry } from "./table";
import { exitCodesText } from "./exit-codes";
import type { UsageError } from "./shell";

const GLOBAL_OPTIONS = [
  ["-s, --stack <name>", "the stack: reads Pulumi.<name>.yaml"],
  ["-m, --migration <name>", "the migration in that stack"],
  ["--json", "one JSON document on stdout"],
  ["-h, --help", "help for cutover or for one command"],
  ["-V, --version", "the version"],
] as const;

/** `cutover --help`: every command, grouped, with its one line. */
export function rootHelp(): string {
  const width =
    Math.max(...COMMANDS.map((c) => c.words.join(" ").length), ...GLOBAL_OPTIONS.map(([f]) => f.length)) + 2;
  const lines = [
    "cutover — zero-downtime database migrations driven as reviewed Pulumi stack-config changes",
    "",
    "Usage: cutover <command> [options]        cutover <command> --help for its options",
  ];
  for (const [group, title] of Object.entries(GROUPS)) {
    lines.push("", `${title}:`);
    for (const c of COMMANDS.filter((e) => e.group === group))
      lines.push(`  ${c.words.join(" ").padEnd(width)}${c.summary}`);
  }
  lines.push("", "Options every command that reads a stack takes:");
  for (const [flag, what] of GLOBAL_OPTIONS) lines.push(`  ${flag.padEnd(width)}${what}`);
  lines.push("", `  ${"help exit-codes".padEnd(width)}what each exit code means`, "");
  return lines.join("\n");
}

/** The command the arguments name, and the arguments left for it; undefined when none matches. */
export function resolve(argv: readonly string[]): { entry: CommandEntry; rest: string[] } | undefined {
  let best: CommandEntry | undefined;
  for (const c of COMMANDS)
    if (c.words.every((w, i) => argv[i] === w) && c.words.length > (best?.words.length ?? 0)) best = c;
  return best && { entry: best, rest: argv.slice(best.words.length) };
}

async function unknown(argv: readonly string[]): Promise<UsageError> {
  const { UsageError } = await import("../ops/lib/errors");
  const first = argv[0];
  const under = COMMANDS.filter((c) => c.words[0] === first && c.words.length > 1);
  if (under.length > 0)
    return new UsageError(
      `${argv.slice(0, 2).join(" ")}: expected one of ${under.map((c) => c.words[1]).join(", ")}`,
      `cutover ${first} ${under[0].words[1]} --help`,
    );
  return new UsageError(`unknown command "${argv.join(" ")}"`, "cutover --help lists every command");
}

async function version(): Promise<string> {
  const { fromRoot } = await import("../tooling/root");
  const { readFileSync } = await import("node:fs");
  return (JSON.parse(readFileSync(fromRoot("package.json"), "utf8")) as { version: string }).version;
}

/** Runs a command's main with the shell's exit codes and masking (loaded only now: it loads the config schema). */
function run(
  main: () => Promise<number | void>,
  name: string,
  secrets?: () => readonly (string | undefined)[],
) {
  void import("./shell").then(({ runMain }) => runMain(main, { name, secrets }));
}

export function cutover(argv: readonly string[]): void {
  const [first, second] = argv;
  if (
    first === undefined ||
    first === "-h" ||
    first === "--help" ||
    (first === "help" && second === undefined)
  ) {
    process.stdout.write(rootHelp());
    return;
  }
  if (first === "-V" || first === "--version") {
    run(async () => void process.stdout.write(`${await version()}\n`), "cutover");
    return;
  }
  if (first === "help" && second === "exit-codes") {
    process.stdout.write(exitCodesText());
    return;
  }
  const found = first === "help" ? resolve(argv.slice(1)) : resolve(argv);
  if (!found) {
    const words = first === "help" ? argv.slice(1) : argv;
    run(async () => Promise.reject(await unknown(words)), "cutover");
    return;
  }
  const { entry, rest } = found;
  const args = first === "help" ? ["--help"] : rest;
  let secrets: (() => readonly (string | undefined)[]) | undefined;
  run(
    async () => {
      const { leaf } = await entry.load();
      secrets = leaf.secrets;
      return leaf.main([...(entry.prefix ?? []), ...args]);
    },
    `cutover ${entry.words.join(" ")}`,
    () => secrets?.() ?? [],
  );
}

if (require.main === module) cutover(process.argv.slice(2));
