/**
 * The runbook's smoke checklist (auth, shops, streams, reels, payments, chat) as routes in a small
 * YAML/JSON file: the app's paths are the team's to name, so none are guessed here.
 */
import * as fs from "node:fs";
import { parse } from "yaml";
import { z } from "zod";
import { UsageError } from "../lib/errors";

const RouteSchema = z.strictObject({
  /** Shown in the verdict line, e.g. `shops`. */
  name: z.string().min(1),
  /** Path under the base URL, e.g. `/shops?limit=1`. */
  path: z.string().startsWith("/", { message: "expected a path starting with /" }),
  /** @default "GET" */
  method: z.enum(["GET", "HEAD", "OPTIONS"]).default("GET"),
  /** Accepted HTTP statuses. @default any 2xx */
  expect: z.array(z.number().int().min(100).max(599)).min(1).optional(),
  /** Send the admin token. @default true */
  auth: z.boolean().default(true),
});
export type ChecklistRoute = z.infer<typeof RouteSchema>;

const ChecklistSchema = z.strictObject({ routes: z.array(RouteSchema).min(1) });

export function parseChecklist(text: string, file: string): ChecklistRoute[] {
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (error) {
    throw new UsageError(`${file} is not valid YAML/JSON: ${(error as Error).message.split("\n")[0]}`);
  }
  const result = ChecklistSchema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `  ${[file, ...i.path].join(".")}: ${i.message}`);
    throw new UsageError(
      `${file} is not a valid checklist:\n${problems.join("\n")}\n  hint: routes: [{ name: shops, path: /shops }]`,
    );
  }
  return result.data.routes;
}

export function readChecklist(file: string): ChecklistRoute[] {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    throw new UsageError(`cannot read checklist file ${file}`);
  }
  return parseChecklist(text, file);
}
