/**
 * Which stacks a change touches, from the files it changed: a stack's own file `Pulumi.<stack>.yaml`
 * and its own evidence `evidence/<stack>/…` touch that stack only; documentation and tests touch none;
 * anything else (the program, the engine, the scripts every stack runs, the lockfile) touches them all.
 * The workflows apply a stack only when this says so, so a staging change cannot move prod.
 */

/** Files that change nothing a stack deploys or checks. */
const INERT = [/^docs\//, /^test\//, /\.md$/i, /^\.github\/ISSUE_TEMPLATE\//, /^LICENSE/];

export function touchedStacks(
  changed: readonly string[],
  stacks: readonly string[],
): Record<string, boolean> {
  const touched: Record<string, boolean> = Object.fromEntries(stacks.map((s) => [s, false]));
  for (const file of changed.map((f) => f.trim()).filter(Boolean)) {
    const own = /^Pulumi\.([A-Za-z0-9_.-]+)\.yaml$/.exec(file) ?? /^evidence\/([^/]+)\//.exec(file);
    if (own) {
      // Another stack's file or evidence (or one not listed) touches only that stack.
      if (own[1] in touched) touched[own[1]] = true;
      continue;
    }
    if (file === "Pulumi.yaml" || !INERT.some((r) => r.test(file))) for (const s of stacks) touched[s] = true;
  }
  return touched;
}
