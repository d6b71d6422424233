/**
 * A million-row rehearsal records hundreds of thousands of requests. Its report is drawn from all of
 * them: the per-second timelines and the observed write window must not pass every sample as a function
 * argument (`Math.max(...samples)` overflows the stack past ~100,000 — the 1M dual-write rehearsal ended
 * on it after 80 minutes, without its report).
 */
import { greatest } from "../../../ops/rehearse/chart";
import { dualWritePerSecond } from "../../../ops/rehearse/dual-write/timeline";
import type { DualWriteReport } from "../../../ops/rehearse/dual-write/report";
import type { ApiSample } from "../../../ops/rehearse/dual-write/load";
import { observeWindow } from "../../../ops/rehearse/window";
import type { Sample } from "../../../ops/rehearse/load";

const N = 400_000;

it("draws the dual-write timeline from 400,000 requests", () => {
  const samples: ApiSample[] = Array.from({ length: N }, (_, i) => ({
    t: i * 5,
    op: i % 2 ? "read" : "update",
    table: "cities",
    id: i,
    status: 200,
    ms: 3,
    store: i % 4 === 1 ? "new" : "legacy",
  }));
  const seconds = dualWritePerSecond({ samples } as unknown as DualWriteReport);
  expect(seconds).toHaveLength(Math.ceil(((N - 1) * 5) / 1000) + 1);
  expect(seconds.reduce((n, s) => n + s.counts.reduce((a, b) => a + b, 0), 0)).toBe(N);
});

it("observes the write window over 400,000 writes", () => {
  const samples: Sample[] = Array.from({ length: N }, (_, i) => ({
    t: i,
    kind: "write",
    status: i >= 1000 && i < 300_000 ? 503 : 200,
    ms: 1,
    clientId: "c",
  }));
  const w = observeWindow(samples, () => true, [{ position: "switch", startMs: 0 }], {
    freezeAt: 0,
    fullAt: 300_000,
  });
  expect(w.refusedByPosition).toEqual([{ position: "switch", refused: 299_000 }]);
});

it("greatest() is Math.max without the spread", () => {
  expect(greatest([3, 9, 4], (x) => x)).toBe(9);
  expect(greatest([] as number[], (x) => x, 1)).toBe(1);
  expect(greatest([-5, -2], (x) => x, -Infinity)).toBe(-2);
});
