/**
 * `cutover bench capture`: runbook 2's PostgreSQL side on this machine, on one local PostgreSQL server
 * (legacy and the new schema as two databases, started and stopped here):
 *   1. backfill into the new schema (streaming COPY, keyset pages of 5,000) beside the baseline of one
 *      INSERT … ON CONFLICT per row, measured on a sample in the same run;
 *   2. change capture draining a backlog of inserts, updates and deletes (rows/s, deletes/s);
 *   3. change capture while writers keep writing: the lag (age of the oldest unapplied change).
 * --rows (default 200000) sets the table size.
 */
import { newCommand, wholeNumber, type Leaf } from "../shell";
import { Client } from "pg";
import { startPostgres } from "../../tooling/local-postgres";
import { migrateSchema } from "../../ops/schema/run";
import { connectSource } from "../../ops/backfill/source";
import { backfillPgTable, planPgTable } from "../../ops/backfill/pg-target";
import { USERS_TABLE } from "../../ops/rehearse/dual-write/legacy";
import { installCapture } from "../../ops/capture/install";
import { applyRound, backlog, type CaptureSink } from "../../ops/capture/applier";

let ROWS = 200_000;
let BASELINE_ROWS = 5_000;
let LOAD_SECONDS = 10;

const USERS = `CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, full_name text, phone text,
  password_hash text NOT NULL, created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now())`;
const SPEC = USERS_TABLE;

const rate = (n: number, ms: number) => Math.round((n * 1000) / ms);
const fmt = (n: number) => n.toLocaleString("en-US");

