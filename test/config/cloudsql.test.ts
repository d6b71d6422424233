import { ConfigError, parseMigrations } from "../../infra/config/load";
import { NOW, rawMigrations } from "../support/stack";

type Raw = Record<string, Record<string, any>>;

/** Parses and returns the ConfigError's text (fails the test when the config is accepted). */
function problemsOf(raw: Raw): string {
  try {
    parseMigrations(raw, { now: NOW });
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).message;
  }
  throw new Error("config was accepted");
}

describe.each(["staging", "prod"] as const)("the %s stack file", (stack) => {
  it("is valid and fills in the defaults", () => {
    const m = parseMigrations(rawMigrations(stack), { now: NOW });
    const avvivo = m.avvivo;
    expect(avvivo.kind).toBe("cloudsql");
    if (avvivo.kind !== "cloudsql") return;
    expect(avvivo.ramp).toEqual([10, 50, 100]);
    expect([avvivo.writeMove, avvivo.switch]).toEqual(["ramp", { deadlineSeconds: 600 }]);
    expect(avvivo.cloudRun.service).toBe("avvivo-api");
    expect(avvivo.cloudRun.region).toBe("us-west2");
    expect(avvivo.cloudRun.migrateCommand).toEqual(["npx", "prisma", "migrate", "deploy"]);
    expect(avvivo.source.criticalTables).toEqual([
      "Shop",
      "Stream",
      "Reel",
      "QuotaWallet",
      "PurchaseRequest",
      "ChatConversation",
      "ChatMessage",
    ]);
  });
});

interface BadCase {
  what: string;
  change: (m: Raw) => void;
  path: string;
  message: string;
}

const A = "cutover:migrations.avvivo";
const NOT_ED25519 =
  "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEFtJhA/j1PsPhXTM+7ei8B+RLO5HT\nH+awijD87uWElLjHu/zPb/Jx7k4YYbf5xh7ZlTY/9RHDRnXYcgLil1sKeQ==\n-----END PUBLIC KEY-----";
