/**
 * A rollback drill after the walk: the engine's rollback from the phase reached, held under the same load;
 * the service on the stable revision is checked, and the writes that only the destination holds (made
 * after the promotion, the plan's announced loss on a rollback) are counted.
 */
import type { CloudSqlPlan } from "../../infra/engine/cloudsql";
import {
  judgeTransition,
  positionLabel,
  type Position,
  type TransitionContext,
} from "../../infra/engine/transitions";
import { thawSource } from "../replication/source-freeze";
import { quoteIdent } from "../validate/pg-sql";
import { accepted } from "./bands";
import type { Load } from "./load";
import { withClient } from "./pg";
import type { PhaseBand, RehearsalReport } from "./report";
import type { WalkState } from "./steps";

export interface DrillInput {
  readonly from: Position;
  readonly ctx: TransitionContext;
  /** The role the switch froze on the source. */
  readonly appRole: string;
  readonly load: Load;
  /** Holds a position as the walk does: `before` runs ahead of the traffic move, `work` after it. */
  hold(
    label: string,
    work: (plan: CloudSqlPlan) => Promise<PhaseBand["checks"]>,
    p: Position,
    before?: () => Promise<PhaseBand["checks"]>,
  ): Promise<unknown>;
  smoke(url: string, phase: string): Promise<PhaseBand["checks"][number]>;
}

export async function drillRollback(
  w: WalkState,
  d: DrillInput,
): Promise<NonNullable<RehearsalReport["drill"]>> {
  const { first: spec, app, revisions } = w;
  const sourceUrl = w.s.sourceUrl;
  const back: Position = { phase: "rollback", rollbackFrom: d.from.phase, attempt: d.from.attempt };
  const verdict = judgeTransition(d.from, back, d.ctx);
  if (!verdict.allowed)
    throw new Error(`rollback from ${d.from.phase} is refused by the engine: ${verdict.message}`);
  const t = Date.now();
  let serviceOk = false;
  await d.hold(
    positionLabel(back),
    async (plan) => {
      const stable = plan.traffic.find((x) => x.percent === 100)!;
      const check = await d.smoke(revisions.get(stable.revision)!.url, "rollback");
      serviceOk = check.ok;
      return [check];
    },
    back,
    // A rollback on the switch route gives writes back to the source before traffic moves to it.
    spec.writeMove === "switch"
      ? async () => {
          await thawSource(sourceUrl, d.appRole);
          return [{ name: "thaw", ok: true, detail: `role ${d.appRole} takes writes again` }];
        }
      : undefined,
  );
  // From the rollback to the first write the stable revision accepts through the router.
  const since = t - d.load.startedAt;
  const firstOnStable = d.load
    .samples()
    .find(
      (x) =>
        x.kind === "write" &&
        accepted(x.status) &&
        x.t >= since &&
        x.revision === spec.cloudRun.stableRevision,
    );
  const toStableMs = firstOnStable ? firstOnStable.t + firstOnStable.ms - since : null;
  const onDestination = d.load
    .samples()
    .filter(
      (s) =>
        s.kind === "write" &&
        accepted(s.status) &&
        revisions.get(s.revision ?? "")?.plan.database === "cloudsql",
    );
  const onSource = await withClient(
    sourceUrl,
    async (c) =>
      (
        await c.query(
          `SELECT count(*)::int AS n FROM ${quoteIdent(app.ack.table)} WHERE ${quoteIdent(app.ack.column)}::text = ANY($1)`,
          [onDestination.map((s) => s.clientId)],
        )
      ).rows[0].n as number,
  );
  return {
    from: d.from.phase,
    toStableMs,
    serviceOk: serviceOk && toStableMs !== null,
    writesOnlyOnDestination: onDestination.length - onSource,
  };
}
