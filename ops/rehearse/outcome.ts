/**
 * What a cloudsql rehearsal found, once the load has stopped: every acknowledged write looked up in the
 * final database, the window observed from the recorded requests, and the production window projected
 * from the gates' measured work and the platform's modelled delays, with the other routes beside it.
 */
import { PLATFORM_DELAYS, projectAlternatives, projectWindow } from "../../infra/engine/window";
import { quoteIdent } from "../validate/pg-sql";
import { accepted } from "./bands";
import type { Load } from "./load";
import { withClient } from "./pg";
import type { PhaseBand, RehearsalReport } from "./report";
import type { WalkState } from "./steps";
import { observeWindow } from "./window";

/** The walk's own record beside its state: the load, the bands, when it started, the drill's finding. */
export interface WalkRecord {
  readonly load: Load;
  readonly bands: readonly PhaseBand[];
  readonly started: number;
  readonly drill?: RehearsalReport["drill"];
}

export async function outcomeOf(w: WalkState, r: WalkRecord): Promise<RehearsalReport> {
  const { opts, first: spec, app, s } = w;
  await r.load.stop();
  const samples = r.load.samples();
  const acked = r.load.acknowledged();
  // The final database: the destination once promoted, else still the source.
  const finalIsDestination = w.marks.promotedAt !== null && !r.drill;
  const ackColumn = quoteIdent(app.ack.column);
  const found = await withClient(
    finalIsDestination ? s.destinationUrl : s.sourceUrl,
    async (c) =>
      (
        await c.query(
          `SELECT count(*)::int AS n, count(DISTINCT ${ackColumn})::int AS d FROM ${quoteIdent(app.ack.table)} WHERE ${ackColumn}::text = ANY($1)`,
          [acked],
        )
      ).rows[0] as { n: number; d: number },
  );
  const writes = samples.filter((s) => s.kind === "write");
  const window = observeWindow(
    samples,
    (s) => w.revisions.get(s.revision ?? "")?.plan.database === "cloudsql",
    r.bands,
    { freezeAt: w.marks.freezeAt, fullAt: w.marks.fullAt },
  );
  const delays = { ...PLATFORM_DELAYS, ...opts.delays };
  return {
    stack: opts.stack,
    migration: w.migration,
    rows: s.seeded,
    rate: opts.rate,
    durationMs: Date.now() - r.started,
    phases: r.bands,
    writes: {
      acknowledged: acked.length,
      foundInFinal: found.n,
      // After a rollback past promotion, the destination's writes are the plan's announced loss, not this.
      lost: acked.length - found.d - (r.drill?.writesOnlyOnDestination ?? 0),
      duplicates: found.n - found.d,
      refused: writes.filter((s) => s.status === 503).length,
      errors: writes.filter((s) => !accepted(s.status) && s.status !== 503).length,
    },
    replication: spec.replication,
    writeMove: spec.writeMove,
    ...(w.switched ? { switch: w.switched } : {}),
    window,
    projection: { ...projectWindow(w.migration, spec, w.measured, delays), delays },
    // The options measured beside it: the same run's work on the other routes.
    alternatives: projectAlternatives(w.migration, spec, w.measured, delays),
    sequenceCollisions: writes.filter((s) => s.error === "sequence-collision").length,
    ...(w.validation ? { validation: w.validation } : {}),
    ...(r.drill ? { drill: r.drill } : {}),
    samples,
    final: finalIsDestination ? "destination" : "source",
  };
}
