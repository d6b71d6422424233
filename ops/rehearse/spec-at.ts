/**
 * A migration as the stack file would hold it at another position, parsed the way the program parses
 * it: what both rehearsals apply at each step of their walk.
 */
import { CONFIG_KEY } from "../../infra/config/common";
import { parseMigrations } from "../../infra/config/load";
import type { Migration } from "../../infra/config/schema";
import type { Position } from "../../infra/engine/transitions";
import { atPosition, type StackConfig } from "../../tooling/stack-file";

/** `edit` may change the moved entry first (a rehearsed route replacing the stack's). */
export function migrationAt(
  file: StackConfig,
  migration: string,
  p: Position,
  edit: (entry: Record<string, unknown>) => void = () => undefined,
): Migration {
  const moved = atPosition(file, migration, {
    phase: p.phase,
    percent: p.percent,
    rollbackFrom: p.rollbackFrom,
    attempt: p.attempt,
  });
  edit((moved.config[CONFIG_KEY] as Record<string, Record<string, unknown>>)[migration]);
  const spec = parseMigrations(moved.config[CONFIG_KEY], { now: new Date() })[migration];
  if (spec === undefined) throw new Error(`${file.path} has no migration ${migration}`);
  return spec;
}
