import { z } from "zod";
import { CloudSqlMigrationSchema, LOG_RETENTION_RANGE, type CloudSqlMigration } from "./cloudsql";
import { DualWriteMigrationSchema, type DualWriteMigration } from "./dual-write";

export * from "./common";
export * from "./cloudsql";
export * from "./dual-write";

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

const HOUR_MS = 3_600_000;
const CREDENTIAL_ENV =
  /(^|_)(DATABASE_URL|DIRECT_URL|REDIS_URL|PASSWORD|PASSWD|TOKEN|SECRET|API_KEY|PRIVATE_KEY)$/;
const URL_WITH_USERINFO = /^[a-z][a-z0-9+.-]*:\/\/[^/@\s]+@/i;
const REVISION_NAME = /^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/;

type Path = (string | number)[];
interface Problem {
  path: Path;
  message: string;
}
/** One cross-field rule: `when` returns the problems it finds (empty when the spec complies). */
interface Rule<T> {
  when: (spec: T, now: Date) => Problem[];
}
const check = (failed: boolean, path: Path, message: string): Problem[] =>
  failed ? [{ path, message }] : [];

const waitLeft = (since: string, hours: number, now: Date): number =>
  Date.parse(since) + hours * HOUR_MS - now.getTime();
const formatDuration = (ms: number): string => {
  const h = Math.ceil(ms / HOUR_MS);
  return h >= 48 ? `${Math.floor(h / 24)} d ${h % 24} h` : `${h} h`;
};

/** Cross-field rules of kind `cloudsql`. */
export const CLOUDSQL_RULES: Rule<CloudSqlMigration>[] = [
  {
    when: (s) => {
      const { min, max } = LOG_RETENTION_RANGE[s.cloudSql.edition];
      const days = s.cloudSql.backups.logRetentionDays;
      return check(
        days < min || days > max,
        ["cloudSql", "backups", "logRetentionDays"],
        `expected ${min}–${max} days for edition ${s.cloudSql.edition}, got ${days}; hint: ENTERPRISE allows up to 7, ENTERPRISE_PLUS up to 35`,
      );
    },
  },
  {
    when: (s) =>
      check(
        s.cloudSql.backups.logRetentionDays >= s.cloudSql.backups.retainedBackups,
        ["cloudSql", "backups", "logRetentionDays"],
        `expected fewer log retention days (${s.cloudSql.backups.logRetentionDays}) than retained backups (${s.cloudSql.backups.retainedBackups}); hint: the Cloud SQL API answers 400 otherwise — raise retainedBackups or lower logRetentionDays`,
      ),
  },
  {
    when: (s) =>
      check(
        s.trafficPercent !== undefined && !s.ramp.includes(s.trafficPercent),
        ["trafficPercent"],
        `expected one of the ramp steps ${s.ramp.join(", ")}, got ${s.trafficPercent}; hint: add the step to ramp or pick one of its values`,
      ),
  },
  {
    when: (s) =>
      check(
        s.phase === "canary" && s.trafficPercent === undefined,
        ["trafficPercent"],
        `phase canary needs trafficPercent (one of ${s.ramp.join(", ")}); hint: pulumi config set --path 'cutover:migrations.<name>.trafficPercent' ${s.ramp[0]}`,
      ),
  },
  {
    when: (s) => {
      const name = s.cloudRun.stableRevision;
      const prefix = `${s.cloudRun.service}-`;
      return check(
        !REVISION_NAME.test(name) || !name.startsWith(prefix) || name.length > 63,
        ["cloudRun", "stableRevision"],
        `expected a Cloud Run revision name starting with "${prefix}" (lowercase letters, digits, '-', ≤ 63 chars, no trailing '-'); hint: gcloud run revisions list --service ${s.cloudRun.service}`,
      );
    },
  },
  {
    when: (s) =>
      check(
        s.phase === "rollback" && s.rollbackFrom === undefined,
        ["rollbackFrom"],
        "phase rollback needs rollbackFrom (the phase being left, e.g. canary) so that what exists is kept; hint: pulumi config set --path 'cutover:migrations.<name>.rollbackFrom' canary",
      ),
  },
  {
    when: (s) =>
      check(
        s.phase !== "rollback" && s.rollbackFrom !== undefined,
        ["rollbackFrom"],
        `rollbackFrom only applies in phase rollback (phase is ${s.phase}); hint: remove it when moving on`,
      ),
  },
  {
    when: (s) =>
      check(
        s.phase === "decommission" && s.cutoverCompletedAt === undefined,
        ["cutoverCompletedAt"],
        "phase decommission needs cutoverCompletedAt (when traffic reached 100%); hint: set it to the time stabilize went live, e.g. 2026-03-01T12:00:00Z",
      ),
  },
  {
    when: (s, now) => {
      if (s.phase !== "decommission" || s.cutoverCompletedAt === undefined) return [];
      const left = waitLeft(s.cutoverCompletedAt, s.observeHours, now);
      return check(
        left > 0,
        ["phase"],
        `decommission is refused until ${s.observeHours} h after cutoverCompletedAt (${s.cutoverCompletedAt}): ${formatDuration(left)} left; hint: stay in stabilize until the observation window ends`,
      );
    },
  },
  {
    when: (s, now) =>
      check(
        s.cutoverCompletedAt !== undefined && Date.parse(s.cutoverCompletedAt) > now.getTime(),
        ["cutoverCompletedAt"],
        `expected a time in the past, got ${s.cutoverCompletedAt}; hint: record when traffic actually reached 100%`,
      ),
  },
  {
    when: (s) =>
      check(
        !("DATABASE_URL" in s.cloudRun.secretEnv),
        ["cloudRun", "secretEnv", "DATABASE_URL"],
        "expected DATABASE_URL of the source database as a Secret Manager reference; hint: DATABASE_URL: { secret: <id>, version: latest }",
      ),
  },
  {
    when: (s) =>
      Object.entries(s.cloudRun.env)
        .filter(([k, v]) => CREDENTIAL_ENV.test(k) || URL_WITH_USERINFO.test(v))
        .map(([k]) => ({
          path: ["cloudRun", "env", k],
          message: `expected no credential or connection string in plain env (value not shown); hint: move ${k} to cloudRun.secretEnv as a Secret Manager reference`,
        })),
  },
  {
    when: (s) =>
      Object.keys(s.cloudRun.env)
        .filter((k) => k in s.cloudRun.secretEnv || k === s.cloudRun.writeBlock.name)
        .map((k) => ({
          path: ["cloudRun", "env", k],
          message: `${k} is set twice (env and ${k in s.cloudRun.secretEnv ? "secretEnv" : "writeBlock"}); hint: keep one`,
        })),
  },
  {
    when: (s) =>
      check(
        s.source.port === 6543 || (/pooler\.supabase\.com$/.test(s.source.host) && s.source.port !== 5432),
        ["source", "port"],
        `expected a direct connection (port 5432), got ${s.source.host}:${s.source.port}; hint: DMS cannot replicate through Supabase's transaction pooler — use db.<ref>.supabase.co:5432`,
      ),
  },
  {
    when: (s) => {
      const region = s.cloudSql.subnetwork.split("/")[3];
      return check(
        region !== s.cloudRun.region,
        ["cloudSql", "subnetwork"],
        `expected a subnetwork in ${s.cloudRun.region} (the Cloud Run region), got one in ${region}; hint: Direct VPC egress needs a subnet in the service's region`,
      );
    },
  },
];

