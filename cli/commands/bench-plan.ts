// Benchmark of the offline plan: synthesizes every phase of every migration of both stacks on the mock
// runtime and prints the time per synthesis and in total, beside a baseline (a one-resource program
// synthesized the same number of times in the same run) to separate the runtime's cost from ours.
import { newCommand, type Leaf } from "../shell";
import * as gcp from "@pulumi/gcp";
import { performance } from "node:perf_hooks";
import { KINDS, type MigrationKindName } from "../../infra/engine/kinds";
import { CONFIG_KEY } from "../../infra/config/common";
import { readStackConfig, withPhase, type PhaseChoice } from "../../tooling/stack-file";
import { synthesize } from "../../tooling/synth";
import { program } from "../../stacks/program";

/** Every phase a migration of that kind can be planned at (ramp steps and each rollback origin). */
function choicesOf(kind: MigrationKindName, ramp: number[], writeMove?: string): PhaseChoice[] {
  const facts = KINDS[kind];
  // Only the phases of the migration's route (cloudsql's writeMove): the others are refused for it.
  const route = writeMove ?? facts.defaultRoute;
  const onRoute = (phase: string) => [undefined, route].includes(facts.rows[phase].route);
  return [...facts.order.filter(onRoute), "rollback"].flatMap((phase): PhaseChoice[] => {
    if (phase === facts.ramp.phase) return ramp.map((percent) => ({ phase, percent }));
    if (phase === "rollback" && facts.rollbackNamesOrigin)
      return facts.rollbackOrigins.filter(onRoute).map((from) => ({ phase, from }));
    return [{ phase }];
  });
}

async function main(argv: readonly string[]) {
  newCommand("cutover bench plan")
    .description(
      "time to synthesize every phase of every migration of both stacks, beside a one-resource baseline",
    )
    .parse(argv, { from: "user" });

  const runs: { label: string; ms: number }[] = [];
  const started = performance.now();
  for (const stackName of ["staging", "prod"]) {
    const stack = readStackConfig(stackName);
    const migrations = stack.config[CONFIG_KEY] as Record<
      string,
      { kind: MigrationKindName; ramp?: number[]; writeMove?: string }
    >;
    for (const [name, m] of Object.entries(migrations)) {
      for (const choice of choicesOf(m.kind, m.ramp ?? [10, 50, 100], m.writeMove)) {
        const s = withPhase(stack, name, choice);
        const t = performance.now();
        await synthesize(() => program(new Date("2026-11-25T00:00:00Z")), {
          stack: stackName,
          config: s.config,
          secretKeys: s.secretKeys,
        });
        const label = `${stackName} ${name} ${choice.phase}${choice.percent ? `:${choice.percent}` : ""}${choice.from ? `:${choice.from}` : ""}`;
        runs.push({ label, ms: performance.now() - t });
      }
    }
  }
  const total = performance.now() - started;
  const baselineStart = performance.now();
  for (let i = 0; i < runs.length; i++) {
    await synthesize(
      async () => {
        new gcp.cloudrunv2.Service("baseline", {
          location: "us-west2",
          template: { containers: [{ image: "x" }] },
        });
        return {};
      },
      { stack: "bench", config: {} },
    );
  }
  const baseline = performance.now() - baselineStart;
  for (const r of runs) console.log(`${r.label.padEnd(44)} ${r.ms.toFixed(0).padStart(6)} ms`);
  const mem = process.memoryUsage().rss / 2 ** 20;
  console.log("");
  console.log(`syntheses:                ${runs.length}`);
  console.log(`total (all phases):       ${(total / 1000).toFixed(2)} s   (goal < 5 s)`);
  console.log(`mean per synthesis:       ${(total / runs.length).toFixed(0)} ms`);
  console.log(`baseline (1 resource):    ${(baseline / runs.length).toFixed(0)} ms per synthesis`);
  console.log(`ratio cutover / baseline: ${(total / baseline).toFixed(1)}x`);
  console.log(`peak RSS:                 ${mem.toFixed(0)} MiB`);
}

export const leaf: Leaf = { main };
