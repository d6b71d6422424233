/** `npm run docs`: writes the generated documentation (cli/docs.ts) after a change to a table or a command. */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fromRoot } from "../tooling/root";
import { generatedDocs } from "./docs";

for (const [path, text] of generatedDocs()) {
  mkdirSync(dirname(fromRoot(path)), { recursive: true });
  writeFileSync(join(fromRoot(), path), text);
  process.stdout.write(`wrote ${path}\n`);
}
