/**
 * Tables (and schemas) to validate from the stack config: a cloudsql migration's
 * `source.criticalTables`; a dual-write migration's tables stored where the target points.
 */
import { loadMigration } from "../../tooling/stack-file";
import type { TableMapping } from "./run";

export interface StackSelection {
  readonly tables: string[];
  /** Per source table, where it landed when the spec renames it or its columns. */
  readonly mappings?: Readonly<Record<string, TableMapping>>;
  readonly sourceSchema?: string;
  readonly targetSchema?: string;
}

export function tablesFromStack(
  dir: string,
  stack: string,
  migration: string,
  targetEngine: "postgres" | "d1",
): StackSelection {
  const spec = loadMigration(stack, migration, { dir });
  switch (spec.kind) {
    case "cloudsql":
      return { tables: [...spec.source.criticalTables] };
    case "dual-write": {
      const store = targetEngine === "d1" ? "d1" : "supabase";
      const tables = spec.tables.filter((t) => t.store === store);
      return {
        tables: tables.map((t) => t.name),
        mappings: Object.fromEntries(
          tables.map((t) => [t.name, { targetName: t.targetName, columns: t.columns }]),
        ),
        sourceSchema: spec.legacy.schema,
        targetSchema: targetEngine === "postgres" ? spec.target.schema : undefined,
      };
    }
    default: {
      const never: never = spec;
      return never;
    }
  }
}
