/**
 * The load of the runbook-2 rehearsal, through the API Worker for the whole walk: virtual users, each
 * owning its keys and doing one thing at a time (an insert, an update or a delete, then a read of what it
 * wrote; now and then a read of an older key), at a fixed rate of writes per second overall. Every request is recorded
 * with its time, status, latency and the store that answered; a read that misses the user's own
 * acknowledged write is stale. What each key should hold is kept, to find lost writes at the end.
 */
export type Table = "listings" | "cities";
export type ApiOp = "insert" | "update" | "delete" | "read";

export interface ApiSample {
  /** ms since the load started. */
  readonly t: number;
  readonly op: ApiOp;
  readonly table: Table;
  readonly id: number;
  readonly status: number;
  readonly ms: number;
  /** `x-cutover-store`: the store that answered a read, the write mode of a write. */
  readonly store: string;
  /** A read that missed the user's own acknowledged write (or found a row it deleted). */
  readonly stale?: true;
  /** The request was sent again after a connection error (a Worker redeploy). */
  readonly retried?: true;
}

/** What a key may hold now: the last acknowledged value, and any value of a write not acknowledged. */
type Expected = ReadonlySet<string | null>;

export interface ApiLoad {
  readonly startedAt: number;
  samples(): readonly ApiSample[];
  /** Every key a user wrote, with the values it may hold (null: absent). */
  expectations(): ReadonlyMap<string, Expected>;
  /** Keys (`table:id=N`) of every write sent at or after `t` (ms since the start), answered or not. */
  writtenSince(t: number): ReadonlySet<string>;
  stop(): Promise<void>;
}

export interface ApiLoadOptions {
  /** Writes per second, overall. */
  readonly rate: number;
  readonly users: number;
  /** Seeded keys the users update and delete too (each user owns those with id % users === its number). */
  readonly seeded: Readonly<Record<Table, number>>;
  /** First id of the keys users insert, per table (above every seeded one). */
  readonly firstNewId: Readonly<Record<Table, number>>;
  readonly timeoutMs?: number;
}

export const keyOf = (table: Table, id: number) => `${table}:${id}`;

/**
 * A request; a connection error (no HTTP answer: the stand-in's workerd restarting for a redeploy, which
 * Cloudflare does without dropping requests) is sent again, up to 10 times 300 ms apart. Every request is
 * idempotent (PUT sets a value, DELETE removes a key).
 */
async function send(
  url: URL,
  init: RequestInit,
  timeoutMs: number,
): Promise<{ status: number; store: string; body: string; retried: boolean }> {
  for (let attempt = 0; ; attempt++) {
    try {
      const r = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
      return {
        status: r.status,
        store: r.headers.get("x-cutover-store") ?? "",
        body: await r.text(),
        retried: attempt > 0,
      };
    } catch (error) {
      if (attempt >= 10 || (error as Error).name === "TimeoutError")
        return { status: 0, store: "", body: String(error), retried: attempt > 0 };
      await new Promise((r) => setTimeout(r, 300));
    }
  }
}

