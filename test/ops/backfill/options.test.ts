/** Flags and stack config → what to copy where; every operator-facing message of that step. */
import * as fs from "node:fs";
import * as path from "node:path";
import { planBackfill, sourceUrl, databaseUrl } from "../../../ops/backfill/plan";
import { loadMigration } from "../../../tooling/stack-file";
import { resolveTarget, type TargetOptions } from "../../../ops/backfill/target-options";
import { wranglerConfig } from "../../../ops/backfill/wrangler-config";
import { scratchDir } from "../../support/scratch";

const ROOT = path.resolve(__dirname, "../../..");
const base: TargetOptions = { migration: "matchauto", binding: "EDGE_DB", persistTo: ".wrangler/state" };
const flags = { primaryKey: "id", updatedAt: "updated_at" };

describe("resolveTarget", () => {
  it("takes the D1 databases from the stack", async () => {
    const target = await resolveTarget({ ...base, stack: "staging", local: true });
    expect(target.databases.map((d) => d.binding)).toContain("EDGE_DB");
    expect(target.local).toBe(true);
  });

  it.each([
    {
      opts: { database: "x" },
      message: "choose exactly one of --local (local D1 on workerd, offline) or --remote",
    },
    { opts: { database: "x", local: true, remote: true }, message: "choose exactly one of --local" },
    {
      opts: { local: true },
      message: "no D1 database given; hint: pass --stack <stack> --migration <name>, or --database <name>",
    },
    {
      opts: { stack: "staging", database: "ghost", local: true },
      message: /D1 database "ghost" is not declared in migration matchauto; hint: one of matchauto-edge/,
    },
    {
      opts: { database: "x", remote: true },
      message: "--remote needs the Cloudflare account; hint: pass --account-id or --stack",
    },
    {
      opts: { database: "x", remote: true, accountId: "a" },
      message:
        "CLOUDFLARE_API_TOKEN is not set; hint: export an API token with D1 edit permission (it is never printed)",
    },
  ])("refuses $opts", async ({ opts, message }) => {
    await expect(resolveTarget({ ...base, ...opts }, {})).rejects.toThrow(message);
  });

  it("refuses --database-id for several databases", async () => {
    const spec = loadMigration("staging", "matchauto", { dir: ROOT, kind: "dual-write" });
    const dir = scratchDir("stack");
    const doc = {
      config: {
        "cutover:migrations": {
          matchauto: {
            ...spec,
            d1: [...spec.d1, { ...spec.d1[0], name: "second-db", binding: "SECOND_DB" }],
          },
        },
      },
    };
    fs.writeFileSync(path.join(dir, "Pulumi.two.yaml"), JSON.stringify(doc));
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      await expect(
        resolveTarget(
          { ...base, stack: "two", remote: true, databaseId: "abc" },
          { CLOUDFLARE_API_TOKEN: "t" },
        ),
      ).rejects.toThrow("--database-id needs --database to say which database it belongs to");
    } finally {
      process.chdir(cwd);
      fs.rmSync(dir, { recursive: true });
    }
  });
});

describe("planBackfill", () => {
  it("copies the stack's D1 tables into their database", async () => {
    const target = await resolveTarget({ ...base, stack: "staging", local: true });
    const plan = planBackfill(target, flags);
    expect(plan[0].tables.map((t) => t.name)).toEqual(expect.arrayContaining(["cities", "categories"]));
    expect(plan[0].tables.every((t) => t.schema === "public" && t.updatedAtColumn === "updated_at")).toBe(
      true,
    );
  });

  it("builds tables from flags without a stack", async () => {
    const target = await resolveTarget({ ...base, database: "edge", local: true });
    expect(
      planBackfill(target, {
        tables: "cities, categories",
        primaryKey: "id",
        updatedAt: "modified_at",
        schema: "legacy",
      }),
    ).toEqual([
      {
        database: { name: "edge", binding: "EDGE_DB" },
        tables: ["cities", "categories"].map((name) => ({
          name,
          schema: "legacy",
          primaryKey: ["id"],
          updatedAtColumn: "modified_at",
        })),
      },
    ]);
  });

  it("refuses tables that are not D1 tables of the migration", async () => {
    const target = await resolveTarget({ ...base, stack: "staging", local: true });
    expect(() => planBackfill(target, { ...flags, tables: "users" })).toThrow(
      /not a D1 table of this migration: users; hint: one of .*cities/,
    );
  });

  it("needs --tables without a stack", async () => {
    const target = await resolveTarget({ ...base, database: "edge", local: true });
    expect(() => planBackfill(target, flags)).toThrow(
      "--tables is required without --stack; hint: --tables cities,categories",
    );
  });

  it("refuses a migration with no D1 tables", async () => {
    const target = await resolveTarget({ ...base, stack: "staging", local: true });
    const spec = { ...target.spec!, tables: target.spec!.tables.filter((t) => t.store !== "d1") };
    expect(() => planBackfill({ ...target, spec }, flags)).toThrow(
      "no D1 tables to copy; hint: mark tables with store: d1",
    );
  });
});

describe("sourceUrl", () => {
  it("prefers the flag, then LEGACY_DATABASE_URL, then the stack host with LEGACY_DATABASE_PASSWORD", () => {
    const spec = loadMigration("staging", "matchauto", { dir: ROOT, kind: "dual-write" });
    expect(sourceUrl("postgres://a@h/db", spec, { LEGACY_DATABASE_URL: "postgres://b@h/db" })).toBe(
      "postgres://a@h/db",
    );
    expect(sourceUrl(undefined, spec, { LEGACY_DATABASE_URL: "postgres://b@h/db" })).toBe(
      "postgres://b@h/db",
    );
    expect(sourceUrl(undefined, spec, { LEGACY_DATABASE_PASSWORD: "p@ss/word" })).toBe(
      `postgres://${spec.legacy.user}:p%40ss%2Fword@${spec.legacy.host}:${spec.legacy.port}/${spec.legacy.database}?sslmode=require`,
    );
  });

  it("says how to provide the source", () => {
    expect(() => sourceUrl(undefined, undefined, {})).toThrow(
      "no legacy database; hint: export LEGACY_DATABASE_URL=postgres://… (or pass --source), or with --stack export LEGACY_DATABASE_PASSWORD (value of the stack's legacy.passwordSecretKey)",
    );
  });

  it("reaches the target side through its own variables, never the legacy ones", () => {
    const spec = loadMigration("staging", "matchauto", { dir: ROOT, kind: "dual-write" });
    expect(databaseUrl("target", undefined, spec, { TARGET_DATABASE_PASSWORD: "s3cret" })).toBe(
      `postgres://${spec.target.user}:s3cret@${spec.target.host}:${spec.target.port}/${spec.target.database}?sslmode=require`,
    );
    expect(() =>
      databaseUrl("target", undefined, spec, {
        LEGACY_DATABASE_URL: "postgres://l@h/db",
        LEGACY_DATABASE_PASSWORD: "x",
      }),
    ).toThrow("no target database; hint: export TARGET_DATABASE_URL=postgres://… (or pass --target)");
  });
});

it("generates a wrangler config bound to the repo's migrations", () => {
  expect(wranglerConfig([{ name: "edge", binding: "EDGE_DB" }], "/m")).toMatchObject({
    d1_databases: [
      { binding: "EDGE_DB", database_name: "edge", database_id: "local-edge", migrations_dir: "/m" },
    ],
  });
});
