/**
 * The import boundaries between top-level folders (LAYERS in eslint.config.mjs), as `npm test`'s lint
 * applies them: a static import, a re-export and an `await import()` across a forbidden boundary are each
 * refused with the layer's rule; the same imports in the allowed direction pass.
 */
import { spawnSync } from "node:child_process";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "../..");
const ESLINT = path.join(ROOT, "node_modules/eslint/bin/eslint.js");

/** What the project's lint says of `code` at `file` (eslint's own CLI: its config is an ES module). */
async function messagesOf(file: string, code: string): Promise<string[]> {
  const r = spawnSync(process.execPath, [ESLINT, "--stdin", "--stdin-filename", file, "--format", "json"], {
    cwd: ROOT,
    input: code,
    encoding: "utf8",
  });
  const [result] = JSON.parse(r.stdout) as { messages: { ruleId: string; message: string }[] }[];
  // no-restricted-imports puts its own words before the rule's message.
  const own = /^'[^']+' import is restricted from being used by a pattern\. /;
  return result.messages.map((m) => `${m.ruleId}: ${m.message.replace(own, "")}`);
}

jest.setTimeout(60_000);

it("refuses infra importing ops, statically, as a re-export and dynamically", async () => {
  const rule = "infra/ may import only contract (see LAYERS in eslint.config.mjs)";
  expect(
    await messagesOf("infra/engine/probe.ts", 'export { buildPlan } from "../../ops/plan/run";\n'),
  ).toEqual([`no-restricted-imports: ${rule}`]);
  expect(
    await messagesOf(
      "infra/engine/probe.ts",
      'import { buildPlan } from "../../ops/plan/run";\nexport const p = buildPlan;\n',
    ),
  ).toEqual([`no-restricted-imports: ${rule}`]);
  expect(
    await messagesOf(
      "infra/engine/probe.ts",
      'export const p = async () => (await import("../../ops/plan/run")).buildPlan;\n',
    ),
  ).toEqual([`no-restricted-syntax: ${rule}`]);
});

it("lets each layer import the ones under it, and the Workers only ops' pure parts", async () => {
  expect(
    await messagesOf(
      "ops/probe.ts",
      'export const p = async () => (await import("../infra/engine/kinds")).KINDS;\n',
    ),
  ).toEqual([]);
  expect(await messagesOf("cli/probe.ts", 'export { rehearse } from "../ops/rehearse/run";\n')).toEqual([]);
  expect(await messagesOf("workers/probe.ts", 'export { rehearse } from "../cli/main";\n')).toEqual([
    "no-restricted-imports: workers/ may import only contract, ops (see LAYERS in eslint.config.mjs)",
  ]);
});
