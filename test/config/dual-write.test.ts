import * as path from "node:path";
import { ConfigError, parseMigrations, type ConfigProblem } from "../../infra/config/load";
import { CONFIG_KEY } from "../../infra/config/schema";
import { readStackConfig } from "../../tooling/stack-file";

const ROOT = path.resolve(__dirname, "../..");
const NOW = new Date("2026-03-05T12:00:00Z");
const AT = `${CONFIG_KEY}.matchauto`;
type Spec = Record<string, any>;

/** The stack file's migrations, with `edit` applied to `matchauto`. */
function migrationsOf(stack: string, edit: (m: Spec, all: Spec) => void = () => {}): Spec {
  const all = structuredClone(readStackConfig(stack, ROOT).config[CONFIG_KEY]) as Spec;
  edit(all.matchauto, all);
  return all;
}

function problemsOf(raw: unknown): ConfigProblem[] {
  try {
    parseMigrations(raw, { now: NOW });
  } catch (e) {
    if (e instanceof ConfigError) return [...e.problems];
    throw e;
  }
  throw new Error("expected a ConfigError, the config parsed");
}

describe.each([{ stack: "staging" }, { stack: "prod" }])("$stack stack file", ({ stack }) => {
  it("carries a valid matchauto migration of kind dual-write at baseline", () => {
    const m = parseMigrations(migrationsOf(stack), { now: NOW }).matchauto;
    expect(m).toMatchObject({ kind: "dual-write", phase: "baseline", soakDays: 7 });
    if (m.kind !== "dual-write") throw new Error("unreachable");
    expect(m.legacy.passwordSecretKey).toBe("matchautoLegacyPassword");
    expect(m.target.passwordSecretKey).toBe("matchautoTargetPassword");
    expect(m.d1.every((d) => d.readReplication !== undefined)).toBe(true);
    expect(new Set(m.tables.map((t) => t.store))).toEqual(new Set(["d1", "supabase"]));
    expect(readStackConfig(stack, ROOT).secretKeys).toEqual(
      expect.arrayContaining(["cutover:matchautoLegacyPassword", "cutover:matchautoTargetPassword"]),
    );
  });
});

interface BadCase {
  readonly name: string;
  readonly edit: (m: Spec, all: Spec) => void;
  readonly path: string;
  readonly message: string;
  readonly hint?: string;
}

