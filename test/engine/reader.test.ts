import { randomBytes } from "node:crypto";
import { Client } from "pg";
import { READER_JOB_SCRIPT, READER_ROLE, readerGrantSql, scramVerifier } from "../../infra/engine/reader";
import { startPostgres, type PgServer } from "../support/postgres";
import { runValidate } from "../ops/validate-cli";

jest.setTimeout(120_000);

// What DMS leaves on Cloud SQL during CDC (before promotion): the migrated schema and tables owned through
// cloudsqlexternalsync; the app user made by Cloud SQL (CREATEROLE, not a superuser, not a member).
describe("the validation job's reader, on the machine's PostgreSQL with DMS's ownership layout", () => {
  let server: PgServer;
  let admin: Client;
  const password = randomBytes(24).toString("base64url");
  const as = async <T>(user: string, pass: string, work: (c: Client) => Promise<T>) => {
    const c = new Client({
      connectionString: server.url.replace(/\/\/[^@]*@/, `//${user}:${encodeURIComponent(pass)}@`),
    });
    await c.connect();
    try {
      return await work(c);
    } finally {
      await c.end();
    }
  };
  const readerUrl = () =>
    server.url.replace(/\/\/[^@]*@/, `//${READER_ROLE}:${encodeURIComponent(password)}@`);

  beforeAll(async () => {
    server = await startPostgres({ system: true });
    admin = new Client({ connectionString: server.url });
    await admin.connect();
    await admin.query(`
      SET password_encryption = 'scram-sha-256';
      CREATE ROLE cloudsqlexternalsync NOLOGIN;
      CREATE ROLE avvivo_app LOGIN PASSWORD 'app-pass' CREATEROLE;
      CREATE SCHEMA shop AUTHORIZATION cloudsqlexternalsync;
      SET ROLE cloudsqlexternalsync;
      CREATE TABLE shop."Order" (id serial PRIMARY KEY, total int NOT NULL);
      INSERT INTO shop."Order" (total) SELECT g FROM generate_series(1, 500) g;
      RESET ROLE;
      CREATE TABLE public."Shop" (id bigint PRIMARY KEY, name text);
      INSERT INTO public."Shop" SELECT g, 'shop ' || g FROM generate_series(1, 300) g;
      ALTER TABLE public."Shop" OWNER TO cloudsqlexternalsync;
    `);
  });

  afterAll(async () => {
    await admin?.end();
    await server?.stop();
  });

  it("gives the reader SELECT and nothing else; the app user is left as it was", async () => {
    // Before: the app user cannot read what DMS owns (the failure the issue saw in the job).
    await as("avvivo_app", "app-pass", (c) =>
      expect(c.query(`SELECT count(*) FROM shop."Order"`)).rejects.toThrow(/permission denied/),
    );
    const sql = readerGrantSql(scramVerifier(password, randomBytes(16)));
    expect(sql).not.toContain(password);
    await as("avvivo_app", "app-pass", (c) => c.query(sql));

    await as(READER_ROLE, password, async (c) => {
      expect((await c.query(`SELECT count(*)::int AS n FROM shop."Order"`)).rows[0].n).toBe(500);
      expect((await c.query(`SELECT count(*)::int AS n FROM public."Shop"`)).rows[0].n).toBe(300);
      await expect(c.query(`INSERT INTO shop."Order" (total) VALUES (1)`)).rejects.toThrow(
        /permission denied/,
      );
      await expect(c.query(`UPDATE public."Shop" SET name = 'x'`)).rejects.toThrow(/permission denied/);
      await expect(c.query(`CREATE TABLE shop.t (id int)`)).rejects.toThrow(/permission denied/);
    });
    const roles = await admin.query(
      `SELECT r.rolname, r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolreplication, r.rolbypassrls,
              pg_has_role(r.rolname, 'cloudsqlexternalsync', 'MEMBER') AS owner_member,
              (SELECT count(*)::int FROM pg_auth_members m WHERE m.member = r.oid) AS memberships
       FROM pg_roles r WHERE r.rolname IN ('${READER_ROLE}', 'avvivo_app') ORDER BY r.rolname`,
    );
    expect(roles.rows).toEqual([
      expect.objectContaining({ rolname: "avvivo_app", owner_member: false }),
      {
        rolname: READER_ROLE,
        rolsuper: false,
        rolcreaterole: false,
        rolcreatedb: false,
        rolreplication: false,
        rolbypassrls: false,
        owner_member: false,
        memberships: 0,
      },
    ]);
  });

  it("validate runs as the reader and gives its verdict; a re-run covers tables that appeared since", async () => {
    const sql = readerGrantSql(scramVerifier(password, randomBytes(16)));
    await admin.query(
      `SET ROLE cloudsqlexternalsync; CREATE TABLE shop."Refund" (id int PRIMARY KEY); RESET ROLE;`,
    );
    await as(READER_ROLE, password, (c) =>
      expect(c.query(`SELECT * FROM shop."Refund"`)).rejects.toThrow(/permission denied/),
    );
    await as("avvivo_app", "app-pass", (c) => c.query(sql));
    const r = await runValidate([
      "--source",
      server.url,
      "--target",
      readerUrl(),
      "--schema",
      "shop",
      "--tables",
      "Order,Refund",
    ]);
    expect(r.stdout).toContain("Order: OK (rows 500 = 500");
    expect(r.code).toBe(0);
  });

  it("refuses anything but a SCRAM verifier, and the job feeds the SQL to the app image's Prisma", () => {
    expect(() => readerGrantSql("plain-password")).toThrow("expected a SCRAM-SHA-256 verifier");
    expect(READER_JOB_SCRIPT).toBe(
      'set -eu\nprintf "%s" "$READER_GRANT_SQL" | npx prisma db execute --stdin --url "$DIRECT_URL"',
    );
  });
});