/** Cross-field rules of kind `dual-write`. */
export const DUAL_WRITE_RULES: Rule<DualWriteMigration>[] = [
  {
    when: (s) =>
      check(
        s.readPercent !== undefined && !s.ramp.includes(s.readPercent),
        ["readPercent"],
        `expected one of the ramp steps ${s.ramp.join(", ")}, got ${s.readPercent}; hint: add the step to ramp or pick one of its values`,
      ),
  },
  {
    when: (s) =>
      check(
        s.phase === "read-switch" && s.readPercent === undefined,
        ["readPercent"],
        `phase read-switch needs readPercent (one of ${s.ramp.join(", ")}); hint: pulumi config set --path 'cutover:migrations.<name>.readPercent' ${s.ramp[0]}`,
      ),
  },
  {
    when: (s) =>
      check(
        (s.phase === "final-cut" || s.phase === "decommission") && s.finalCutAt === undefined,
        ["finalCutAt"],
        `phase ${s.phase} needs finalCutAt (when writes stopped going to the legacy store); hint: set it to the time of the cut, e.g. 2026-03-01T12:00:00Z`,
      ),
  },
  {
    when: (s, now) => {
      if (s.phase !== "decommission" || s.finalCutAt === undefined) return [];
      const left = waitLeft(s.finalCutAt, s.soakDays * 24, now);
      return check(
        left > 0,
        ["phase"],
        `decommission is refused until ${s.soakDays} days after finalCutAt (${s.finalCutAt}): ${formatDuration(left)} left; hint: keep monitoring in final-cut`,
      );
    },
  },
  {
    when: (s) =>
      check(
        s.phase === "rollback" && s.finalCutAt !== undefined,
        ["phase"],
        `rollback is refused after the final cut (${s.finalCutAt}): the legacy store has not been written since, so legacy reads would miss data; hint: fix forward, or restore D1 with Time Travel and the new schema with PITR`,
      ),
  },
  {
    when: (s, at) =>
      check(
        s.finalCutAt !== undefined && Date.parse(s.finalCutAt) > at.getTime(),
        ["finalCutAt"],
        `expected a time in the past, got ${s.finalCutAt}; hint: record when the cut actually happened`,
      ),
  },
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

/** A rule reading a field that is itself malformed may throw: that field already has its own problem. */
function bestEffort(rule: () => Problem[]): Problem[] {
  try {
    return rule().filter((p) => !p.message.includes("undefined") && !p.message.includes("NaN"));
  } catch {
    return [];
  }
}

function duplicates(values: string[]): string[] {
  return [...new Set(values.filter((v, i) => values.indexOf(v) !== i))];
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
