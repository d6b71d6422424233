/**
 * Tables (and schemas) to validate from the stack config: a cloudsql migration's
 * `source.criticalTables`; a dual-write migration's tables stored where the target points.
 */
import { loadMigration } from "../../tooling/stack-file";

export interface StackSelection {
  readonly tables: string[];
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
      return {
        tables: spec.tables.filter((t) => t.store === store).map((t) => t.name),
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
