/**
 * The dress rehearsal of runbook 2 on this machine: the stand-in (stand-in.ts) driven phase by phase
 * from baseline to the final cut under a load through the API Worker. Each position is what the stack
 * file would say there, parsed and planned by the program's own code: the program's flags entry goes to
 * KV, its floor is deployed with the Worker, the comparison Worker is deployed or removed with the
 * plan's state, the change capture follows the plan's state, the backfill runs where the phase table
 * says, and the gates the table declares run before their phase (gates.ts). A drill rolls back from a
 * phase and checks that the service is whole on legacy.
 */
import * as fs from "node:fs";
import { CONFIG_KEY } from "../../../infra/config/common";
import { parseMigrations } from "../../../infra/config/load";
import type { DualWriteMigration } from "../../../infra/config/schema";
import { planDualWrite } from "../../../infra/engine/dual-write";
import { DUAL_WRITE_PHASE_TABLE } from "../../../infra/engine/dual-write-phases";
import { KINDS } from "../../../infra/engine/kinds";
import { transitionContextOf } from "../../../infra/engine/plan";
import {
  forwardStep,
  judgeTransition,
  positionLabel,
  type Position,
} from "../../../infra/engine/transitions";
import { readStackConfig, type StackConfig } from "../../../tooling/stack-file";
import { migrationAt } from "../spec-at";
import { FLAGS_TTL_MS } from "./edge";
import { describeDivergence, divergence, runGates, type Check, type GateContext } from "./gates";
import { startApiLoad, type ApiLoad } from "./load";
import type { DualWriteBand, DualWriteRehearsalOptions, DualWriteReport } from "./report";
import { startStandIn, type StandIn } from "./stand-in";
import { bandStats, captureLagOf, ok } from "./stats";
import { finalState } from "./verdict";

/** Backfill runs at most: the first copies the table, the next ones what the load wrote meanwhile. */
const BACKFILL_RUNS = 3;
/** The spec of `migration` at a position. */
function specAt(file: StackConfig, migration: string, p: Position): DualWriteMigration {
  const spec = migrationAt(file, migration, p);
  if (spec.kind !== "dual-write") throw new Error(`${migration} is not a dual-write migration`);
  return spec;
}

/** What a running rehearsal must stop when interrupted. */
const running = new Set<() => Promise<void>>();
export async function stopDualWriteRehearsals(): Promise<void> {
  await Promise.all([...running].map((stop) => stop()));
}

