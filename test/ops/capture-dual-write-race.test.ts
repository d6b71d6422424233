/**
 * The race the runbook-2 rehearsal found: the applier reads a legacy row, a Worker's dual write then
 * writes legacy and the new store, and the applier's older copy lands after it — the new store serves
 * the older value until the next change. The applier keeps the legacy rows it read share-locked until
 * it has written the new store, so a writer of one of them waits. Shown here with real PostgreSQL: the
 * applier is held inside its write to the new store (a lock on the target row), and a legacy update of
 * the same row cannot go through meanwhile; once the applier is done, it does.
 */
import { Client } from "pg";
import { startPostgres, type PgServer } from "../support/postgres";
import { RELATIONAL_SCHEMA, USERS_TABLE, insertRelational } from "./backfill/relational-fixture";
import { migrateSchema } from "../../ops/schema/run";
import { connectSource } from "../../ops/backfill/source";
import { planPgTable } from "../../ops/backfill/pg-target";
import { applyRound, backlog, type CaptureSink } from "../../ops/capture/applier";
import { installCapture } from "../../ops/capture/install";

jest.setTimeout(120_000);

let server: PgServer;
let legacy: Client; // the app's writes
let applierConn: Client; // the applier's session
let target: Client;
let sinks: Map<string, CaptureSink>;

const USERS = USERS_TABLE;

beforeAll(async () => {
  server = await startPostgres();
  legacy = new Client({ connectionString: server.url });
  await legacy.connect();
  await legacy.query(RELATIONAL_SCHEMA);
  await insertRelational(legacy, 5);
  await legacy.query("CREATE DATABASE target");
  await migrateSchema({ url: server.urlFor("target"), schema: "matchauto" });
  target = await connectSource(server.urlFor("target"));
  applierConn = await connectSource(server.url);
  await installCapture(legacy, [{ schema: "public", name: "users", primaryKey: ["id"] }]);
  sinks = new Map([
    ["users", { store: "supabase", plan: await planPgTable(applierConn, target, USERS), client: target }],
  ]);
});

afterAll(async () => {
  await Promise.all([legacy, applierConn, target].map((c) => c?.end().catch(() => undefined)));
  await server?.stop();
});

const nameInTarget = async () =>
  (await target.query("SELECT display_name FROM matchauto.users WHERE id = 1")).rows[0]?.display_name;

it("a writer of a row the applier is copying waits until the copy is in the new store", async () => {
  await legacy.query("UPDATE users SET full_name = 'v1', updated_at = now() WHERE id = 1");
  expect((await applyRound(applierConn, sinks, 100)).changes).toBe(1);
  expect(await nameInTarget()).toBe("v1");

  await legacy.query("UPDATE users SET full_name = 'v2', updated_at = now() WHERE id = 1");
  // Hold the applier inside its write to the new store: the target row is locked by another session.
  const blocker = await connectSource(server.urlFor("target"));
  await blocker.query("BEGIN");
  await blocker.query("SELECT 1 FROM matchauto.users WHERE id = 1 FOR UPDATE");
  const round = applyRound(applierConn, sinks, 100);
  await new Promise((r) => setTimeout(r, 500));

  // The app's (the Worker's) write of the same legacy row cannot go through while the copy is in flight.
  const writer = new Client({ connectionString: server.url });
  await writer.connect();
  await writer.query("SET lock_timeout = '300ms'");
  await expect(
    writer.query("UPDATE users SET full_name = 'v3', updated_at = now() WHERE id = 1"),
  ).rejects.toMatchObject({ code: "55P03" });

  await blocker.query("COMMIT");
  await blocker.end();
  expect((await round).changes).toBe(1);
  expect(await nameInTarget()).toBe("v2");
  // The copy is done: the write goes through, and its own change follows.
  await writer.query("UPDATE users SET full_name = 'v3', updated_at = now() WHERE id = 1");
  await writer.end();
  expect((await applyRound(applierConn, sinks, 100)).changes).toBe(1);
  expect(await nameInTarget()).toBe("v3");
});

it("a late new-store write of an abandoned request is overwritten by the recheck, and is no lag meanwhile", async () => {
  await legacy.query("UPDATE users SET full_name = 'v4', updated_at = now() WHERE id = 1");
  const first = await applyRound(applierConn, sinks, 100, { recheckSeconds: 1 });
  expect([first.changes, first.rechecked]).toEqual([1, 0]);
  expect(await nameInTarget()).toBe("v4");
  // Applied once: not pending, not lag, but still in the log for its second application.
  expect(await backlog(applierConn)).toMatchObject({ pending: 0, lagSeconds: 0 });
  expect(
    (
      await legacy.query(
        "SELECT count(*)::int AS n FROM cutover_capture.changes WHERE recheck_at IS NOT NULL",
      )
    ).rows[0].n,
  ).toBe(1);
  // The new-store half of a request the client gave up on lands now, after the change was applied.
  await target.query("UPDATE matchauto.users SET display_name = 'late' WHERE id = 1");
  // Not before its settle time...
  expect((await applyRound(applierConn, sinks, 100, { recheckSeconds: 1 })).rechecked).toBe(0);
  expect(await nameInTarget()).toBe("late");
  // ...and after it: legacy's state again, and the change leaves the log.
  await new Promise((r) => setTimeout(r, 1100));
  const again = await applyRound(applierConn, sinks, 100, { recheckSeconds: 1 });
  expect([again.changes, again.rechecked]).toEqual([0, 1]);
  expect(await nameInTarget()).toBe("v4");
  expect((await legacy.query("SELECT count(*)::int AS n FROM cutover_capture.changes")).rows[0].n).toBe(0);
});

it("across the final cut a recheck still undoes a late write, keeps a row the new store changed since, and brings back no row it deleted", async () => {
  await legacy.query(
    "INSERT INTO users (id, email, full_name, password_hash) VALUES (100, 'u100@x', 'u100', 'h'), (101, 'u101@x', 'u101', 'h')",
  );
  await legacy.query("UPDATE users SET full_name = 'v5', updated_at = now() WHERE id = 1");
  expect((await applyRound(applierConn, sinks, 100, { recheckSeconds: 1 })).changes).toBe(3);
  const stamp = (id: number) => `(SELECT updated_at FROM matchauto.users WHERE id = ${id})`;
  // Before the cut, the new-store half of an abandoned request lands late, with its older version's time.
  await target.query(
    `UPDATE matchauto.users SET display_name = 'late', updated_at = ${stamp(1)} - interval '1 minute' WHERE id = 1`,
  );
  // The cut: the Workers now write the new store only, stamping what they write.
  await target.query(
    "UPDATE matchauto.users SET display_name = 'written after the cut', updated_at = now() WHERE id = 100",
  );
  await target.query("DELETE FROM matchauto.users WHERE id = 101");
  await new Promise((r) => setTimeout(r, 1100));
  const r = await applyRound(applierConn, sinks, 100, { recheckSeconds: 1, afterCut: true });
  expect([r.changes, r.rechecked, r.kept]).toEqual([0, 3, 2]);
  const names = async () =>
    (
      await target.query(
        "SELECT id::int, display_name FROM matchauto.users WHERE id IN (1, 100, 101) ORDER BY id",
      )
    ).rows;
  expect(await names()).toEqual([
    { id: 1, display_name: "v5" },
    { id: 100, display_name: "written after the cut" },
  ]);
  expect((await legacy.query("SELECT count(*)::int AS n FROM cutover_capture.changes")).rows[0].n).toBe(0);
  expect(await backlog(applierConn)).toMatchObject({ pending: 0, rechecks: 0 });
});
