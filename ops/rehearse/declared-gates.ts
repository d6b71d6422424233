/**
 * The one way a rehearsal runs a phase's gates: the phase row names them (the engine's table decides),
 * a kind's registry says how each is produced on its stand-in. A gate the row declares and the registry
 * cannot produce stops the rehearsal with its name; it is never skipped or counted as passed.
 */
import type { GateCheck } from "../../infra/engine/phase-row";

/** A check as a rehearsal reports it. */
export interface GateResult {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

/** How a stand-in produces each gate check, given what its runners need (`C`). */
export type GateRunners<C, R extends GateResult = GateResult> = Partial<
  Record<GateCheck, (c: C) => Promise<R>>
>;

/** The gates `phase` declares, in the row's order, each run by its runner. */
export async function runDeclaredGates<C, R extends GateResult>(
  phase: string,
  gates: readonly GateCheck[] | undefined,
  runners: GateRunners<C, R>,
  c: C,
  registry: string,
): Promise<R[]> {
  const missing = (gates ?? []).filter((g) => !runners[g]);
  if (missing.length)
    throw new Error(
      `phase ${phase} declares the gate "${missing[0]}", which the rehearsal cannot produce (${registry})`,
    );
  const checks: R[] = [];
  for (const g of gates ?? []) checks.push(await runners[g]!(c));
  return checks;
}
