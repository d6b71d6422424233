/**
 * The write window as the rehearsal saw it, from the recorded requests, in the same two figures the
 * projection gives (infra/engine/window.ts):
 *   - all writes refused: first refused write → first write accepted on the destination;
 *   - some writes refused: first refused write → first write accepted after the last refused one.
 */
import { greatest } from "./chart";
import type { Sample } from "./load";

export interface ObservedWindow {
  readonly allRefusedMs: number | null;
  readonly someRefusedMs: number | null;
  readonly firstRefusedMs: number | null;
  readonly firstOnDestinationMs: number | null;
  /** The first write accepted after the last refused one: from here every write is accepted. */
  readonly allAcceptedMs: number | null;
  readonly freezeToFullMs: number | null;
  /** Refused writes while each position was held. */
  readonly refusedByPosition: readonly { readonly position: string; readonly refused: number }[];
}

const accepted = (status: number) => status >= 200 && status < 300;

export function observeWindow(
  samples: readonly Sample[],
  onDestination: (s: Sample) => boolean,
  bands: readonly { readonly position: string; readonly startMs: number }[],
  marks: { readonly freezeAt: number | null; readonly fullAt: number | null },
  refusedStatus = 503,
): ObservedWindow {
  const writes = samples.filter((s) => s.kind === "write");
  const refused = writes.filter((s) => s.status === refusedStatus);
  const firstRefused = refused[0]?.t ?? null;
  const lastRefused = refused.length ? greatest(refused, (s) => s.t, -Infinity) : null;
  const firstOnDestination = writes.find((s) => accepted(s.status) && onDestination(s))?.t ?? null;
  const allAccepted =
    lastRefused === null ? null : (writes.find((s) => accepted(s.status) && s.t > lastRefused)?.t ?? null);
  return {
    allRefusedMs:
      firstRefused !== null && firstOnDestination !== null ? firstOnDestination - firstRefused : null,
    someRefusedMs: firstRefused !== null && allAccepted !== null ? allAccepted - firstRefused : null,
    firstRefusedMs: firstRefused,
    firstOnDestinationMs: firstOnDestination,
    allAcceptedMs: allAccepted,
    freezeToFullMs: marks.freezeAt !== null && marks.fullAt !== null ? marks.fullAt - marks.freezeAt : null,
    refusedByPosition: refusedPer(refused, bands),
  };
}

/**
 * Each refused write counted under the position held when it was sent: the last band that started at or
 * before it (a write still in flight when its band closed is not lost between two bands).
 */
function refusedPer(
  refused: readonly Sample[],
  bands: readonly { readonly position: string; readonly startMs: number }[],
): { position: string; refused: number }[] {
  const counts = bands.map((b) => ({ position: b.position, refused: 0 }));
  for (const s of refused) {
    let i = -1;
    for (let j = 0; j < bands.length && bands[j].startMs <= s.t; j++) i = j;
    if (i >= 0) counts[i].refused++;
  }
  return counts.filter((c) => c.refused > 0);
}
