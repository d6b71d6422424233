/**
 * The generated documentation is fresh: the README's command table, each command page's usage block
 * (the compiled command's own --help) and the reference pages equal what `npm run docs` would write from
 * the code's tables now. A command, phase row, config key, policy or exit code changed without
 * `npm run docs` fails here.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { generatedDocs, withBlock } from "../../cli/docs";
import { COMMANDS } from "../../cli/table";
import { ROOT } from "../support/cli";

jest.setTimeout(120_000);

const generated = generatedDocs(ROOT);

it.each([...generated.keys()].map((p) => [p]))("%s is as npm run docs writes it", (path) => {
  expect(readFileSync(join(ROOT, path), "utf8")).toBe(generated.get(path));
});

it("covers every command with a page, and the five reference pages", () => {
  for (const c of COMMANDS) expect(generated.has(`docs/commands/${c.words.join("-")}.md`)).toBe(true);
  for (const r of ["phases", "transitions", "config", "policies", "exit-codes"])
    expect(generated.has(`docs/reference/${r}.md`)).toBe(true);
});

it("replaces a generated block in place and keeps the prose around it", () => {
  const page =
    "# T\n\nprose\n\n<!-- generated: x; npm run docs rewrites it -->\nold\n<!-- end generated -->\n\nafter\n";
  expect(withBlock(page, "new", "x")).toBe(
    "# T\n\nprose\n\n<!-- generated: x; npm run docs rewrites it -->\nnew\n<!-- end generated -->\n\nafter\n",
  );
  expect(withBlock("# T\n", "new", "x")).toBe(
    "# T\n\n<!-- generated: x; npm run docs rewrites it -->\nnew\n<!-- end generated -->\n",
  );
});

it("the README stays the front door: under 25 KB", () => {
  expect(Buffer.byteLength(readFileSync(join(ROOT, "README.md"), "utf8"))).toBeLessThan(25 * 1024);
});
