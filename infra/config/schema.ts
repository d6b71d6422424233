import { z } from "zod";
import { CloudSqlMigrationSchema } from "./cloudsql";
import { DualWriteMigrationSchema } from "./dual-write";
import { CLOUDSQL_RULES } from "./rules-cloudsql";
import { DUAL_WRITE_RULES } from "./rules-dual-write";
import type { Path, Problem, Rule } from "./rule-kit";

export * from "./common";
export * from "./cloudsql";
export * from "./dual-write";
export { CLOUDSQL_RULES } from "./rules-cloudsql";
export { DUAL_WRITE_RULES } from "./rules-dual-write";

export const MigrationSchema = z.discriminatedUnion(
  "kind",
  [CloudSqlMigrationSchema, DualWriteMigrationSchema],
  {
    message: "expected kind to be one of cloudsql, dual-write",
  },
);
export type Migration = z.infer<typeof MigrationSchema>;
export type MigrationKind = Migration["kind"];

/** Migration names end up in resource names: keep them short and DNS-safe. */
export const MigrationNameSchema = z.string().regex(/^[a-z][a-z0-9-]{0,19}$/, {
  message: "expected a migration name of 1–20 lowercase letters, digits or '-', starting with a letter",
});

/** A rule reading a field that is itself malformed may throw: that field already has its own problem. */
function bestEffort(rule: () => Problem[]): Problem[] {
  try {
    return rule().filter((p) => !p.message.includes("undefined") && !p.message.includes("NaN"));
  } catch {
    return [];
  }
}

/** Rules across migrations of one stack: two migrations must not claim the same cloud objects. */
function collisions(migrations: Record<string, Migration>): Problem[] {
  const claims = new Map<string, string>();
  const problems: Problem[] = [];
  for (const [name, m] of Object.entries(migrations)) {
    const owned =
      m.kind === "cloudsql"
        ? [
            [`Cloud Run service ${m.cloudRun.service}`, ["cloudRun", "service"]],
            [`Cloud SQL instance ${m.cloudSql.instanceName}`, ["cloudSql", "instanceName"]],
          ]
        : [
            [`KV namespace ${m.cloudflare.kvNamespace}`, ["cloudflare", "kvNamespace"]],
            ...m.d1.map((d, i) => [`D1 database ${d.name}`, ["d1", i, "name"]]),
          ];
    for (const [what, path] of owned as [string, Path][]) {
      const other = claims.get(what);
      if (other !== undefined)
        problems.push({
          path: [name, ...path],
          message: `${what} is already used by migration "${other}"; hint: two migrations in one stack need their own resources`,
        });
      else claims.set(what, name);
    }
  }
  return problems;
}

/** The schema of `cutover:migrations` at a given moment (decommission windows depend on the clock). */
export function migrationsSchema(at: Date = new Date()) {
  return z.record(MigrationNameSchema, MigrationSchema).superRefine(
    (migrations, ctx) => {
      for (const [name, m] of Object.entries(migrations)) {
        const rules: Rule<never>[] =
          m?.kind === "cloudsql" ? CLOUDSQL_RULES : m?.kind === "dual-write" ? DUAL_WRITE_RULES : [];
        for (const p of rules.flatMap((r) => bestEffort(() => r.when(m as never, at))))
          ctx.addIssue({ code: "custom", path: [name, ...p.path], message: p.message });
      }
      for (const p of bestEffort(() => collisions(migrations)))
        ctx.addIssue({ code: "custom", path: p.path, message: p.message });
    },
    // Run the cross-field rules even when a field elsewhere is malformed, so one run reports every problem.
    { when: () => true },
  );
}
export type Migrations = Record<string, Migration>;
