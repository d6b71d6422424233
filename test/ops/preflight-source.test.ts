/**
 * DMS source readiness against real servers: a ready source (PostgreSQL with pglogical preloaded,
 * wal_level=logical) holding every kind of object DMS cannot carry faithfully, and a plain server
 * that is not ready. The CLI runs as a child process, with the source from --source or the stack file.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Client } from "pg";
import { parse, stringify } from "yaml";
import { checkIpv4, checkSource } from "../../ops/preflight/source";
import { ROOT, runCutover } from "../support/cli";
import { startPostgres, type PgServer } from "../support/postgres";

jest.setTimeout(240_000);

const SOURCE_PASSWORD = "Src-Pass-9931";

const preflight = (args: string[], env: NodeJS.ProcessEnv, cwd = ROOT) =>
  runCutover(["check", "preflight", ...args], env, cwd);

async function rows(url: string, sql: string): Promise<Record<string, unknown>[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}
const exec = async (url: string, sql: string): Promise<void> => void (await rows(url, sql));

const SOURCE_SCHEMA = `
  create extension pglogical;
  create table "Shop" (id serial primary key, name text not null);
  create table audit_log (at timestamptz, line text);
  create unlogged table session_cache (id int primary key, payload text);
  create table "Reel" (id bigint generated always as identity primary key, width int, height int,
                       area int generated always as (width * height) stored);
  create materialized view shop_stats as select count(*) as shops from "Shop";
  select lo_create(0);
`;

let ready: PgServer;
let plain: PgServer;
let stackDir: string;

beforeAll(async () => {
  [ready, plain] = await Promise.all([
    startPostgres({ pglogical: true, password: SOURCE_PASSWORD }),
    startPostgres({
      password: SOURCE_PASSWORD,
      extraConf: { max_replication_slots: "2", max_wal_senders: "2" },
    }),
  ]);
  await exec(ready.url, SOURCE_SCHEMA);
  await exec(plain.url, "create database app");
  // Only in `app`: proves each migrated database's catalog is read from that database.
  await exec(plain.urlFor("app"), "create table app_events (at timestamptz, kind text)");

  // A copy of the staging stack whose avvivo source points at the local ready server.
  stackDir = fs.mkdtempSync(path.join(os.tmpdir(), "cutover-stack-"));
  const doc = parse(fs.readFileSync(path.join(ROOT, "Pulumi.staging.yaml"), "utf8"));
  Object.assign(doc.config["cutover:migrations"].avvivo.source, { host: "127.0.0.1", port: ready.port });
  fs.writeFileSync(path.join(stackDir, "Pulumi.local.yaml"), stringify(doc));
});

afterAll(async () => {
  await Promise.all([ready?.stop(), plain?.stop()]);
  if (stackDir) fs.rmSync(stackDir, { recursive: true, force: true });
});

describe("preflight:cloud --source (DMS source readiness)", () => {
  it("passes the required checks on a ready source and names every object DMS cannot carry", async () => {
    const run = await preflight(["--source", ready.url], { DATABASE_URL: ready.url });
    const lines = run.stdout.split("\n");
    const line = (name: string) => lines.find((l) => l.startsWith(`${name}: `));
    expect(line("Source connectivity")).toBe("Source connectivity: OK");
    expect(line("wal_level")).toBe("wal_level: OK (logical)");
    expect(line("pglogical preloaded")).toBe("pglogical preloaded: OK (in shared_preload_libraries)");
    expect(line("pglogical installed")).toBe("pglogical installed: OK (postgres)");
    expect(line("postgres database")).toBe("postgres database: OK (exists)");
    expect(line("Direct connection")).toBe(`Direct connection: OK (127.0.0.1:${ready.port})`);
    expect(line("Replication slots")).toMatch(
      /^Replication slots: OK \(10 free of max_replication_slots=10; 1 needed/,
    );
    expect(line("WAL senders")).toMatch(/^WAL senders: OK \(10 free of max_wal_senders=10; 1 needed/);
    expect(line("Tables without primary key")).toBe(
      "Tables without primary key: WARN: 1 table(s) get only INSERTs during CDC (add a primary key): public.audit_log",
    );
    expect(line("UNLOGGED tables")).toBe(
      "UNLOGGED tables: WARN: 1 table(s) not replicated (ALTER TABLE … SET LOGGED): public.session_cache",
    );
    expect(line("Generated columns")).toMatch(
      /^Generated columns: WARN: 1 column\(s\) not carried.*: public\."Reel"\.area$/,
    );
    expect(line("Large objects")).toBe(
      "Large objects: WARN: not replicated (move them to bytea or object storage): postgres: 1",
    );
    expect(line("Materialized views")).toMatch(
      /^Materialized views: WARN: 1 view\(s\) arrive empty.*: public\.shop_stats$/,
    );
    expect(line("Sequences to reset after promotion")).toMatch(
      /^Sequences to reset after promotion: WARN: 2 sequence\(s\).*: public\."Reel_id_seq", public\."Shop_id_seq"$/,
    );
    expect(line("Database size")).toMatch(/^Database size: OK \([0-9.]+ MB total; postgres [0-9.]+ MB\)$/);
    expect(run.code).toBe(0);
    expect(run.stdout + run.stderr).not.toContain(SOURCE_PASSWORD);
  });

  it("fails a source without logical decoding or pglogical, and a missing migrated database", async () => {
    // SOURCE_DATABASE_URL instead of --source: the password stays off the command line.
    const run = await preflight(["--databases", "postgres,app,shop"], {
      DATABASE_URL: plain.url,
      SOURCE_DATABASE_URL: plain.url,
    });
    // The earlier release's name is still read, and said to be going.
    const old = await preflight(["--databases", "postgres,app,shop"], {
      DATABASE_URL: plain.url,
      SOURCE_URL: plain.url,
    });
    expect(old.stderr).toContain(
      "check preflight: SOURCE_URL is read as SOURCE_DATABASE_URL; the old name goes in the next release",
    );
    expect(old.stdout).toBe(run.stdout);
    expect(run.stdout).toContain(
      "wal_level: FAIL: is replica; replication needs logical (set wal_level=logical and restart)",
    );
    // This server has no pglogical at all: preflight says so and never asks to preload it.
    expect(run.stdout).toContain(
      "Replication paths: FAIL: dms: not possible (wal_level is replica; pglogical is not available on this server); logical: not possible (wal_level is replica); no path can start from this source",
    );
    expect(run.stdout).toMatch(
      /^pglogical available: WARN: not in pg_available_extensions: this server cannot have pglogical/m,
    );
    expect(run.stdout).not.toContain("add pglogical and restart");
    expect(run.stdout).toContain(
      "Migrated databases: FAIL: not found on the source (check dms.databases): shop",
    );
    expect(run.stdout).toContain(
      "Replication slots: FAIL: 2 free of max_replication_slots=2; 3 needed, one per migrated database; raise max_replication_slots and restart",
    );
    expect(run.stdout).toContain("WAL senders: FAIL: 2 free of max_wal_senders=2; 3 needed");
    expect(run.stdout).toContain(
      "Tables without primary key: WARN: 1 table(s) get only INSERTs during CDC (add a primary key): app:public.app_events",
    );
    expect(run.code).toBe(1);
    expect(run.stdout + run.stderr).not.toContain(SOURCE_PASSWORD);
  });

  it("reads the source from the migration's config, password from SOURCE_PASSWORD", async () => {
    const args = ["--migration", "avvivo", "--stack", "local", "--sslmode", "disable", "--json"];
    const run = await preflight(args, { DATABASE_URL: ready.url, SOURCE_PASSWORD }, stackDir);
    const report = JSON.parse(run.stdout);
    const status = (name: string) => report.checks.find((c: { name: string }) => c.name === name)?.status;
    expect(status("Source connectivity")).toBe("OK");
    expect(status("pglogical installed")).toBe("OK");
    const major = report.checks.find((c: { name: string }) => c.name === "Major version");
    const version = Math.floor(
      Number((await rows(ready.url, "show server_version_num"))[0].server_version_num) / 10000,
    );
    expect(major).toMatchObject({ status: "OK", detail: `source PostgreSQL ${version} → POSTGRES_15` });
    expect(report.ok).toBe(true);
    expect(run.code).toBe(0);
    expect(run.stdout + run.stderr).not.toContain(SOURCE_PASSWORD);
  });

  it("compares two real servers' major versions with the destination's databaseVersion", async () => {
    const versionOf = async (url: string) =>
      Math.floor(Number((await rows(url, "show server_version_num"))[0].server_version_num) / 10000);
    const [older, newer] = [await versionOf(ready.url), await versionOf(plain.url)];
    // The harness runs `ready` on the machine's PostgreSQL (pglogical) and `plain` on the embedded build.
    expect(newer).toBeGreaterThan(older);
    const doc = parse(fs.readFileSync(path.join(stackDir, "Pulumi.local.yaml"), "utf8"));
    Object.assign(doc.config["cutover:migrations"].avvivo.source, { port: plain.port });
    doc.config["cutover:migrations"].avvivo.cloudSql.databaseVersion = `POSTGRES_${older}`;
    fs.writeFileSync(path.join(stackDir, "Pulumi.newer.yaml"), stringify(doc));
    const args = ["--migration", "avvivo", "--stack", "newer", "--sslmode", "disable"];
    const run = await preflight(args, { DATABASE_URL: ready.url, SOURCE_PASSWORD }, stackDir);
    expect(run.stdout).toContain(
      `Major version: FAIL: source PostgreSQL ${newer} is newer than the destination POSTGRES_${older}; DMS does not migrate to an earlier major version`,
    );
    expect(run.code).toBe(1);
  });

  it("fails with sslmode verify-full (the config default) against a server without TLS", async () => {
    const run = await preflight(
      ["--migration", "avvivo", "--stack", "local"],
      { DATABASE_URL: ready.url, SOURCE_PASSWORD },
      stackDir,
    );
    expect(run.stdout).toContain(
      `Source connectivity: FAIL: 127.0.0.1:${ready.port}/postgres does not support TLS (use sslmode=disable or check the host)`,
    );
    expect(run.code).toBe(1);
  });

  it.each([
    [
      ["--migration", "avvivo", "--stack", "local"],
      {},
      'no source password: set SOURCE_PASSWORD (config secret cutover:avvivoSourcePassword is encrypted); hint: SOURCE_PASSWORD="$(pulumi config get avvivoSourcePassword --stack local)"',
    ],
    [
      ["--migration", "nope", "--stack", "local"],
      { SOURCE_PASSWORD },
      'has no migration "nope" under cutover:migrations; hint: migrations here are avvivo, matchauto',
    ],
    [
      ["--migration", "matchauto", "--stack", "local"],
      { SOURCE_PASSWORD },
      'migration "matchauto" is of kind dual-write; hint: this command checks kind cloudsql',
    ],
    [
      ["--migration", "avvivo", "--stack", "prod"],
      { SOURCE_PASSWORD },
      "Pulumi.prod.yaml not found; hint: stacks in",
    ],
    [
      ["--source", "postgres://u:pw@h/db", "--migration", "avvivo"],
      {},
      "give either --source <url> or --migration <name>, not both",
    ],
    [
      ["--migration", "avvivo"],
      { SOURCE_PASSWORD },
      "--migration avvivo needs the stack whose file holds it\n  hint: -s <stack>, e.g. cutover check preflight -s staging -m avvivo",
    ],
    [["--source", "mysql://u:pw@h/db"], {}, "--source must be a postgres:// URL, got mysql://…"],
    [
      ["--source", "not a url"],
      {},
      "--source is not a URL; expected postgres://… with user, password, host, port and database",
    ],
    [
      ["--source", "postgres://u:pw@h/db", "--sslmode", "prefer"],
      {},
      "--sslmode prefer is not supported; expected one of disable, require, verify-full",
    ],
  ])("refuses bad input %j with exit 2", async (args, env, message) => {
    const run = await preflight(args, { DATABASE_URL: ready.url, ...env }, stackDir);
    expect(run.stderr).toContain(message);
    expect(run.stdout).toBe("");
    expect(run.code).toBe(2);
  });

  it("names the stack file and the config path when the config is invalid", async () => {
    const file = path.join(stackDir, "Pulumi.broken.yaml");
    const doc = parse(fs.readFileSync(path.join(stackDir, "Pulumi.local.yaml"), "utf8"));
    doc.config["cutover:migrations"].avvivo.source.port = "5432x";
    fs.writeFileSync(file, stringify(doc));
    const run = await preflight(
      ["--migration", "avvivo", "--stack", "broken"],
      { SOURCE_PASSWORD },
      stackDir,
    );
    expect(run.stderr).toContain(`${file}: cutover:migrations is invalid`);
    expect(run.stderr).toContain("cutover:migrations.avvivo.source.port");
    expect(run.code).toBe(2);
  });

  it("says which stack file is not valid YAML", async () => {
    const file = path.join(stackDir, "Pulumi.badyaml.yaml");
    fs.writeFileSync(file, "config: [\n");
    const run = await preflight(
      ["--migration", "avvivo", "--stack", "badyaml"],
      { SOURCE_PASSWORD },
      stackDir,
    );
    expect(run.stderr).toContain(`cutover check preflight: ${file} is not valid YAML: `);
    expect(run.code).toBe(2);
  });

  it("reports a migrated database that refuses connections as a readiness failure", async () => {
    await exec(plain.url, "create database locked");
    await exec(plain.url, "alter database locked allow_connections false");
    const target = {
      endpoint: { url: plain.url },
      host: "127.0.0.1",
      port: plain.port,
      migratedDatabases: ["locked"],
      connectivity: "static-ip" as const,
      secrets: [],
    };
    const results = await checkSource(target, 2000);
    expect(results.map((r) => r.status)).toEqual(["OK", "OK", "FAIL"]);
    expect(results[2]).toMatchObject({
      name: "Source readiness",
      detail: `127.0.0.1:${plain.port}/postgres: database "locked" is not currently accepting connections`,
    });
  });

  it("checks the source's extensions against what the destination can install, live", async () => {
    // old_snapshot ships with PostgreSQL 15 and was removed in 17 (the embedded `plain` server).
    await exec(
      ready.url,
      "create extension if not exists old_snapshot; create extension if not exists pgcrypto",
    );
    const against = async (destination: string) => {
      const run = await preflight(["--source", ready.url, "--target", destination], {
        DATABASE_URL: ready.url,
      });
      return { run, line: run.stdout.split("\n").find((l) => l.startsWith("Extensions: ")) };
    };
    const same = await against(ready.url);
    expect(same.line).toBe("Extensions: OK (old_snapshot, pgcrypto available on the destination)");
    const newer = await against(plain.url);
    expect(newer.line).toBe(
      "Extensions: FAIL: 1 extension(s) the destination cannot install: drop them on the source or find a replacement before replicate: old_snapshot",
    );
    expect(newer.run.stdout).toMatch(/Major version: OK \(source PostgreSQL 15 → POSTGRES_1[6-9]\)/);
    expect(newer.run.code).toBe(1);
    const none = await preflight(["--source", ready.url], { DATABASE_URL: ready.url });
    expect(none.stdout).toContain(
      "Extensions: SKIP (old_snapshot, pgcrypto in the source; pass --target <url> (Cloud SQL after provision) to check they exist there)",
    );
    await exec(ready.url, "drop extension old_snapshot; drop extension pgcrypto");
  });

  it("requires an IPv4 address for DMS's static-IP connectivity", async () => {
    expect(await checkIpv4("127.0.0.1", "static-ip")).toMatchObject({ status: "OK", detail: "127.0.0.1" });
    expect(await checkIpv4("localhost", "static-ip")).toMatchObject({
      status: "OK",
      detail: "localhost → 127.0.0.1",
    });
    expect((await checkIpv4("no-such-host.invalid", "static-ip")).status).toBe("FAIL");
    expect(await checkIpv4("::1", "static-ip")).toMatchObject({
      status: "FAIL",
      detail:
        "::1 has no IPv4 address; DMS (static-IP connectivity) reaches the source over IPv4: enable Supabase's IPv4 add-on, or use the session pooler host (IPv4) on port 5432",
    });
    expect((await checkIpv4("::1", "vpc-peering")).status).toBe("SKIP");
    // Cloud SQL's subscription needs IPv4 whatever DMS's connectivity setting says.
    expect(await checkIpv4("::1", "vpc-peering", "logical")).toMatchObject({
      status: "FAIL",
      detail:
        "::1 has no IPv4 address; Cloud SQL's subscription reaches the source over IPv4 and cannot use a pooler: enable Supabase's IPv4 add-on",
    });
  });

  it("reports a source that dies between checks as a failure, not a crash", async () => {
    const doomed = await startPostgres({ password: SOURCE_PASSWORD });
    await doomed.kill();
    const run = await preflight(["--source", doomed.url, "--timeout", "2"], { DATABASE_URL: ready.url });
    expect(run.stdout).toContain(
      `Source connectivity: FAIL: connection refused by 127.0.0.1:${doomed.port}/postgres`,
    );
    expect(run.stdout).not.toContain("wal_level");
    expect(run.code).toBe(1);
    await doomed.stop();
  });
});

describe("preflight:cloud on a source laid out like Supabase (no superuser, no pglogical)", () => {
  const ROLE_PASSWORD = "Supa-Role-6610";
  let supa: PgServer;
  let asRole: string;

  beforeAll(async () => {
    // The embedded build has no pglogical to offer, as Supabase has none.
    supa = await startPostgres({ logical: true });
    await exec(
      supa.url,
      `create role supa login replication password '${ROLE_PASSWORD}';
       grant create on database postgres to supa; grant create on schema public to supa;
       create schema auth; create table auth.users (id uuid primary key);
       create table public.audit (id int primary key);`,
    );
    const u = new URL(supa.url);
    u.username = "supa";
    u.password = ROLE_PASSWORD;
    asRole = u.toString();
    await exec(asRole, 'create table "Shop" (id serial primary key, name text)');
    const doc = parse(fs.readFileSync(path.join(stackDir, "Pulumi.local.yaml"), "utf8"));
    Object.assign(doc.config["cutover:migrations"].avvivo.source, { port: supa.port, user: "supa" });
    doc.config["cutover:migrations"].avvivo.replication = "logical";
    // The embedded server is PostgreSQL 17: the destination must be as new.
    doc.config["cutover:migrations"].avvivo.cloudSql.databaseVersion = "POSTGRES_17";
    fs.writeFileSync(path.join(stackDir, "Pulumi.supa.yaml"), stringify(doc));
    doc.config["cutover:migrations"].avvivo.replication = "dms";
    fs.writeFileSync(path.join(stackDir, "Pulumi.supadms.yaml"), stringify(doc));
  });

  afterAll(async () => {
    await supa?.stop();
  });

  const line = (out: string, name: string) => out.split("\n").find((l) => l.startsWith(`${name}: `));

  it("without a config: neither path while a replicated table belongs to another role, and says which", async () => {
    const run = await preflight(["--source", asRole], { DATABASE_URL: supa.url });
    expect(line(run.stdout, "Replication paths")).toBe(
      "Replication paths: FAIL: dms: not possible (pglogical is not available on this server); logical: not possible (1 table(s) not owned by supa); no path can start from this source",
    );
    expect(line(run.stdout, "Tables owned")).toMatch(
      /^Tables owned: WARN: 1 table\(s\) of the replicated schemas belong to another role; .*OWNER TO supa.*: public\.audit$/,
    );
    expect(line(run.stdout, "Role may replicate")).toBe("Role may replicate: OK (supa: REPLICATION)");
    // Supabase's own schemas are not replicated: auth.users is not named.
    expect(run.stdout).not.toContain("auth.users");
    expect(run.code).toBe(1);
    expect(run.stdout + run.stderr).not.toContain(ROLE_PASSWORD);
  });

  it("with replication: logical in the config: ready once the role owns the tables; pglogical is not asked for", async () => {
    await exec(supa.url, "alter table public.audit owner to supa");
    const args = ["--migration", "avvivo", "--stack", "supa", "--sslmode", "disable"];
    const run = await preflight(args, { DATABASE_URL: supa.url, SOURCE_PASSWORD: ROLE_PASSWORD }, stackDir);
    expect(line(run.stdout, "Replication paths")).toBe(
      "Replication paths: OK (dms: not possible (pglogical is not available on this server); logical: possible; the config chooses logical)",
    );
    expect(run.stdout).not.toMatch(/^pglogical/m);
    expect(line(run.stdout, "Tables owned")).toBe(
      "Tables owned: OK (every replicated table belongs to supa)",
    );
    expect([run.code, run.stdout.split("\n").filter((l) => /: FAIL/.test(l))]).toEqual([0, []]);
  });

  it("with replication: dms in the config: fails, and names the path that works instead", async () => {
    const args = ["--migration", "avvivo", "--stack", "supadms", "--sslmode", "disable"];
    const run = await preflight(args, { DATABASE_URL: supa.url, SOURCE_PASSWORD: ROLE_PASSWORD }, stackDir);
    expect(line(run.stdout, "Replication paths")).toBe(
      "Replication paths: FAIL: dms: not possible (pglogical is not available on this server); logical: possible; the config chooses dms: set replication: logical (the other path works from this source)",
    );
    expect(line(run.stdout, "pglogical available")).toMatch(
      /^pglogical available: FAIL: .*set replication: logical$/,
    );
    expect(run.stdout).not.toContain("add pglogical and restart");
    expect(run.code).toBe(1);
    expect(run.stdout + run.stderr).not.toContain(ROLE_PASSWORD);
  });
});
