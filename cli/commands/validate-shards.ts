/**
 * `cutover check validate --shards n`: the same command again as n processes on this machine, one slice
 * of every table each (`--shard i/n`), their JSON reports merged into one verdict. A shard that could
 * not validate fails the whole run with its reason.
 */
import { spawn } from "node:child_process";
import { ValidateError } from "../../ops/validate/errors";
import type { RunReport } from "../../ops/validate/report";
import { mergeShardReports, parseShardReports } from "../../ops/validate/shards";
import { selfArgs } from "../shell";

/** `--shards n`: this command again as n processes, one slice each, merged. */
export async function runShards(
  n: number,
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<RunReport> {
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--shards" || argv[i] === "--evidence" || argv[i] === "--json") {
      if (argv[i] === "--shards") i++;
      continue;
    }
    if (argv[i].startsWith("--shards=")) continue;
    rest.push(argv[i]);
  }
  const outputs = await Promise.all(
    Array.from(
      { length: n },
      (_, i) =>
        new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
          const child = spawn(
            process.execPath,
            [...selfArgs(["check", "validate"]), ...rest, "--shard", `${i}/${n}`, "--json", "--no-progress"],
            { env, stdio: ["ignore", "pipe", "pipe"] },
          );
          let out = "";
          let err = "";
          child.stdout.on("data", (d) => (out += d));
          child.stderr.on("data", (d) => (err += d));
          child.on("close", (code) => resolve({ code, out, err }));
        }),
    ),
  );
  const broken = outputs.find((o) => o.code !== 0 && o.code !== 1);
  if (broken) {
    const parsed = (() => {
      try {
        return JSON.parse(broken.out) as RunReport;
      } catch {
        return undefined;
      }
    })();
    throw new ValidateError(
      `a shard could not validate: ${parsed?.error?.message ?? broken.err.trim().split("\n").pop() ?? `exit ${broken.code}`}`,
      parsed?.error?.hint ?? "see the message above; rerun when fixed",
    );
  }
  return mergeShardReports(
    parseShardReports(outputs.map((o, i) => ({ name: `shard ${i}/${n}`, text: o.out }))),
  );
}
