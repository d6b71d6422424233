/**
 * Every link and image in the README and docs/ resolves: the file exists, and an anchor names a heading
 * of that page (GitHub's slugs). A moved section or a renamed page fails here, not in a reader's browser.
 */
import { readdirSync, readFileSync, existsSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { ROOT } from "../support/cli";

function markdownFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? markdownFiles(join(dir, e.name)) : e.name.endsWith(".md") ? [join(dir, e.name)] : [],
  );
}

/** GitHub's heading anchor: lower case, punctuation dropped (letters, digits, spaces, - and _ kept), spaces → -. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, "")
    .replace(/ /g, "-");
}

function anchorsOf(file: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  let fence = false;
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (line.startsWith("```")) fence = !fence;
    const m = !fence && /^#{1,6} (.+)$/.exec(line);
    if (!m) continue;
    const base = slug(m[1].replace(/`/g, ""));
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** Links and images outside code: `[text](target)` and `![alt](target)`, relative targets only. */
function linksOf(file: string): string[] {
  const text = readFileSync(file, "utf8")
    .replace(/```[\s\S]*?```/g, "")
    .replace(/`[^`\n]*`/g, "");
  return [...text.matchAll(/!?\[[^\]]*\]\(([^)\s]+)\)/g)]
    .map((m) => m[1])
    .filter((t) => !/^[a-z]+:/i.test(t));
}

const files = [join(ROOT, "README.md"), ...markdownFiles(join(ROOT, "docs"))];

it("finds the README and the docs pages", () => {
  expect(files.length).toBeGreaterThan(20);
});

it.each(files.map((f) => [relative(ROOT, f)]))("%s: every link and image resolves", (name) => {
  const file = join(ROOT, name);
  const broken: string[] = [];
  for (const link of linksOf(file)) {
    const [path, anchor] = link.split("#");
    const target = path ? resolve(dirname(file), decodeURI(path)) : file;
    if (!existsSync(target)) broken.push(`${link}: no such file`);
    else if (anchor && statSync(target).isFile() && target.endsWith(".md") && !anchorsOf(target).has(anchor))
      broken.push(`${link}: no heading #${anchor} in ${relative(ROOT, target)}`);
  }
  expect(broken).toEqual([]);
});

it("the slugs follow GitHub's rule", () => {
  expect(slug("First run: from a clone to the first real pulumi preview")).toBe(
    "first-run-from-a-clone-to-the-first-real-pulumi-preview",
  );
  expect(slug("Kind dual-write: D1, flags")).toBe("kind-dual-write-d1-flags");
});
