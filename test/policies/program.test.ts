import { CLOUDSQL_PHASES, ROLLBACK_ORIGINS, WRITE_MOVES, type WriteMove } from "../../infra/config/cloudsql";
import { CONFIG_KEY } from "../../infra/config/common";
import { onRoute } from "../../infra/engine/transitions";
import { DUAL_WRITE_PHASES, DUAL_WRITE_ROLLBACK_ORIGINS } from "../../infra/config/dual-write";
import { readStackConfig, withPhase, type PhaseChoice } from "../../tooling/stack-file";
import { synthesize } from "../../tooling/synth";
import { evaluatePolicies } from "../../policies/evaluate";
import { program } from "../../stacks/program";
import { NOW } from "../support/stack";

interface Row {
  stack: string;
  migration: "avvivo" | "matchauto";
  choice: PhaseChoice;
  /** cloudsql: the route walked (every phase of each route passes the pack). */
  writeMove?: WriteMove;
  title: string;
}

const choicesOf = (migration: Row["migration"]): PhaseChoice[] =>
  migration === "avvivo"
    ? CLOUDSQL_PHASES.flatMap<PhaseChoice>((phase) =>
        phase === "canary"
          ? [10, 50, 100].map((percent) => ({ phase, percent }))
          : phase === "rollback"
            ? ROLLBACK_ORIGINS.map((from) => ({ phase, from }))
            : [{ phase }],
      )
    : DUAL_WRITE_PHASES.flatMap<PhaseChoice>((phase) =>
        phase === "read-switch"
          ? [10, 100].map((percent) => ({ phase, percent }))
          : phase === "rollback"
            ? DUAL_WRITE_ROLLBACK_ORIGINS.map((from) => ({ phase, from }))
            : [{ phase }],
      );

const onItsRoute = (choice: PhaseChoice, route: WriteMove) =>
  [choice.phase, choice.from].every(
    (p) => p === undefined || p === "rollback" || onRoute(p, { kind: "cloudsql", route }),
  );

const label = (choice: PhaseChoice) =>
  `${choice.phase}${choice.percent ? `:${choice.percent}` : ""}${choice.from ? ` from ${choice.from}` : ""}`;

const rows: Row[] = ["staging", "prod"].flatMap((stack) => [
  ...WRITE_MOVES.flatMap((writeMove) =>
    choicesOf("avvivo")
      .filter((choice) => onItsRoute(choice, writeMove))
      .map((choice) => ({
        stack,
        migration: "avvivo" as const,
        choice,
        writeMove,
        title: `${stack} avvivo (${writeMove}) ${label(choice)}`,
      })),
  ),
  ...choicesOf("matchauto").map((choice) => ({
    stack,
    migration: "matchauto" as const,
    choice,
    title: `${stack} matchauto ${label(choice)}`,
  })),
]);

async function synthesizeRow({ stack, migration, choice, writeMove }: Row) {
  const moved = withPhase(readStackConfig(stack), migration, choice);
  if (writeMove)
    (moved.config[CONFIG_KEY] as Record<string, Record<string, unknown>>)[migration].writeMove = writeMove;
  return synthesize(() => program(NOW), { stack, config: moved.config, secretKeys: moved.secretKeys });
}

describe("the real program passes the pack", () => {
  test.each(rows)("$title: no mandatory violation", async (row) => {
    const { resources } = await synthesizeRow(row);
    const findings = evaluatePolicies(resources);
    const mandatory = findings.filter((f) => f.level === "mandatory").map((f) => `${f.policy}: ${f.message}`);
    expect(mandatory).toEqual([]);
    // The pack really looked: the migration's spec is among the resources it read.
    expect(resources.some((r) => r.name === `${row.migration}-spec`)).toBe(true);
  });
});