export function startApiLoad(base: URL, opts: ApiLoadOptions): ApiLoad {
  const startedAt = Date.now();
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const samples: ApiSample[] = [];
  const expected = new Map<string, Set<string | null>>();
  const sent: { readonly t: number; readonly key: string }[] = [];
  let running = true;
  // A token per write, at the rate; users take one before each write.
  let tokens = 0;
  let issued = 0;
  const waiting: (() => void)[] = [];
  const ticker = setInterval(() => {
    const due = Math.floor(((Date.now() - startedAt) / 1000) * opts.rate) - issued;
    issued += due;
    tokens += due;
    while (tokens > 0 && waiting.length) {
      tokens--;
      waiting.shift()!();
    }
    // A backlog is not carried over: a user that could not keep up does not burst later.
    tokens = Math.min(tokens, opts.users);
  }, 10);
  const token = () =>
    new Promise<void>((resolve) => {
      if (tokens > 0) {
        tokens--;
        resolve();
      } else waiting.push(resolve);
    });

  const user = async (u: number) => {
    const name = `user-${u}`;
    // Each user's keys, per table: seeded ones it owns, then its own inserts.
    const owned: Record<Table, number[]> = { listings: [], cities: [] };
    const next: Record<Table, number> = { listings: 0, cities: 0 };
    let n = 0;
    const record = (s: Omit<ApiSample, "t">, t0: number) => samples.push({ ...s, t: t0 - startedAt });
    const read = async (table: Table, id: number) => {
      const t0 = Date.now();
      const r = await send(new URL(`/${table}/${id}`, base), { headers: { "x-user": name } }, timeoutMs);
      const ms = Date.now() - t0;
      const want = expected.get(keyOf(table, id));
      let got: string | null | undefined;
      if (r.status === 200) got = (JSON.parse(r.body) as { text: string }).text;
      else if (r.status === 404) got = null;
      const stale = want !== undefined && got !== undefined && !want.has(got);
      record(
        {
          op: "read",
          table,
          id,
          status: r.status,
          ms,
          store: r.store,
          ...(stale ? { stale: true as const } : {}),
          ...(r.retried ? { retried: true as const } : {}),
        },
        t0,
      );
    };
    const write = async (op: "insert" | "update" | "delete", table: Table, id: number) => {
      const key = keyOf(table, id);
      const text = op === "delete" ? null : `${name}-${++n}`;
      const before = expected.get(key);
      const t0 = Date.now();
      sent.push({ t: t0 - startedAt, key: `${table}:id=${id}` });
      const r = await send(
        new URL(`/${table}/${id}`, base),
        op === "delete"
          ? { method: "DELETE" }
          : {
              method: "PUT",
              body: JSON.stringify({ text }),
              headers: { "content-type": "application/json" },
            },
        timeoutMs,
      );
      const ok = r.status >= 200 && r.status < 300;
      // Acknowledged: the key holds this. Not acknowledged: it may hold this or what it held.
      expected.set(key, ok || !before ? new Set([text]) : new Set([...before, text]));
      if (!ok && !before) expected.delete(key);
      record(
        {
          op,
          table,
          id,
          status: r.status,
          ms: Date.now() - t0,
          store: r.store,
          ...(r.retried ? { retried: true as const } : {}),
        },
        t0,
      );
      if (ok) {
        if (op === "delete") owned[table] = owned[table].filter((k) => k !== id);
        else if (!owned[table].includes(id)) owned[table].push(id);
      }
      return ok;
    };
    for (const table of ["listings", "cities"] as const)
      for (let id = u; id <= opts.seeded[table]; id += opts.users)
        if (owned[table].length < 50) owned[table].push(id);
    while (running) {
      await token();
      if (!running) break;
      // Mostly listings (the relational store), cities (D1) too.
      const table: Table = Math.random() < 0.6 ? "listings" : "cities";
      const roll = Math.random();
      const mine = owned[table];
      const pick = () => mine[Math.floor(Math.random() * mine.length)];
      const [op, id] =
        roll < 0.4 || mine.length === 0
          ? (["insert", opts.firstNewId[table] + next[table]++ * opts.users + u] as const)
          : ([roll < 0.85 ? "update" : "delete", pick()] as const);
      if (await write(op, table, id)) await read(table, id);
      // Now and then a read of another of the user's keys, written earlier (maybe phases ago).
      if (mine.length && Math.random() < 0.2) await read(table, pick());
    }
  };
  const loops = Array.from({ length: opts.users }, (_, i) => user(i + 1));
  return {
    startedAt,
    samples: () => samples,
    expectations: () => expected,
    writtenSince: (t) => new Set(sent.filter((x) => x.t >= t).map((x) => x.key)),
    async stop() {
      running = false;
      clearInterval(ticker);
      for (const w of waiting.splice(0)) w();
      await Promise.all(loops);
    },
  };
}
