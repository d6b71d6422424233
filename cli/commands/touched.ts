/**
 * `cutover touched --base <ref> [--stack <name>…]`: prints `<stack>=true|false` for each stack, from
 * `git diff --name-only <base> HEAD` (see tooling/touched-stacks.ts). A base git cannot resolve (a
 * first push, a tag not yet made) counts every stack as touched. The workflows read this.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import { touchedStacks } from "../../tooling/touched-stacks";
import { newCommand, type Leaf } from "../shell";

function changedFiles(base: string): string[] | undefined {
  try {
    return execFileSync("git", ["diff", "--name-only", base, "HEAD"], { encoding: "utf8" }).split("\n");
  } catch {
    return undefined;
  }
}

async function main(argv: readonly string[]): Promise<number> {
  const o = newCommand("cutover touched")
    .description("which stacks the commits since <base> touch, one `<stack>=true|false` line each")
    .requiredOption("--base <ref>", "the commit to compare HEAD with (per stack: what it last applied)")
    .option("-s, --stack <names...>", "stacks to judge (default: every Pulumi.<stack>.yaml here)")
    .parse(argv, { from: "user" })
    .opts<{ base: string; stack?: string[] }>();
  const stacks =
    o.stack ??
    fs
      .readdirSync(".")
      .map((f) => /^Pulumi\.([A-Za-z0-9_.-]+)\.yaml$/.exec(f)?.[1])
      .filter((s): s is string => s !== undefined)
      .sort();
  const changed = changedFiles(o.base);
  if (changed === undefined)
    process.stderr.write(`touched: ${o.base} is not a commit here: every stack counts\n`);
  const touched = changed ? touchedStacks(changed, stacks) : Object.fromEntries(stacks.map((s) => [s, true]));
  for (const s of stacks) process.stdout.write(`${s}=${touched[s]}\n`);
  return 0;
}

export const leaf: Leaf = {
  main,
};