const cases: BadCase[] = [
  {
    what: "an evidence key that is not a PEM public key",
    change: (m) => (m.avvivo.evidenceSignedBy = "ssh-ed25519 AAAAC3Nza"),
    path: `${A}.evidenceSignedBy`,
    message:
      "expected an Ed25519 public key in PEM (-----BEGIN PUBLIC KEY----- … -----END PUBLIC KEY-----)\n      hint: cutover evidence keygen prints one",
  },
  {
    what: "an evidence key of another algorithm",
    change: (m) => (m.avvivo.evidenceSignedBy = NOT_ED25519),
    path: `${A}.evidenceSignedBy`,
    message: "expected an Ed25519 public key in PEM",
  },
  {
    what: "trafficPercent off the ramp",
    change: (m) => (m.avvivo.trafficPercent = 30),
    path: `${A}.trafficPercent`,
    message: "expected one of the ramp steps 10, 50, 100, got 30",
  },
  {
    what: "canary without trafficPercent",
    change: (m) => (m.avvivo.phase = "canary"),
    path: `${A}.trafficPercent`,
    message: "phase canary needs trafficPercent",
  },
  {
    what: "unknown phase",
    change: (m) => (m.avvivo.phase = "canry"),
    path: `${A}.phase`,
    message: "expected one of baseline, provision",
  },
  {
    what: "typo in a key",
    change: (m) => (m.avvivo.cloudRun.serviceAcount = "x"),
    path: `${A}.cloudRun.serviceAcount`,
    message: "unknown key",
  },
  {
    what: "password in the map",
    change: (m) => (m.avvivo.source.password = "hunter2"),
    path: `${A}.source.password`,
    message: "secrets never go in the migrations map",
  },
  {
    what: "ramp not ascending",
    change: (m) => (m.avvivo.ramp = [10, 50, 40, 100]),
    path: `${A}.ramp[2]`,
    message: "ramp must be strictly ascending",
  },
  {
    what: "ramp not ending at 100",
    change: (m) => (m.avvivo.ramp = [10, 50]),
    path: `${A}.ramp[1]`,
    message: "ramp must end at 100",
  },
  {
    what: "log retention above ENTERPRISE range",
    change: (m) => {
      m.avvivo.cloudSql.backups.logRetentionDays = 10;
      m.avvivo.cloudSql.backups.retainedBackups = 20;
    },
    path: `${A}.cloudSql.backups.logRetentionDays`,
    message: "expected 1–7 days for edition ENTERPRISE, got 10",
  },
  {
    what: "log retention not below retained backups",
    change: (m) => {
      m.avvivo.cloudSql.backups.logRetentionDays = 7;
      m.avvivo.cloudSql.backups.retainedBackups = 7;
    },
    path: `${A}.cloudSql.backups.logRetentionDays`,
    message: "expected fewer log retention days (7) than retained backups (7)",
  },
  {
    what: "stable revision of another service",
    change: (m) => (m.avvivo.cloudRun.stableRevision = "other-api-00001-abc"),
    path: `${A}.cloudRun.stableRevision`,
    message: 'expected a Cloud Run revision name starting with "avvivo-api-"',
  },
  {
    what: "stable revision with upper case",
    change: (m) => (m.avvivo.cloudRun.stableRevision = "avvivo-api-00042-KAV"),
    path: `${A}.cloudRun.stableRevision`,
    message: "lowercase letters, digits",
  },
  {
    what: "cutoverCompletedAt typed by hand (the ledger records it)",
    change: (m) => (m.avvivo.cutoverCompletedAt = "2026-11-20T00:00:00Z"),
    path: `${A}.cutoverCompletedAt`,
    message: "cutoverCompletedAt is no longer read: the phase ledger records when the candidate reached 100%",
  },
  {
    what: "trafficPercent outside canary",
    change: (m) => (m.avvivo.trafficPercent = 10),
    path: `${A}.trafficPercent`,
    message: "trafficPercent only applies in phase canary (phase is baseline)",
  },
  {
    what: "an app database other than the one DMS migrates",
    change: (m) => (m.avvivo.cloudSql.database = "avvivo_prod"),
    path: `${A}.cloudSql.database`,
    message:
      "expected the source's database (postgres), got avvivo_prod: DMS migrates each source database under its own name, so after promotion the app would read and write an empty avvivo_prod",
  },
  {
    what: "the app's database left out of the migrated databases",
    change: (m) => (m.avvivo.dms.databases = ["analytics"]),
    path: `${A}.dms.databases`,
    message: "expected the app's database postgres among the migrated databases (analytics)",
  },
  {
    what: "a write-block value that does not block",
    change: (m) => (m.avvivo.cloudRun.writeBlock.value = "false"),
    path: `${A}.cloudRun.writeBlock.value`,
    message: 'expected a value that blocks writes, got "false"',
  },
  {
    what: "an empty write-block value",
    change: (m) => (m.avvivo.cloudRun.writeBlock.value = ""),
    path: `${A}.cloudRun.writeBlock.value`,
    message: 'expected a value that blocks writes, got ""',
  },
  {
    what: "an env value over Cloud Run's 32 KiB",
    change: (m) => (m.avvivo.cloudRun.env.BIG = "x".repeat(32_769)),
    path: `${A}.cloudRun.env.BIG`,
    message: "expected at most 32768 bytes (Cloud Run's limit for one value), got 32769",
  },
  {
    what: "more env variables than Cloud Run allows",
    change: (m) => {
      for (let i = 0; i < 995; i++) m.avvivo.cloudRun.env[`V${i}`] = "x";
    },
    path: `${A}.cloudRun.env`,
    message: "expected at most 992 variables in env and secretEnv together",
  },
  {
    what: "an env name Cloud Run reserves",
    change: (m) => (m.avvivo.cloudRun.env.PORT = "8080"),
    path: `${A}.cloudRun.env.PORT`,
    message: "PORT is reserved by Cloud Run",
  },
  {
    what: "rollback from decommission",
    change: (m) => {
      m.avvivo.phase = "rollback";
      m.avvivo.rollbackFrom = "decommission";
    },
    path: `${A}.rollbackFrom`,
    message: "there is no rollback after decommission",
  },
  {
    what: "credential in plain env",
    change: (m) => (m.avvivo.cloudRun.env.STRIPE_API_KEY = "sk_live_abc"),
    path: `${A}.cloudRun.env.STRIPE_API_KEY`,
    message: "expected no credential or connection string in plain env (value not shown)",
  },
  {
    what: "URL with userinfo in plain env",
    change: (m) => (m.avvivo.cloudRun.env.ANALYTICS = "https://user:pw@example.com"),
    path: `${A}.cloudRun.env.ANALYTICS`,
    message: "expected no credential or connection string",
  },
  {
    what: "env set twice",
    change: (m) => (m.avvivo.cloudRun.env.WRITE_FREEZE = "false"),
    path: `${A}.cloudRun.env.WRITE_FREEZE`,
    message: "WRITE_FREEZE is set twice (env and writeBlock)",
  },
  {
    what: "no DATABASE_URL secret",
    change: (m) => delete m.avvivo.cloudRun.secretEnv.DATABASE_URL,
    path: `${A}.cloudRun.secretEnv.DATABASE_URL`,
    message: "expected DATABASE_URL of the source database as a Secret Manager reference",
  },
  {
    what: "transaction pooler as DMS source",
    change: (m) => {
      m.avvivo.source.host = "aws-0-us-west-1.pooler.supabase.com";
      m.avvivo.source.port = 6543;
    },
    path: `${A}.source.port`,
    message: "expected a direct connection (port 5432)",
  },
  {
    what: "subnet in another region",
    change: (m) => (m.avvivo.cloudSql.subnetwork = "projects/p/regions/us-east1/subnetworks/s"),
    path: `${A}.cloudSql.subnetwork`,
    message: "expected a subnetwork in us-west2",
  },
  {
    what: "rollback without rollbackFrom",
    change: (m) => (m.avvivo.phase = "rollback"),
    path: `${A}.rollbackFrom`,
    message: "phase rollback needs rollbackFrom",
  },
  {
    what: "rollbackFrom outside rollback",
    change: (m) => (m.avvivo.rollbackFrom = "canary"),
    path: `${A}.rollbackFrom`,
    message: "rollbackFrom only applies in phase rollback",
  },
  {
    what: "rollback from baseline",
    change: (m) => {
      m.avvivo.phase = "rollback";
      m.avvivo.rollbackFrom = "baseline";
    },
    path: `${A}.rollbackFrom`,
    message: "expected the phase being rolled back from",
  },
  {
    what: "unknown kind",
    change: (m) => (m.avvivo.kind = "mysql"),
    path: `${A}.kind`,
    message: "expected kind to be one of cloudsql, dual-write",
  },
  {
    what: "bad migration name",
    change: (m) => {
      m.Avvivo_2 = m.avvivo;
      delete m.avvivo;
    },
    path: "cutover:migrations.Avvivo_2",
    message: "expected a migration name",
  },
  {
    what: "source CA that is not PEM",
    change: (m) => (m.avvivo.source.caCertificate = "not a cert"),
    path: `${A}.source.caCertificate`,
    message: "expected a PEM certificate",
  },
  {
    what: "image without tag",
    change: (m) => (m.avvivo.cloudRun.image = "us-west2-docker.pkg.dev/p/r/app"),
    path: `${A}.cloudRun.image`,
    message: "expected an image reference with a tag or digest",
  },
  {
    what: "service name longer than Cloud Run allows",
    change: (m) => {
      m.avvivo.cloudRun.service = "a".repeat(50);
      m.avvivo.cloudRun.stableRevision = `${"a".repeat(50)}-00001-abc`;
    },
    path: `${A}.cloudRun.service`,
    message: "expected a Cloud Run service name",
  },
  {
    what: "missing required section",
    change: (m) => delete m.avvivo.cloudSql,
    path: `${A}.cloudSql`,
    message: "missing: expected object",
  },
  {
    what: "wrong type",
    change: (m) => (m.avvivo.attempt = "2"),
    path: `${A}.attempt`,
    message: "expected number",
  },
  {
    what: "an unknown way to move writes",
    change: (m) => (m.avvivo.writeMove = "big-bang"),
    path: `${A}.writeMove`,
    message:
      "expected one of switch, ramp\n      hint: switch moves writes in one bounded step of minutes, ramp in steps through canary",
  },
  {
    what: "the switch without the image its jobs run in",
    change: (m) => {
      m.avvivo.writeMove = "switch";
      delete m.avvivo.validation;
    },
    path: `${A}.validation.image`,
    message: "writeMove: switch runs its freeze, its validation and its thaw as Cloud Run Jobs",
  },
  {
    what: "a switch deadline under half a minute",
    change: (m) => (m.avvivo.switch = { deadlineSeconds: 5 }),
    path: `${A}.switch.deadlineSeconds`,
    message: "expected number to be >=30",
  },
  {
    what: "a switch role that is no PostgreSQL role name",
    change: (m) => (m.avvivo.switch = { appRole: "app; drop table x" }),
    path: `${A}.switch.appRole`,
    message: "expected a PostgreSQL role name",
  },
];

