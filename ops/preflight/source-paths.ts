/**
 * The source's readiness per replication path: what each path (DMS, logical) needs of it, the summary of
 * which paths can start, and each path's own checks (shown for the path the config chooses; without a
 * config both are judged and their failures only warn).
 */
import { REPLICATION_MODES, type ReplicationMode } from "../../infra/config/cloudsql";
import { fail, ok, warn, type CheckResult } from "../lib/verdict";
import { collect, isSessionPooler, TRANSACTION_POOLER_PORT, type SourceContext } from "./source-context";
import type { SourceFacts } from "./source-facts";

/** What each path needs of the source beyond the common checks: one problem per unmet need. */
export function pathProblems(ctx: SourceContext, facts: SourceFacts): Record<ReplicationMode, string[]> {
  const s = facts.settings;
  const dms: string[] = [];
  const logical: string[] = [];
  if (s.wal_level !== "logical") {
    dms.push(`wal_level is ${s.wal_level ?? "unknown"}`);
    logical.push(`wal_level is ${s.wal_level ?? "unknown"}`);
  }
  if (!facts.pglogicalAvailable) dms.push("pglogical is not available on this server");
  else {
    const preload = preloaded(facts);
    if (preload === false) dms.push("pglogical is not preloaded");
    if (facts.perDatabase.some((d) => !d.pglogicalInstalled)) dms.push("pglogical is not created");
  }
  if (ctx.port === TRANSACTION_POOLER_PORT || isSessionPooler(ctx.host))
    logical.push("the connection goes through a pooler");
  if (!facts.role.superuser && !facts.role.replication)
    logical.push(`role ${facts.role.name} has no REPLICATION`);
  if (facts.perDatabase.some((d) => !d.canCreate && !facts.role.superuser))
    logical.push(`role ${facts.role.name} may not CREATE in the database`);
  const notOwned = facts.perDatabase.flatMap((d) => d.tablesNotOwned);
  if (notOwned.length > 0 && !facts.role.superuser)
    logical.push(`${notOwned.length} table(s) not owned by ${facts.role.name}`);
  return { dms, logical };
}

/** True / false when the role can read `shared_preload_libraries`; undefined when it cannot. */
function preloaded(facts: SourceFacts): boolean | undefined {
  const libs = facts.settings.shared_preload_libraries;
  if (libs === undefined) return undefined;
  return libs
    .split(",")
    .map((l) => l.trim().replace(/"/g, ""))
    .includes("pglogical");
}

/** The summary: which paths this source supports, and whether the configured one is among them. */
export function checkReplicationPaths(ctx: SourceContext, facts: SourceFacts): CheckResult {
  const name = "Replication paths";
  const problems = pathProblems(ctx, facts);
  const say = (mode: ReplicationMode) =>
    problems[mode].length === 0
      ? `${mode}: possible`
      : `${mode}: not possible (${problems[mode].join("; ")})`;
  const detail = `${say("dms")}; ${say("logical")}`;
  const possible = REPLICATION_MODES.filter((m) => problems[m].length === 0);
  if (ctx.replication === undefined)
    return possible.length > 0
      ? ok(name, detail)
      : fail(name, `${detail}; no path can start from this source`);
  if (possible.includes(ctx.replication)) return ok(name, `${detail}; the config chooses ${ctx.replication}`);
  const other = possible.find((m) => m !== ctx.replication);
  return fail(
    name,
    `${detail}; the config chooses ${ctx.replication}${other ? `: set replication: ${other} (the other path works from this source)` : ""}`,
  );
}

/** Findings of the path the config does not choose are not shown; without a config they warn. */
function forPath(ctx: SourceContext, mode: ReplicationMode, result: CheckResult): CheckResult[] {
  if (ctx.replication === undefined)
    return [
      result.status === "FAIL" ? { ...warn(result.name, result.detail ?? "", result.objects) } : result,
    ];
  return ctx.replication === mode ? [result] : [];
}

export function dmsChecks(ctx: SourceContext, facts: SourceFacts): CheckResult[] {
  const s = facts.settings;
  const withoutPglogical = facts.perDatabase.filter((d) => !d.pglogicalInstalled).map((d) => d.name);
  const preload = preloaded(facts);
  const results: CheckResult[] = [];
  if (!facts.pglogicalAvailable) {
    results.push(
      fail(
        "pglogical available",
        "not in pg_available_extensions: this server cannot have pglogical (a managed source such as Supabase does not offer it), so DMS cannot read it; set replication: logical",
      ),
    );
  } else {
    results.push(
      preload === undefined
        ? warn(
            "pglogical preloaded",
            `role ${facts.role.name} may not read shared_preload_libraries; check that it holds pglogical`,
          )
        : preload
          ? ok("pglogical preloaded", "in shared_preload_libraries")
          : fail(
              "pglogical preloaded",
              `shared_preload_libraries is '${s.shared_preload_libraries ?? ""}'; add pglogical and restart`,
            ),
      withoutPglogical.length === 0
        ? ok("pglogical installed", facts.perDatabase.map((d) => d.name).join(", "))
        : fail(
            "pglogical installed",
            `not created in ${withoutPglogical.length} database(s), run CREATE EXTENSION pglogical there`,
            withoutPglogical,
          ),
    );
  }
  results.push(
    facts.databases.includes("postgres")
      ? ok("postgres database", "exists")
      : fail("postgres database", "missing; DMS connects to it (CREATE DATABASE postgres)"),
  );
  return results.flatMap((r) => forPath(ctx, "dms", r));
}

export function logicalChecks(ctx: SourceContext, facts: SourceFacts): CheckResult[] {
  const role = facts.role;
  const notOwned = collect(facts, (d) => d.tablesNotOwned);
  const noCreate = facts.perDatabase.filter((d) => !d.canCreate).map((d) => d.name);
  const results: CheckResult[] = [
    role.superuser || role.replication
      ? ok("Role may replicate", `${role.name}: ${role.superuser ? "superuser" : "REPLICATION"}`)
      : fail(
          "Role may replicate",
          `${role.name} has no REPLICATION attribute: the subscription connects as this role; use a role that has it (on Supabase, postgres)`,
        ),
    role.superuser || noCreate.length === 0
      ? ok(
          "Role may publish",
          `${role.name} may CREATE in ${facts.perDatabase.map((d) => d.name).join(", ")}`,
        )
      : fail(
          "Role may publish",
          `${role.name} may not CREATE PUBLICATION (no CREATE on the database)`,
          noCreate,
        ),
    role.superuser || notOwned.length === 0
      ? ok("Tables owned", `every replicated table belongs to ${role.name}`)
      : fail(
          "Tables owned",
          `${notOwned.length} table(s) of the replicated schemas belong to another role; a publication lists only tables its creator owns: ALTER TABLE … OWNER TO ${role.name}, or connect as their owner`,
          notOwned,
        ),
  ];
  return results.flatMap((r) => forPath(ctx, "logical", r));
}