export async function rehearseDualWrite(opts: DualWriteRehearsalOptions): Promise<DualWriteReport> {
  const log = opts.log ?? (() => undefined);
  const file = readStackConfig(opts.stack, opts.dir);
  const all = parseMigrations(file.config[CONFIG_KEY], { now: new Date() });
  const migration = opts.migration ?? Object.keys(all).find((m) => all[m].kind === "dual-write") ?? "(none)";
  if (all[migration]?.kind !== "dual-write")
    throw new Error(`${file.path} has no dual-write migration "${migration}" to rehearse`);
  const first = specAt(file, migration, { phase: "baseline", attempt: 1 });
  // Enough users that each needs at most ~4 writes a second (each write is followed by a read).
  const users = opts.users ?? Math.max(32, Math.ceil(opts.rate / 4));
  const started = Date.now();
  fs.mkdirSync(opts.workDir, { recursive: true });
  let stopStandIn: () => Promise<void> = async () => undefined;
  let load: ApiLoad | undefined;
  const teardown = async () => {
    await load?.stop().catch(() => undefined);
    await stopStandIn();
  };
  running.add(teardown);
  try {
    log(
      "starting the stand-in: legacy and new-schema PostgreSQL, the API, comparison and capture Workers in workerd, local D1 and KV",
    );
    const s: StandIn = await startStandIn({
      migration,
      stack: opts.stack,
      spec: first,
      rows: opts.rows,
      dir: opts.workDir,
      onStop: (stop) => (stopStandIn = stop),
    });
    log(`legacy seeded: ${s.seeded.total} rows (${s.seeded.listings} listings, ${s.seeded.cities} cities)`);
    const gateContext = (spec: DualWriteMigration): GateContext => ({
      migration,
      spec,
      legacyUrl: s.legacyUrl,
      targetUrl: s.targetUrl,
      legacy: s.legacy,
      d1: (name) => s.edge.d1Executor(name),
      compareOnce: () => s.edge.compareOnce(),
    });
    load = startApiLoad(s.edge.url, {
      rate: opts.rate,
      users,
      seeded: s.seeded,
      firstNewId: { listings: 10_000_000, cities: 10_000_000 },
    });
    const bands: DualWriteBand[] = [];
    const ctx = transitionContextOf(migration, first, { now: new Date() });
    let backfilled = false;
    let storesEqualAtCut: DualWriteReport["storesEqualAtCut"];
    const now = () => Date.now() - load!.startedAt;

    /** Applies a position as `pulumi up` and the pipeline would, then holds it under load. */
    const hold = async (p: Position, gates: readonly Check[], bakeSeconds = opts.bakeSeconds) => {
      const t0 = now();
      const spec = specAt(file, migration, p);
      const plan = planDualWrite(migration, spec, new Date());
      const row = DUAL_WRITE_PHASE_TABLE[spec.phase];
      const checks: Check[] = [...gates];
      const label = positionLabel(p);
      log(
        `${label}: flags ${plan.flags ? `${plan.flags.writeMode} ${plan.flags.readPercent}%` : "none"}, capture ${plan.capture.state}, comparison ${plan.compare.state}`,
      );
      if (plan.capture.state === "install") await s.prepareNewStores();
      // As the pipeline does before the final cut's up: the capture Worker takes the after-cut rule first.
      if (plan.capture.state === "drain") await s.applyAfterCut();
      // What `pulumi up` writes, then what the pipeline deploys after it (the floor, the comparison Worker).
      if (plan.flags) await s.edge.putFlags(plan.flagsKey, plan.flags);
      await s.edge.deployFloor(plan.flagsFloor);
      if (plan.compare.state !== "off") await s.edge.deployCompare(plan.compare.state === "on");
      if (plan.capture.state === "on") await s.startApplier();
      if (row.backfill) {
        // Until a run copies 0 rows, as the runbook says; under a steady load each run finds the rows
        // written during the last one (which the capture carries too), so at most BACKFILL_RUNS.
        const counts: number[] = [];
        while (counts.length < BACKFILL_RUNS && counts.at(-1) !== 0) counts.push(await s.backfill());
        backfilled = true;
        checks.push({
          name: "backfill",
          ok: true,
          detail: `${counts.reduce((a, b) => a + b, 0)} rows in ${counts.length} runs (${counts.join(", ")})`,
        });
      }
      if (plan.capture.state === "drain") {
        // Isolates keep the old flags for up to their TTL: legacy may take writes until then.
        await new Promise((r) => setTimeout(r, FLAGS_TTL_MS + 1000));
        await s.drainApplier();
        await s.removeCapture();
        // Keys written since the cut are only in the new stores, by design: asked at each comparison.
        const d = await divergence(gateContext(spec), (table, key) =>
          load!.writtenSince(t0).has(`${table}:${key}`),
        );
        storesEqualAtCut = {
          equal: d.every((x) => x.persistent === 0),
          detail: `${describeDivergence(d)}; the ${load!.writtenSince(t0).size} keys written since the cut left out`,
        };
        checks.push({
          name: "stores at the cut",
          ok: storesEqualAtCut.equal,
          detail: storesEqualAtCut.detail,
        });
      }
      await new Promise((r) => setTimeout(r, bakeSeconds * 1000));
      const t1 = now();
      const inBand = load!.samples().filter((x) => x.t >= t0 && x.t < t1);
      // The divergence at the band's end: validated here unless the next position's gates validate
      // right after this (that result is the band's then, see below): at 1M rows each takes minutes.
      const next = p.phase === "rollback" ? undefined : forwardStep(p, ctx);
      const nextValidates = !!next && KINDS["dual-write"].rows[next.phase].gates?.includes("validate");
      const divergenceNow =
        backfilled && !row.cut && !nextValidates
          ? await divergence(gateContext(spec)).catch(() => undefined)
          : undefined;
      bands.push({
        position: label,
        startMs: t0,
        endMs: t1,
        flags: plan.flags ? { writeMode: plan.flags.writeMode, readPercent: plan.flags.readPercent } : null,
        ...bandStats(inBand),
        ...(divergenceNow ? { divergence: divergenceNow } : {}),
        checks,
      });
      for (const c of checks) log(`  ${c.ok ? "ok  " : "FAIL"} ${c.name}: ${c.detail}`);
      return checks.every((c) => c.ok);
    };

    const rows = DUAL_WRITE_PHASE_TABLE;
    let last: Position = { phase: "baseline", attempt: 1 };
    await hold(last, []);
    let drill: DualWriteReport["drill"];
    for (let p = forwardStep(last, ctx); p; p = forwardStep(last, ctx)) {
      const verdict = judgeTransition(last, p, ctx);
      if (!verdict.allowed)
        throw new Error(
          `the engine refuses ${positionLabel(last)} → ${positionLabel(p)}: ${verdict.message}`,
        );
      const gates = await runGates(
        p.phase,
        KINDS["dual-write"].rows[p.phase].gates,
        gateContext(specAt(file, migration, last)),
      );
      const validated = gates.find((g) => g.divergence)?.divergence;
      const previous = bands[bands.length - 1];
      if (validated && !previous.divergence) bands[bands.length - 1] = { ...previous, divergence: validated };
      const failed = gates.filter((g) => !g.ok);
      if (failed.length) {
        bands.push({ ...bands[bands.length - 1], position: `gate of ${positionLabel(p)}`, checks: gates });
        log(
          `the gates of ${positionLabel(p)} failed: ${failed.map((g) => `${g.name}: ${g.detail}`).join("; ")}`,
        );
        break;
      }
      if (!(await hold(p, gates))) break;
      last = p;
      if (opts.drill === p.phase) {
        const back: Position = { phase: "rollback", rollbackFrom: p.phase, attempt: p.attempt };
        const v = judgeTransition(p, back, ctx);
        if (!v.allowed) throw new Error(`rollback from ${p.phase} is refused by the engine: ${v.message}`);
        // Held past the flags' TTL, so that every isolate has read the rollback's flags.
        await hold(back, [], Math.max(opts.bakeSeconds, FLAGS_TTL_MS / 1000 + 3));
        last = back;
        drill = { from: p.phase, serviceOk: false, detail: "" };
        break;
      }
      if (rows[p.phase as keyof typeof rows].cut) break; // the decommission waits for the soak: the walk ends at the final cut
    }
    if (opts.drill && !drill) throw new Error(`--drill ${opts.drill}: the walk never reached that phase`);
    await load.stop();
    const samples = load.samples();
    const final = last.phase === "rollback" || !rows[last.phase as keyof typeof rows].cut ? "legacy" : "new";
    const state = await finalState(s, first, load.expectations(), final);
    if (drill) {
      const band = bands[bands.length - 1];
      const errors = band.writes.errors + band.reads.errors;
      // Once the flags' TTL has passed, every read is legacy's again.
      const settled = band.startMs + FLAGS_TTL_MS + 1000;
      const onNew = samples.filter((x) => x.op === "read" && x.t >= settled && x.store !== "legacy").length;
      drill = {
        ...drill,
        serviceOk: errors === 0 && onNew === 0 && state.lost === 0 && band.writes.acknowledged > 0,
        detail: `${band.writes.acknowledged} writes and ${band.reads.total} reads after the rollback, ${errors} errors, ${onNew} reads not served by legacy once the flags' TTL (${FLAGS_TTL_MS / 1000} s) had passed, ${state.lost} acknowledged writes missing from legacy`,
      };
    }
    const reads = samples.filter((x) => x.op === "read");
    const writes = samples.filter((x) => x.op !== "read");
    return {
      kind: "dual-write",
      stack: opts.stack,
      migration,
      rows: s.seeded.total,
      rate: opts.rate,
      users,
      durationMs: Date.now() - started,
      phases: bands,
      writes: {
        acknowledged: writes.filter((x) => ok(x.status)).length,
        lost: state.lost,
        resurrected: state.resurrected,
        duplicates: state.duplicates,
        errors: writes.filter((x) => !ok(x.status)).length,
        retried: samples.filter((x) => x.retried).length,
      },
      reads: {
        total: reads.length,
        stale: reads.filter((x) => x.stale).length,
        errors: reads.filter((x) => x.status !== 200 && x.status !== 404).length,
      },
      captureLagMs: captureLagOf(s.captureRuns()),
      final,
      ...(storesEqualAtCut ? { storesEqualAtCut } : {}),
      ...(drill ? { drill } : {}),
      samples,
    };
  } finally {
    running.delete(teardown);
    await teardown();
  }
}
