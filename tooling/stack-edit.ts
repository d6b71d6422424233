/**
 * Edits one migration's keys in the text of a stack file, in place: only the changed lines differ, byte
 * for byte; comments, key order, quoting and layout elsewhere are kept. The YAML parser only locates the
 * nodes (their source ranges); the text is spliced, then parsed again to check the result.
 */
import { isMap, isScalar, parseDocument, type Pair, type YAMLMap } from "yaml";
import { CONFIG_KEY } from "../infra/config/common";
import { StackFileError } from "./stack-file";

/** A key of the migration's map: set to a value, or removed (`undefined`). */
export interface KeyEdit {
  readonly key: string;
  readonly value: string | number | undefined;
}

interface Splice {
  readonly start: number;
  readonly end: number;
  readonly text: string;
}

const lineStart = (text: string, at: number) => text.lastIndexOf("\n", at - 1) + 1;
const lineEnd = (text: string, at: number) => {
  const nl = text.indexOf("\n", at);
  return nl < 0 ? text.length : nl + 1;
};

/** Plain YAML scalars only: phase names, percents and attempts never need quoting. */
function scalarText(value: string | number): string {
  const text = String(value);
  if (!/^[A-Za-z0-9][A-Za-z0-9_.:-]*$/.test(text))
    throw new StackFileError(`refusing to write "${text}" into the stack file: not a plain value`);
  return text;
}

/** The text with the edits applied to `cutover:migrations.<migration>`; the rest is untouched. */
export function editMigration(text: string, migration: string, edits: readonly KeyEdit[]): string {
  const doc = parseDocument(text);
  const node = doc.getIn(["config", CONFIG_KEY, migration], true);
  if (!isMap(node)) throw new StackFileError(`no migration "${migration}" under ${CONFIG_KEY} to edit`);
  const map = node as YAMLMap;
  const pairs = map.items as Pair[];
  const pairOf = (key: string) => pairs.find((p) => isScalar(p.key) && p.key.value === key);
  const anchor = pairOf("phase") ?? pairs[0];
  const anchorKey = anchor.key as { range?: [number, number, number] };
  const anchorValue = anchor.value as { range?: [number, number, number] };
  if (!anchorKey.range || !anchorValue.range) throw new StackFileError("cannot locate the migration's keys");
  const indent = " ".repeat(anchorKey.range[0] - lineStart(text, anchorKey.range[0]));
  const afterAnchor = lineEnd(text, anchorValue.range[1]);

  const splices: Splice[] = [];
  const inserted: string[] = [];
  for (const { key, value } of edits) {
    const pair = pairOf(key);
    const keyRange = (pair?.key as { range?: [number, number, number] } | undefined)?.range;
    const valueRange = (pair?.value as { range?: [number, number, number] } | undefined)?.range;
    if (pair && keyRange && valueRange) {
      if (value === undefined)
        splices.push({ start: lineStart(text, keyRange[0]), end: lineEnd(text, valueRange[1]), text: "" });
      else splices.push({ start: valueRange[0], end: valueRange[1], text: scalarText(value) });
    } else if (value !== undefined) inserted.push(`${indent}${key}: ${scalarText(value)}\n`);
  }
  if (inserted.length) splices.push({ start: afterAnchor, end: afterAnchor, text: inserted.join("") });

  let out = text;
  for (const s of [...splices].sort((a, b) => b.start - a.start))
    out = out.slice(0, s.start) + s.text + out.slice(s.end);

  // The result must read back as asked: a splice that went wrong is never written.
  const check = parseDocument(out);
  for (const { key, value } of edits) {
    const got = check.getIn(["config", CONFIG_KEY, migration, key]);
    if (got !== value && String(got) !== String(value))
      throw new StackFileError(
        `editing ${key} did not produce ${String(value)}; the file was left untouched`,
      );
  }
  return out;
}