describe("bad cloudsql config", () => {
  it.each(cases)("$what → $path", ({ change, path, message }) => {
    const raw = rawMigrations();
    change(raw);
    const text = problemsOf(raw);
    const block = text.split("  ✗ ").find((b) => b.startsWith(`${path}\n`));
    expect(block).toBeDefined();
    expect(block).toContain(message);
  });

  it("reports every problem at once, each with a hint", () => {
    const raw = rawMigrations();
    raw.avvivo.trafficPercent = 30;
    raw.avvivo.phase = "canry";
    raw.avvivo.cloudRun.env.DATABASE_URL = "postgres://app:s3cr3t-value@db/x";
    const text = problemsOf(raw);
    expect(text).toMatch(/is invalid \([3-9] problems\)/);
    expect(text).toContain(`${A}.trafficPercent`);
    expect(text).toContain(`${A}.phase`);
    expect(text).toContain(`${A}.cloudRun.env.DATABASE_URL`);
    expect(text).toContain("hint: move DATABASE_URL to cloudRun.secretEnv");
  });

  it("never echoes a value that may be secret", () => {
    const raw = rawMigrations();
    raw.avvivo.source.password = "hunter2-do-not-print";
    raw.avvivo.cloudRun.env.DB_PASSWORD = "pa55-do-not-print";
    const text = problemsOf(raw);
    expect(text).not.toContain("do-not-print");
  });

  it("rejects a missing map with a hint", () => {
    expect(() => parseMigrations(undefined)).toThrow(/cutover:migrations[\s\S]*missing: expected a map/);
  });

  it("rejects two migrations that claim the same service", () => {
    const raw = rawMigrations();
    raw.billing = structuredClone(raw.avvivo);
    raw.billing.cloudSql.instanceName = "billing-pg";
    const text = problemsOf(raw);
    expect(text).toContain("cutover:migrations.billing.cloudRun.service");
    expect(text).toContain('Cloud Run service avvivo-api is already used by migration "avvivo"');
  });

  it("accepts decommission: its window is judged by the ledger, not by the config", () => {
    const raw = rawMigrations();
    raw.avvivo.phase = "decommission";
    expect(parseMigrations(raw, { now: NOW }).avvivo.phase).toBe("decommission");
  });

  it("gives one message per problem: an out-of-range percent is not also reported as off the ramp", () => {
    const raw = rawMigrations();
    raw.avvivo.phase = "canary";
    raw.avvivo.trafficPercent = -1;
    const text = problemsOf(raw);
    expect(text).toContain("(1 problem)");
    expect(text).not.toContain("expected one of the ramp steps");
  });

  it("refuses a secret key given as a plain value, naming the key and the command to store it", () => {
    const raw = rawMigrations();
    let error: unknown;
    try {
      parseMigrations(raw, { now: NOW, isPlainValue: (k) => k === "cutover:avvivoSourcePassword" });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const text = (error as Error).message;
    expect(text).toContain(`${A}.source.passwordSecretKey`);
    expect(text).toContain(
      "config key cutover:avvivoSourcePassword holds a plain value; expected a Pulumi secret",
    );
    expect(text).toContain("pulumi config set --secret cutover:avvivoSourcePassword <value>");
  });
});