async function main(argv: readonly string[]): Promise<void> {
  const o = newCommand("cutover bench capture")
    .description(
      "runbook 2's PostgreSQL side: backfill, change capture draining a backlog, and its lag under writes",
    )
    .option("--rows <n>", "rows in the table", wholeNumber("rows, e.g. 200000"), ROWS)
    .option(
      "--baseline-rows <n>",
      "rows of the one-INSERT-per-row sample",
      wholeNumber("rows, e.g. 5000"),
      BASELINE_ROWS,
    )
    .option(
      "--load-seconds <s>",
      "seconds of writes while capture runs",
      wholeNumber("seconds, e.g. 10"),
      LOAD_SECONDS,
    )
    .parse(argv, { from: "user" })
    .opts<{ rows: number; baselineRows: number; loadSeconds: number }>();
  ROWS = o.rows;
  BASELINE_ROWS = o.baselineRows;
  LOAD_SECONDS = o.loadSeconds;

  const server = await startPostgres({ system: true });
  const legacy = new Client({ connectionString: server.url });
  try {
    await legacy.connect();
    await legacy.query(USERS);
    await legacy.query(
      `INSERT INTO users (id, email, full_name, phone, password_hash, created_at, updated_at)
       SELECT i, 'user' || i || '@example.com', 'Usuário ' || i, '+55 11 9' || lpad(i::text, 8, '0'), 'h' || i,
              timestamptz '2026-01-01' + i * interval '1 ms', timestamptz '2026-01-01' + i * interval '1 ms'
         FROM generate_series(1, $1) AS i`,
      [ROWS],
    );
    await legacy.query("CREATE DATABASE target");
    await migrateSchema({ url: server.urlFor("target"), schema: "matchauto" });
    const source = await connectSource(server.url);
    const target = await connectSource(server.urlFor("target"));
    process.stdout.write(`bench:capture — ${fmt(ROWS)} legacy users rows, local PostgreSQL\n\n`);

    // 1. Backfill: COPY pages vs one statement per row.
    let t0 = performance.now();
    const copied = await backfillPgTable(source, target, SPEC, { batchRows: 5000, settleSeconds: 0 });
    const copyMs = performance.now() - t0;
    const plan = await planPgTable(source, target, SPEC);
    await target.query("TRUNCATE matchauto.users");
    const { rows } = await source.query({
      text: "SELECT id::text, email, full_name, phone, created_at::text, updated_at::text FROM users ORDER BY updated_at, id LIMIT $1",
      values: [BASELINE_ROWS],
    });
    t0 = performance.now();
    for (const r of rows) {
      await target.query(
        `INSERT INTO matchauto.users (id, email, display_name, phone, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (id) DO UPDATE SET email = excluded.email, display_name = excluded.display_name, phone = excluded.phone,
           created_at = excluded.created_at, updated_at = excluded.updated_at`,
        [r.id, r.email, r.full_name, r.phone, r.created_at, r.updated_at],
      );
    }
    const rowMs = performance.now() - t0;
    const copyRate = rate(copied.copied, copyMs);
    const rowRate = rate(rows.length, rowMs);
    process.stdout.write(
      `backfill → new schema (${plan.target.length} columns, one renamed)\n` +
        `  streaming COPY, pages of 5,000   ${fmt(copied.copied)} rows in ${(copyMs / 1000).toFixed(2)} s = ${fmt(copyRate)} rows/s\n` +
        `  one INSERT per row (baseline)    ${fmt(rows.length)} rows in ${(rowMs / 1000).toFixed(2)} s = ${fmt(rowRate)} rows/s\n` +
        `  ratio                            ${(copyRate / rowRate).toFixed(1)}× the baseline\n\n`,
    );
    // Back to a full copy for the capture runs.
    await target.query("TRUNCATE matchauto.users; TRUNCATE matchauto._cutover_backfill");
    await backfillPgTable(source, target, SPEC, { batchRows: 5000, settleSeconds: 0 });

    // 2. Drain a backlog.
    await installCapture(source, [{ schema: "public", name: "users", primaryKey: ["id"] }]);
    const sinks = new Map<string, CaptureSink>([["users", { store: "supabase", plan, client: target }]]);
    const n = Math.floor(ROWS / 10);
    await legacy.query(`UPDATE users SET full_name = full_name || '·', updated_at = now() WHERE id <= $1`, [
      n,
    ]);
    await legacy.query(`DELETE FROM users WHERE id > $1 AND id <= $2`, [n, 2 * n]);
    await legacy.query(
      `INSERT INTO users (id, email, password_hash) SELECT i, 'new' || i || '@example.com', 'h' FROM generate_series($1::bigint + 1, $1::bigint + $2) i`,
      [ROWS, n],
    );
    const before = await backlog(source);
    t0 = performance.now();
    let applied = 0;
    let deletes = 0;
    for (;;) {
      const r = await applyRound(source, sinks, 5000);
      if (r.changes === 0) break;
      applied += r.changes;
      deletes += r.deletes;
    }
    const drainMs = performance.now() - t0;
    process.stdout.write(
      `capture, draining a backlog of ${fmt(before.pending)} changes (${fmt(n)} updates, ${fmt(n)} deletes, ${fmt(n)} inserts)\n` +
        `  ${fmt(applied)} changes in ${(drainMs / 1000).toFixed(2)} s = ${fmt(rate(applied, drainMs))} changes/s, of which deletes ${fmt(rate(deletes, drainMs))}/s\n\n`,
    );

    // 3. Lag while writers write.
    const writers = [0, 1].map(async (w) => {
      const pg = new Client({ connectionString: server.url });
      await pg.connect();
      let count = 0;
      const end = Date.now() + LOAD_SECONDS * 1000;
      try {
        for (let i = 0; Date.now() < end; i++, count++) {
          const id = 1 + ((i * 7919 + w * 104729) % n);
          if (i % 4 === 3) await pg.query("DELETE FROM users WHERE id = $1", [id + 3 * n]);
          else
            await pg.query("UPDATE users SET phone = $2, updated_at = now() WHERE id = $1", [id, String(i)]);
        }
      } finally {
        await pg.end();
      }
      return count;
    });
    let stop = false;
    const lags: number[] = [];
    let loadApplied = 0;
    const applier = (async () => {
      while (!stop) {
        const r = await applyRound(source, sinks, 2000);
        loadApplied += r.changes;
        if (r.changes === 0) await new Promise((res) => setTimeout(res, 50));
      }
    })();
    const sampler = setInterval(() => {
      void backlog(legacy).then((b) => lags.push(b.lagSeconds));
    }, 250);
    const written = (await Promise.all(writers)).reduce((a, b) => a + b, 0);
    clearInterval(sampler);
    while ((await backlog(source)).pending > 0) await new Promise((res) => setTimeout(res, 50));
    stop = true;
    await applier;
    lags.sort((a, b) => a - b);
    const pct = (p: number) => lags[Math.min(lags.length - 1, Math.floor(p * lags.length))] ?? 0;
    process.stdout.write(
      `capture under load (${LOAD_SECONDS} s, 2 writers, single-row updates and deletes)\n` +
        `  written ${fmt(rate(written, LOAD_SECONDS * 1000))} changes/s; applied ${fmt(loadApplied)} changes\n` +
        `  lag (oldest unapplied change, sampled every 250 ms): p50 ${pct(0.5).toFixed(2)} s, p99 ${pct(0.99).toFixed(2)} s, max ${(lags.at(-1) ?? 0).toFixed(2)} s\n`,
    );
    process.stdout.write(`  peak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MiB\n`);
    await source.end();
    await target.end();
  } finally {
    await legacy.end().catch(() => undefined);
    await server.stop();
  }
}

export const leaf: Leaf = { main };
