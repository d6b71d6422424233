import { CLOUDSQL_PHASES, ROLLBACK_ORIGINS } from "../../infra/config/cloudsql";
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

const rows: Row[] = ["staging", "prod"].flatMap((stack) =>
  (["avvivo", "matchauto"] as const).flatMap((migration) =>
    choicesOf(migration).map((choice) => ({
      stack,
      migration,
      choice,
      title: `${stack} ${migration} ${choice.phase}${choice.percent ? `:${choice.percent}` : ""}${choice.from ? ` from ${choice.from}` : ""}`,
    })),
  ),
);

async function synthesizeRow({ stack, migration, choice }: Row) {
  const moved = withPhase(readStackConfig(stack), migration, choice);
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
