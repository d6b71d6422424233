/** Pure parts shared by the operator scripts: masking, the verdict model, and the DMS source rules. */
import { maskText, maskUrl, secretsOfUrl } from "../../ops/lib/mask";
import {
  describeNetworkError,
  exitCodeOf,
  fail,
  formatLine,
  ok,
  renderJson,
  renderText,
  skip,
  warn,
} from "../../ops/lib/verdict";
import { describePgError } from "../../ops/preflight/postgres";
import type { DatabaseFacts, SourceFacts } from "../../ops/preflight/source-facts";
import { checkDirectConnection, checkMajorVersion, evaluateSource } from "../../ops/preflight/source-rules";

describe("maskUrl / maskText", () => {
  it.each([
    ["postgres://user:s3cret@host:5432/db", "postgres://user:***@host:5432/db"],
    ["rediss://:s3cret@10.0.0.3:6378", "rediss://:***@10.0.0.3:6378"],
    ["redis://tokenonly@host:6379", "redis://***@host:6379"],
    ["https://example.com/path?q=1", "https://example.com/path?q=1"],
    [
      "failed: postgres://a:b%40c@h/db and redis://:x@h2",
      "failed: postgres://a:***@h/db and redis://:***@h2",
    ],
    // An unencoded '@' inside the password is masked whole (up to the last '@' before the host).
    ["postgres://app:p@ss@db:5432/x", "postgres://app:***@db:5432/x"],
    ["https://h/x?user=a&password=s3cret&sslmode=require", "https://h/x?user=a&password=***&sslmode=require"],
  ])("%s → %s", (input, expected) => {
    expect(maskUrl(input)).toBe(expected);
  });

  it("masks given secrets anywhere in text, raw and URL-decoded", () => {
    const url = "postgres://u:p%40ss%2Fword@h/db";
    expect(secretsOfUrl(url)).toEqual(["p%40ss%2Fword", "p@ss/word"]);
    expect(maskText("password p@ss/word rejected", secretsOfUrl(url))).toBe("password *** rejected");
    expect(secretsOfUrl("postgres://h/db")).toEqual([]);
    expect(secretsOfUrl(undefined)).toEqual([]);
  });
});

describe("verdict lines", () => {
  it("prints the seed's format", () => {
    expect(formatLine(ok("DB connectivity"))).toBe("DB connectivity: OK");
    expect(formatLine(fail("DB connectivity", "connection refused"))).toBe(
      "DB connectivity: FAIL: connection refused",
    );
    expect(formatLine(skip("Redis connectivity", "REDIS_URL is not set"))).toBe(
      "Redis connectivity: SKIP (REDIS_URL is not set)",
    );
  });

  it("names at most ten objects on a line and all of them in JSON", () => {
    const tables = Array.from({ length: 12 }, (_, i) => `public.t${i}`);
    const line = formatLine(warn("Tables without primary key", "12 table(s)", tables));
    expect(line).toBe(
      `Tables without primary key: WARN: 12 table(s): ${tables.slice(0, 10).join(", ")} … and 2 more (see --json)`,
    );
    const json = JSON.parse(renderJson("x", [warn("T", "12 table(s)", tables)]));
    expect(json.checks[0].objects).toEqual(tables);
  });

  it("exits 0 only when no required check failed", () => {
    expect(exitCodeOf([ok("a"), warn("b", "w"), skip("c", "s")])).toBe(0);
    expect(exitCodeOf([ok("a"), fail("b", "x")])).toBe(1);
    expect(exitCodeOf([{ ...fail("b", "x"), required: false }])).toBe(0);
    expect(formatLine({ ...fail("b", "x"), required: false })).toBe("b: FAIL: x [optional]");
  });

  it("masks secrets in text and JSON output", () => {
    const results = [fail("DB connectivity", "postgres://u:hunter22@h/db said hunter22")];
    expect(renderText(results, ["hunter22"])).toBe("DB connectivity: FAIL: postgres://u:***@h/db said ***\n");
    expect(renderJson("preflight:cloud", results, ["hunter22"])).not.toContain("hunter22");
  });
});

