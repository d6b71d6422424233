import type { DualWriteMigration } from "./dual-write";
import { check, duplicates, onlyInPhase, rampRules, type Rule } from "./rule-kit";

/** Cross-field rules of kind `dual-write`. */
export const DUAL_WRITE_RULES: Rule<DualWriteMigration>[] = [
  ...rampRules<DualWriteMigration>("readPercent", "read-switch"),
  onlyInPhase<DualWriteMigration>("rollbackFrom", "rollback"),
  {
    when: (s) =>
      s.tables.flatMap((t, i) => {
        if (t.store === "d1" && !s.d1.some((d) => d.name === t.d1Database))
          return [
            {
              path: ["tables", i, "d1Database"],
              message: `table ${t.name} is stored in D1 but d1Database ${t.d1Database === undefined ? "is missing" : `"${t.d1Database}" is not declared`}; hint: one of ${s.d1.map((d) => d.name).join(", ")}`,
            },
          ];
        if (t.store === "d1" && s.d1.some((d) => d.name === t.d1Database && d.retired))
          return [
            {
              path: ["tables", i, "d1Database"],
              message: `table ${t.name} is still stored in D1 database ${t.d1Database}, which is marked retired: decommission would delete the store it is read from; hint: move the table to a database that stays, or do not retire ${t.d1Database}`,
            },
          ];
        if (t.store === "supabase" && t.d1Database !== undefined)
          return [
            {
              path: ["tables", i, "d1Database"],
              message: `table ${t.name} is stored in the new Supabase schema: d1Database does not apply; hint: remove it or set store: d1`,
            },
          ];
        return [];
      }),
  },
  {
    when: (s) =>
      duplicates(s.d1.map((d) => d.name))
        .map((n) => ({
          path: ["d1"],
          message: `D1 database "${n}" is declared twice; hint: names are unique`,
        }))
        .concat(
          duplicates(s.d1.map((d) => d.binding)).map((b) => ({
            path: ["d1"],
            message: `binding "${b}" is used twice; hint: each D1 database needs its own binding`,
          })),
        ),
  },
  {
    when: (s) =>
      check(
        s.legacy.host === s.target.host &&
          s.legacy.database === s.target.database &&
          s.legacy.schema === s.target.schema,
        ["target", "schema"],
        `target is the same schema as legacy (${s.legacy.host}/${s.legacy.database}/${s.legacy.schema}); hint: the new stores need their own schema, e.g. ${s.legacy.schema}_v2`,
      ),
  },
  {
    when: (s) =>
      check(
        s.phase !== "decommission" && s.d1.some((d) => d.retired),
        ["d1"],
        "a D1 database is marked retired outside decommission; hint: mark it retired only in the decommission change",
      ),
  },
];
