/** The stack's outputs as `pulumi stack output --json` saves them, read for a command's `flag`. */
import * as fs from "node:fs";
import { UsageError } from "./shell";

export function readStackOutputs(file: string, flag: string): Record<string, unknown> {
  const hint = `pulumi stack output --json --stack <stack> > ${file}`;
  if (!fs.existsSync(file)) throw new UsageError(`${flag} ${file}: no such file`, hint);
  try {
    const parsed: unknown = JSON.parse(fs.readFileSync(file, "utf8"));
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed))
      return parsed as Record<string, unknown>;
  } catch {
    // said below
  }
  throw new UsageError(
    `${flag} ${file}: expected the JSON object \`pulumi stack output --json\` prints`,
    hint,
  );
}