describe("failure reasons", () => {
  it.each([
    [{ code: "ECONNREFUSED" }, "connection refused by h:1 (is the server running and the port right?)"],
    [{ code: "ENOTFOUND" }, "host of h:1 not found (DNS); check the host name"],
    [{ code: "EAI_AGAIN" }, "host of h:1 not found (DNS); check the host name"],
    [{ code: "TIMEOUT" }, "no answer from h:1 within 900 ms (firewall, allow-list or wrong host?)"],
    [{ code: "ECONNRESET" }, "h:1 closed the connection (TLS expected, or the server went away?)"],
    [{ code: "ENETUNREACH" }, "h:1 unreachable from here (IPv6-only host without IPv6, or no route)"],
    [{ message: "Connection terminated due to connection timeout" }, "no answer from h:1 within 900 ms"],
    [
      { cause: { code: "ECONNREFUSED" } },
      "connection refused by h:1 (is the server running and the port right?)",
    ],
    [new Error("weird"), "h:1: weird"],
  ])("network %j", (error, reason) => {
    expect(describeNetworkError(error, "h:1", 900)).toBe(reason);
  });

  it.each([
    [
      { code: "28P01", message: "password authentication failed" },
      "authentication failed at h:1 (check the user and password)",
    ],
    [
      { code: "3D000", message: 'database "x" does not exist' },
      'database "x" does not exist at h:1 (check the database name in the URL)',
    ],
    [{ code: "57014", message: "canceling statement" }, "statement timed out after 900 ms at h:1"],
    [{ code: "53300", message: "too many" }, "h:1 has no free connection slots (too many clients)"],
    [
      { code: "28000", message: "no pg_hba.conf entry" },
      "h:1 refused this client: no pg_hba.conf entry (check pg_hba / IP allow-list)",
    ],
    [
      { code: "57P01", message: "terminating connection" },
      "h:1 is shutting down or starting up: terminating connection",
    ],
    [
      { message: "self-signed certificate in certificate chain" },
      "TLS certificate of h:1 not trusted: self-signed certificate in certificate chain (give the server CA, or check the host name)",
    ],
    [{ message: "Connection terminated unexpectedly" }, "h:1 closed the connection unexpectedly"],
  ])("postgres %j", (error, reason) => {
    expect(describePgError(error, "h:1", 900)).toBe(reason);
  });
});

