/**
 * The switch's bound: every term against one deadline, and writes given back to the source (the thaw)
 * when a term fails or overruns, before any error leaves.
 */
import { runSwitch, SwitchError } from "../../infra/replication/switch";

const quick = (name: string, ms = 5, detail = "") => ({
  name,
  run: () => new Promise<string>((r) => setTimeout(() => r(detail), ms)),
});

describe("runSwitch", () => {
  it("runs the freeze and each term in order, timing each, and does not thaw when all pass", async () => {
    const order: string[] = [];
    let thawed = 0;
    const result = await runSwitch({
      deadlineSeconds: 5,
      freeze: async () => (order.push("freeze"), "frozen"),
      terms: [
        { name: "a", run: async () => void order.push("a") },
        { name: "b", run: async () => (order.push("b"), "b done") },
      ],
      thaw: async () => void thawed++,
    });
    expect(order).toEqual(["freeze", "a", "b"]);
    expect(result.terms.map((t) => [t.name, t.detail])).toEqual([
      ["freeze the source", "frozen"],
      ["a", ""],
      ["b", "b done"],
    ]);
    expect(result.terms.every((t) => t.ms >= 0)).toBe(true);
    expect(thawed).toBe(0);
  });

  it("a term that fails ends the switch: the source is thawed, later terms never run, the error names the term", async () => {
    let thawed = 0;
    let later = false;
    const error: SwitchError = await runSwitch({
      deadlineSeconds: 5,
      freeze: async () => "frozen",
      terms: [
        quick("catch-up"),
        { name: "validation", run: async () => Promise.reject(new Error("Shop differs")) },
        { name: "promotion", run: async () => void (later = true) },
      ],
      thaw: async () => void thawed++,
    }).catch((e) => e);
    expect(error).toBeInstanceOf(SwitchError);
    expect(error.term).toBe("validation");
    expect(error.thawed).toBe(true);
    expect(error.message).toMatch(
      /^the switch stopped: validation failed after \d+\.\d s: Shop differs; writes went back to the source; traffic did not move$/,
    );
    expect(error.hint).toContain("roll back and retry with a new attempt");
    expect(error.finished.map((t) => t.name)).toEqual(["freeze the source", "catch-up"]);
    expect([thawed, later]).toEqual([1, false]);
  });

  it("a term that overruns the deadline is abandoned (its signal aborts) and the source thawed", async () => {
    let aborted = false;
    let thawed = 0;
    const started = Date.now();
    const error: SwitchError = await runSwitch({
      deadlineSeconds: 1,
      freeze: async () => "frozen",
      terms: [
        {
          name: "migrate job",
          run: (signal) =>
            new Promise<string>(() => signal.addEventListener("abort", () => (aborted = true))),
        },
      ],
      thaw: async () => void thawed++,
    }).catch((e) => e);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(error.term).toBe("migrate job");
    expect(error.message).toMatch(
      /^the switch stopped: migrate job overran the switch's 1 s \(1\.\d s spent\)/,
    );
    expect(error.hint).toContain("raise switch.deadlineSeconds");
    expect([aborted, thawed]).toEqual([true, 1]);
  });

  it("a failed freeze is thawed too (it may have half happened), and a failed thaw says so loudly", async () => {
    const error: SwitchError = await runSwitch({
      deadlineSeconds: 5,
      freeze: async () => Promise.reject(new Error("permission denied to alter role")),
      terms: [quick("never")],
      thaw: async () => Promise.reject(new Error("source unreachable")),
    }).catch((e) => e);
    expect(error.term).toBe("freeze the source");
    expect(error.thawed).toBe(false);
    expect(error.message).toContain(
      "AND GIVING WRITES BACK TO THE SOURCE FAILED: run `cutover replication thaw-source` now",
    );
  });
});