const CUT = "2026-03-01T12:00:00Z";
const BAD: BadCase[] = [
  {
    name: "read-switch without readPercent",
    edit: (m) => (m.phase = "read-switch"),
    path: `${AT}.readPercent`,
    message: "phase read-switch needs readPercent (one of 10, 50, 100)",
    hint: "pulumi config set --path 'cutover:migrations.<name>.readPercent' 10",
  },
  {
    name: "readPercent off the ramp",
    edit: (m) => Object.assign(m, { phase: "read-switch", readPercent: 30 }),
    path: `${AT}.readPercent`,
    message: "expected one of the ramp steps 10, 50, 100, got 30",
    hint: "add the step to ramp or pick one of its values",
  },
  {
    name: "finalCutAt typed by hand (the ledger records it)",
    edit: (m) => Object.assign(m, { phase: "final-cut", finalCutAt: CUT }),
    path: `${AT}.finalCutAt`,
    message: "finalCutAt is no longer read: the phase ledger records when the final cut was applied",
    hint: "remove this key",
  },
  {
    name: "readPercent outside read-switch",
    edit: (m) => Object.assign(m, { phase: "dual-write", readPercent: 10 }),
    path: `${AT}.readPercent`,
    message: "readPercent only applies in phase read-switch (phase is dual-write)",
    hint: "remove it when moving on",
  },
  {
    name: "rollbackFrom outside rollback",
    edit: (m) => Object.assign(m, { phase: "dual-write", rollbackFrom: "backfill" }),
    path: `${AT}.rollbackFrom`,
    message: "rollbackFrom only applies in phase rollback (phase is dual-write)",
  },
  {
    name: "rollback from final-cut",
    edit: (m) => Object.assign(m, { phase: "rollback", rollbackFrom: "final-cut" }),
    path: `${AT}.rollbackFrom`,
    message: "expected the phase being rolled back from: shadow, backfill, dual-write, read-switch",
    hint: "there is no rollback after the final cut (legacy is no longer written) — fix forward",
  },
  {
    name: "a D1 table naming an undeclared database",
    edit: (m) => (m.tables[0].d1Database = "matchauto-edge"),
    path: `${AT}.tables[0].d1Database`,
    message: 'table cities is stored in D1 but d1Database "matchauto-edge" is not declared',
  },
  {
    name: "a Supabase table naming a D1 database",
    edit: (m) => (m.tables[2].d1Database = m.d1[0].name),
    path: `${AT}.tables[2].d1Database`,
    message: "table users is stored in the new Supabase schema: d1Database does not apply",
  },
  {
    name: "a binding used twice",
    edit: (m) => m.d1.push({ ...m.d1[0], name: "matchauto-geo" }),
    path: `${AT}.d1`,
    message: 'binding "EDGE_DB" is used twice',
    hint: "each D1 database needs its own binding",
  },
  {
    name: "target equal to legacy",
    edit: (m) => (m.target = { ...m.target, host: m.legacy.host, schema: "public" }),
    path: `${AT}.target.schema`,
    message: "target is the same schema as legacy",
  },
  {
    name: "a D1 database retired before decommission",
    edit: (m) => (m.d1[0].retired = true),
    path: `${AT}.d1`,
    message: "a D1 database is marked retired outside decommission",
    hint: "mark it retired only in the decommission change",
  },
  {
    name: "a table still stored in the D1 database being retired",
    edit: (m) => Object.assign(m, { phase: "decommission", d1: [{ ...m.d1[0], retired: true }] }),
    path: `${AT}.tables[0].d1Database`,
    message:
      "table cities is still stored in D1 database matchauto-edge-staging, which is marked retired: decommission would delete the store it is read from",
    hint: "move the table to a database that stays, or do not retire matchauto-edge-staging",
  },
  {
    name: "a comparison cron that is not five fields",
    edit: (m) => (m.compare = { cron: "every 10 minutes please" }),
    path: `${AT}.compare.cron`,
    message: 'expected a cron expression of five fields, e.g. "*/10 * * * *"',
  },
  {
    name: "a legacy binding that is not a binding name",
    edit: (m) => (m.cloudflare.legacyBindings = ["legacy-url"]),
    path: `${AT}.cloudflare.legacyBindings[0]`,
    message: "expected a binding name such as LEGACY_DATABASE_URL",
  },
  {
    name: "a short Cloudflare account id",
    edit: (m) => (m.cloudflare.accountId = "5f2c8e1a9b7d"),
    path: `${AT}.cloudflare.accountId`,
    message: "expected a 32-character Cloudflare account id",
  },
  {
    name: "readReplication left implicit",
    edit: (m) => delete m.d1[0].readReplication,
    path: `${AT}.d1[0].readReplication`,
    message: "expected readReplication auto or disabled, stated explicitly",
    hint: "an implicit value hits a known D1 create error — disabled keeps every read on the primary",
  },
  {
    name: "an unknown store",
    edit: (m) => (m.tables[0].store = "kv"),
    path: `${AT}.tables[0].store`,
    message: "expected store d1 or supabase",
    hint: "d1 for edge read-only data (cities, categories), supabase for relational data",
  },
  {
    name: "an unknown location hint",
    edit: (m) => (m.d1[0].locationHint = "us-west2"),
    path: `${AT}.d1[0].locationHint`,
    message: "expected a D1 location hint: wnam, enam, weur, eeur, apac or oc",
  },
  {
    name: "a lower-case binding",
    edit: (m) => (m.d1[0].binding = "edgeDb"),
    path: `${AT}.d1[0].binding`,
    message: "expected an upper-case binding name such as EDGE_DB",
  },
  {
    name: "a misspelt phase",
    edit: (m) => (m.phase = "dualwrite"),
    path: `${AT}.phase`,
    message:
      "expected one of baseline, shadow, backfill, dual-write, read-switch, final-cut, decommission, rollback",
  },
  {
    name: "flagsUpdatedAt without a zone",
    edit: (m) => (m.flagsUpdatedAt = "2026-03-01 12:00"),
    path: `${AT}.flagsUpdatedAt`,
    message: "expected an ISO-8601 time with a zone, e.g. 2026-03-01T12:00:00Z",
  },
  {
    name: "a KV namespace shared with another migration",
    edit: (m, all) =>
      (all.partsauto = { ...structuredClone(m), d1: [{ ...m.d1[0], name: "partsauto-edge" }] }),
    path: `${CONFIG_KEY}.partsauto.cloudflare.kvNamespace`,
    message: 'KV namespace matchauto-staging-migration-flags is already used by migration "matchauto"',
  },
];

describe.each(BAD)("refuses $name", ({ edit, path: where, message, hint }) => {
  it("with its config path, what was expected and a hint", () => {
    const problems = problemsOf(migrationsOf("staging", edit));
    const problem = problems.find((p) => p.path === where);
    expect(problem?.message).toContain(message);
    if (hint !== undefined) expect(problem?.hint).toBe(hint);
  });
});

describe("secrets in bad configs", () => {
  it("a password typed into the migration is refused without echoing it", () => {
    const raw = migrationsOf("staging", (m) => (m.legacy.password = "s3cr3t-Hunter2"));
    const problems = problemsOf(raw);
    expect(problems).toEqual([
      {
        path: `${AT}.legacy.password`,
        message: "unknown key",
        hint: "secrets never go in the migrations map: store them with `pulumi config set --secret <key>` and name that key in passwordSecretKey",
      },
    ]);
    let text = "";
    try {
      parseMigrations(raw, { now: NOW });
    } catch (e) {
      text = (e as Error).message;
    }
    expect(text).toContain(`${AT}.legacy.password`);
    expect(text).not.toContain("s3cr3t-Hunter2");
  });
});

describe("flagsUpdatedAt", () => {
  it("accepts an ISO-8601 time with a zone", () => {
    const m = parseMigrations(
      migrationsOf("prod", (s) =>
        Object.assign(s, { phase: "shadow", flagsUpdatedAt: "2026-03-01T09:00:00-03:00" }),
      ),
      { now: NOW },
    ).matchauto;
    expect(m.kind === "dual-write" && m.flagsUpdatedAt).toBe("2026-03-01T09:00:00-03:00");
  });
});
