/**
 * The rehearsal's moving parts against a real PostgreSQL: revisions started with the env the engine
 * computes for them (secrets resolved locally), the router applying the plan's traffic table, and the
 * load recording every write. A wrong env or traffic table in the engine shows here as lost or refused
 * writes.
 */
import * as path from "node:path";
import { Client } from "pg";
import { CONFIG_KEY } from "../../../infra/config/common";
import { parseMigrations } from "../../../infra/config/load";
import type { CloudSqlMigration } from "../../../infra/config/cloudsql";
import { planCloudSql } from "../../../infra/engine/cloudsql";
import { managedSecretIds } from "../../../infra/engine/env";
import { CHAT_SCHEMA } from "../../../ops/rehearse/schema";
import { startLoad } from "../../../ops/rehearse/load";
import {
  resolveEnv,
  startRevision,
  type LocalSecrets,
  type RunningRevision,
} from "../../../ops/rehearse/revisions";
import { pick, startRouter, type Router } from "../../../ops/rehearse/router";
import { readStackConfig } from "../../../tooling/stack-file";
import { startPostgres, type PgServer } from "../../support/postgres";

jest.setTimeout(120_000);

const ROOT = path.resolve(__dirname, "../../..");
let source: PgServer;
let router: Router;
const running: RunningRevision[] = [];

function specAt(phase: string, extra: Record<string, unknown> = {}): CloudSqlMigration {
  const raw = structuredClone(readStackConfig("staging", ROOT).config[CONFIG_KEY]) as Record<
    string,
    Record<string, unknown>
  >;
  raw.avvivo = { ...raw.avvivo, phase, ...extra };
  const spec = parseMigrations(raw, { now: new Date() }).avvivo;
  if (spec.kind !== "cloudsql") throw new Error("avvivo is not cloudsql");
  return spec;
}

/** The stand-in's secrets: the user's secrets point at the source; the program's own ones are unknown here. */
function sourceSecrets(spec: CloudSqlMigration, url: string): LocalSecrets {
  const s = spec.cloudRun.secretEnv;
  return {
    [s.DATABASE_URL.secret]: url,
    [s.DIRECT_URL.secret]: url,
    [s.JWT_SECRET.secret]: "jwt",
    [s.RESEND_API_KEY.secret]: "resend",
    [s.MERCADOPAGO_ACCESS_TOKEN.secret]: "mp",
    [s.ADMIN_STATUS_TOKEN.secret]: "admin-token",
  };
}

beforeAll(async () => {
  source = await startPostgres();
  const pg = new Client({ connectionString: source.url });
  await pg.connect();
  await pg.query(CHAT_SCHEMA);
  await pg.end();
  router = await startRouter();
});

afterAll(async () => {
  await Promise.all(running.map((r) => r.stop()));
  await router?.close();
  await source?.stop();
});

it("the router draws revisions by the table's percentages", () => {
  const routes = [
    { revision: "a", percent: 10, url: "http://a" },
    { revision: "b", percent: 90, url: "http://b" },
  ];
  expect(pick(routes, 0)?.revision).toBe("a");
  expect(pick(routes, 9.99)?.revision).toBe("a");
  expect(pick(routes, 10)?.revision).toBe("b");
  expect(pick(routes, 99.99)?.revision).toBe("b");
  expect(() => router.setTraffic([{ revision: "a", percent: 50, url: "http://a" }])).toThrow(
    "traffic must sum to 100%",
  );
});

it("a secret the stand-in does not hold stops the rehearsal, naming the revision and the secret", () => {
  const spec = specAt("promote");
  const plan = planCloudSql("avvivo", spec);
  const candidate = plan.revisions.find((r) => r.role === "candidate")!;
  expect(() =>
    resolveEnv(
      [{ name: "DATABASE_URL", secret: managedSecretIds("avvivo").databaseUrl, version: "latest" }],
      sourceSecrets(spec, source.url),
      candidate.name,
    ),
  ).toThrow(
    `revision ${candidate.name}: DATABASE_URL references secret avvivo-cloudsql-database-url, which the stand-in does not hold`,
  );
});

it("baseline: every write through the router lands in the source; freeze: the frozen revision refuses writes, reads go on", async () => {
  const baseline = specAt("baseline");
  const plan = planCloudSql("avvivo", baseline);
  const secrets = sourceSecrets(baseline, source.url);
  const started = await Promise.all(plan.revisions.map((r) => startRevision("avvivo", baseline, r, secrets)));
  running.push(...started);
  const url = (name: string) => started.find((r) => r.name === name)!.url;
  router.setTraffic(plan.traffic.map((t) => ({ ...t, url: url(t.revision) })));

  const load = startLoad(router.url, 40);
  await new Promise((r) => setTimeout(r, 1500));
  await load.stop();
  const writes = load.samples().filter((s) => s.kind === "write");
  expect(writes.length).toBeGreaterThanOrEqual(50);
  expect(writes.every((w) => w.status === 201 && w.revision === baseline.cloudRun.stableRevision)).toBe(true);
  const pg = new Client({ connectionString: source.url });
  await pg.connect();
  try {
    const { rows } = await pg.query(
      `SELECT count(*)::int AS n FROM "ChatMessage" WHERE "clientId" = ANY($1)`,
      [load.acknowledged()],
    );
    expect(rows[0].n).toBe(load.acknowledged().length);
  } finally {
    await pg.end();
  }

  // Freeze: the plan serves a revision with the write-block flag; the stand-in follows the table.
  const freeze = specAt("freeze");
  const frozenPlan = planCloudSql("avvivo", freeze);
  const frozen = frozenPlan.revisions.find((r) => !r.writes)!;
  const rev = await startRevision("avvivo", freeze, frozen, sourceSecrets(freeze, source.url));
  running.push(rev);
  expect(rev.env[freeze.cloudRun.writeBlock.name]).toBe(freeze.cloudRun.writeBlock.value);
  router.setTraffic(
    frozenPlan.traffic.map((t) => ({ ...t, url: t.revision === frozen.name ? rev.url : url(t.revision) })),
  );
  const during = startLoad(router.url, 40);
  await new Promise((r) => setTimeout(r, 1000));
  await during.stop();
  const refused = during.samples().filter((s) => s.kind === "write");
  expect(refused.length).toBeGreaterThan(20);
  expect(refused.every((w) => w.status === 503 && w.revision === frozen.name)).toBe(true);
  const read = await fetch(`${router.url}/messages/${load.acknowledged()[0]}`);
  expect(read.status).toBe(200);
});