describe("DMS source rules", () => {
  const ctx = {
    host: "db.abc.supabase.co",
    port: 5432,
    migratedDatabases: ["postgres"],
    destinationVersion: "POSTGRES_15",
  };
  const db = (over: Partial<DatabaseFacts> = {}): DatabaseFacts => ({
    name: "postgres",
    pglogicalInstalled: true,
    canCreate: true,
    tablesNotOwned: [],
    sizeBytes: 5 * 1024 * 1024 * 1024,
    tablesWithoutPk: [],
    unloggedTables: [],
    generatedColumns: [],
    largeObjects: 0,
    materializedViews: [],
    sequences: [],
    extensions: [],
    ...over,
  });
  const facts = (over: Partial<SourceFacts> = {}): SourceFacts => ({
    serverVersionNum: 150018,
    settings: {
      wal_level: "logical",
      shared_preload_libraries: "pg_stat_statements, pglogical",
      max_replication_slots: "5",
      max_wal_senders: "5",
    },
    pglogicalAvailable: true,
    role: { name: "postgres", superuser: true, replication: true },
    usedReplicationSlots: 1,
    activeWalSenders: 1,
    databases: ["postgres"],
    perDatabase: [db()],
    ...over,
  });

  it("a ready source has no FAIL or WARN", () => {
    const results = evaluateSource(ctx, facts());
    expect(results.filter((r) => r.status === "FAIL" || r.status === "WARN")).toEqual([]);
    expect(results.find((r) => r.name === "Database size")?.detail).toBe("5.0 GB total; postgres 5.0 GB");
  });

  it("compares the source's major version with the destination's, and says when it cannot", () => {
    expect(checkMajorVersion(ctx, 150018)).toMatchObject({
      status: "OK",
      detail: "source PostgreSQL 15 → POSTGRES_15",
    });
    expect(checkMajorVersion({ ...ctx, destinationVersion: "POSTGRES_16" }, 150018).status).toBe("OK");
    expect(checkMajorVersion(ctx, 170002)).toMatchObject({
      status: "FAIL",
      detail:
        "source PostgreSQL 17 is newer than the destination POSTGRES_15; DMS does not migrate to an earlier major version: set cloudSql.databaseVersion to POSTGRES_17 or later",
    });
    expect(checkMajorVersion({ ...ctx, destinationVersion: undefined }, 170002)).toMatchObject({
      status: "SKIP",
      detail: "source is PostgreSQL 17; pass --migration to compare it with cloudSql.databaseVersion",
    });
  });

  it("refuses Supabase's transaction pooler port and accepts the session pooler", () => {
    expect(checkDirectConnection({ ...ctx, port: 6543 })).toMatchObject({
      status: "FAIL",
      detail: expect.stringContaining("port 6543 is Supabase's transaction pooler"),
    });
    expect(checkDirectConnection({ ...ctx, host: "aws-0-us-west-1.pooler.supabase.com" }).detail).toBe(
      "aws-0-us-west-1.pooler.supabase.com:5432 (session-mode pooler)",
    );
  });

  it("fails when all slots are taken, counting one per migrated database", () => {
    const two = { ...ctx, migratedDatabases: ["postgres", "app"] };
    const result = evaluateSource(two, facts({ usedReplicationSlots: 4, databases: ["postgres", "app"] }));
    expect(result.find((r) => r.name === "Replication slots")).toMatchObject({
      status: "FAIL",
      detail:
        "1 free of max_replication_slots=5; 2 needed, one per migrated database; raise max_replication_slots and restart",
    });
  });

  it("prefixes objects with their database when several are migrated", () => {
    const two = { ...ctx, migratedDatabases: ["postgres", "app"] };
    const result = evaluateSource(
      two,
      facts({
        databases: ["postgres", "app"],
        perDatabase: [
          db({ tablesWithoutPk: ["public.a"] }),
          db({ name: "app", tablesWithoutPk: ["public.b"] }),
        ],
      }),
    );
    expect(result.find((r) => r.name === "Tables without primary key")?.objects).toEqual([
      "postgres:public.a",
      "app:public.b",
    ]);
  });

  it("fails when the postgres database is missing", () => {
    const result = evaluateSource(
      { ...ctx, migratedDatabases: ["app"], replication: "dms" as const },
      facts({ databases: ["app"], perDatabase: [db({ name: "app" })] }),
    );
    expect(result.find((r) => r.name === "postgres database")).toMatchObject({
      status: "FAIL",
      detail: "missing; DMS connects to it (CREATE DATABASE postgres)",
    });
  });

  describe("replication paths", () => {
    // What a Supabase project shows its postgres role: no superuser, REPLICATION, no pglogical to have,
    // shared_preload_libraries unreadable.
    const supabase = facts({
      settings: { wal_level: "logical", max_replication_slots: "10", max_wal_senders: "10" },
      pglogicalAvailable: false,
      role: { name: "postgres", superuser: false, replication: true },
      perDatabase: [db({ pglogicalInstalled: false })],
    });
    const row = (results: ReturnType<typeof evaluateSource>, name: string) =>
      results.find((r) => r.name === name);

    it("without a config: says which paths this source supports, and warns about the other's needs", () => {
      const results = evaluateSource(ctx, supabase);
      expect(row(results, "Replication paths")).toMatchObject({
        status: "OK",
        detail: "dms: not possible (pglogical is not available on this server); logical: possible",
      });
      expect(row(results, "pglogical available")).toMatchObject({
        status: "WARN",
        detail: expect.stringContaining("this server cannot have pglogical"),
      });
      expect(row(results, "Role may replicate")).toMatchObject({
        status: "OK",
        detail: "postgres: REPLICATION",
      });
      expect(results.filter((r) => r.status === "FAIL")).toEqual([]);
    });

    it("with replication: dms, fails and names the path that works; never tells to install what cannot be", () => {
      const results = evaluateSource({ ...ctx, replication: "dms" }, supabase);
      expect(row(results, "Replication paths")).toMatchObject({
        status: "FAIL",
        detail:
          "dms: not possible (pglogical is not available on this server); logical: possible; the config chooses dms: set replication: logical (the other path works from this source)",
      });
      expect(row(results, "pglogical available")?.status).toBe("FAIL");
      expect(row(results, "pglogical preloaded")).toBeUndefined();
      expect(results.map((r) => r.detail ?? "").join("\n")).not.toContain("add pglogical and restart");
      expect(row(results, "Role may replicate")).toBeUndefined();
    });

    it("with replication: logical, judges the role and the tables and leaves pglogical out", () => {
      const ready = evaluateSource({ ...ctx, replication: "logical" }, supabase);
      expect(row(ready, "Replication paths")?.status).toBe("OK");
      expect(row(ready, "pglogical available")).toBeUndefined();
      expect(row(ready, "postgres database")).toBeUndefined();
      const blocked = evaluateSource(
        { ...ctx, replication: "logical" },
        facts({
          ...supabase,
          role: { name: "migrator", superuser: false, replication: false },
          perDatabase: [db({ canCreate: false, tablesNotOwned: ["auth.users", 'public."Shop"'] })],
        }),
      );
      expect(row(blocked, "Replication paths")).toMatchObject({
        status: "FAIL",
        detail: expect.stringContaining(
          "logical: not possible (role migrator has no REPLICATION; role migrator may not CREATE in the database; 2 table(s) not owned by migrator)",
        ),
      });
      expect(row(blocked, "Role may replicate")).toMatchObject({
        status: "FAIL",
        detail: expect.stringContaining("migrator has no REPLICATION attribute"),
      });
      expect(row(blocked, "Role may publish")).toMatchObject({ status: "FAIL", objects: ["postgres"] });
      expect(row(blocked, "Tables owned")).toMatchObject({
        status: "FAIL",
        objects: ["auth.users", 'public."Shop"'],
        detail: expect.stringContaining("ALTER TABLE … OWNER TO migrator"),
      });
    });

    it("the logical path refuses a pooler: a subscription needs the direct host", () => {
      const pooled = { ...ctx, host: "aws-0-us-west-1.pooler.supabase.com", replication: "logical" as const };
      expect(checkDirectConnection(pooled)).toMatchObject({
        status: "FAIL",
        detail: expect.stringContaining("a subscription needs the direct host"),
      });
      expect(row(evaluateSource(pooled, supabase), "Replication paths")).toMatchObject({
        status: "FAIL",
        detail: expect.stringContaining("logical: not possible (the connection goes through a pooler)"),
      });
    });

    it("no path: fails and says why for each", () => {
      const none = facts({ ...supabase, settings: { ...supabase.settings, wal_level: "replica" } });
      expect(row(evaluateSource(ctx, none), "Replication paths")).toMatchObject({
        status: "FAIL",
        detail:
          "dms: not possible (wal_level is replica; pglogical is not available on this server); logical: not possible (wal_level is replica); no path can start from this source",
      });
    });
  });
});
