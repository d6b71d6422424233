/**
 * `cutover phase status -s <stack>`: where each migration stands (the file and, with `--deployed`, the
 * ledger), every step allowed from there, the next step and what it waits for (the transition table's
 * reason or the gate judge's, with the command that writes the missing evidence).
 */
import { dirname } from "node:path";
import { KINDS } from "../../infra/engine/kinds";
import { positionOf, transitionContextOf } from "../../infra/engine/plan";
import { allowedSteps, forwardStep, judgeTransition, positionLabel } from "../../infra/engine/transitions";
import type { DeployedSide } from "../../tooling/deployed";
import { gateStatus } from "../../infra/evidence";
import { loadStack } from "../../tooling/stack-file";

/** Where one migration stands, as `status` reports it. */
export interface MigrationStatus {
  readonly name: string;
  readonly kind: string;
  /** The position the stack file asks for. */
  readonly file: string;
  /** The ledger's position, when the deployed side was given (`baseline` without a ledger). */
  readonly deployed?: string;
  readonly hasLedger?: boolean;
  /** The file asks for another position than the ledger's: the next up applies it (judged first). */
  readonly differs?: boolean;
  /** Every step allowed from where it stands (deployed, else the file). */
  readonly allowed: readonly string[];
  /** The step forward, and what it waits for (`nothing` when it can be taken now). */
  readonly next?: {
    readonly step: string;
    readonly waitsFor: string;
    /** The checks whose passing evidence the step needs, taken where the migration stands. */
    readonly gates?: readonly string[];
    /** Why the committed evidence does not hold, one line per failing check (absent when it all does). */
    readonly evidence?: string;
  };
}

/** Where each migration stands (file and, when given, the ledger), its next step and what it waits for. */
export function statusOf(
  stack: string,
  deployed: DeployedSide | undefined,
  opts: { readonly dir?: string; readonly now?: Date } = {},
): { path: string; deployedFrom?: string; migrations: MigrationStatus[] } {
  const { file, migrations } = loadStack(stack, opts);
  const out: MigrationStatus[] = [];
  for (const [name, spec] of Object.entries(migrations)) {
    const inFile = positionOf(spec);
    const ledger = deployed?.migrations[name];
    const facts = ledger?.facts ?? (deployed?.factsKnown ? {} : undefined);
    const ctx = transitionContextOf(name, spec, {
      now: opts.now ?? new Date(),
      facts,
      stack,
    });
    const at = ledger?.position ?? inFile;
    const attempts = KINDS[spec.kind].attempts;
    const forward = forwardStep(at, ctx);
    let next: MigrationStatus["next"];
    if (forward !== undefined) {
      const verdict = judgeTransition(at, forward, ctx);
      const gates = gateStatus(dirname(file.path), {
        stack,
        migration: name,
        from: at,
        to: forward,
        ctx,
        spec,
        now: opts.now ?? new Date(),
        ...(ledger?.pins ? { pins: ledger.pins } : {}),
      });
      const failing = gates.filter((g) => g.problem !== undefined);
      const problems = failing.map((g) => `${g.problem} (${g.command})`).join("; ");
      const waitsFor = !verdict.allowed ? (verdict.reason ?? "") : problems || (verdict.note ?? "nothing");
      next = {
        step: positionLabel(forward, forward.attempt !== at.attempt),
        waitsFor,
        ...(gates.length > 0 ? { gates: gates.map((g) => g.check) } : {}),
        ...(failing.length > 0 ? { evidence: failing.map((g) => g.problem).join("; ") } : {}),
      };
    }
    out.push({
      name,
      kind: spec.kind,
      file: positionLabel(inFile, attempts),
      ...(deployed
        ? {
            deployed: ledger ? positionLabel(ledger.position, true) : "baseline",
            hasLedger: ledger !== undefined,
            differs:
              ledger !== undefined && positionLabel(ledger.position, true) !== positionLabel(inFile, true),
          }
        : {}),
      allowed: allowedSteps(at, ctx).map((p) => positionLabel(p, p.attempt !== at.attempt)),
      ...(next ? { next } : {}),
    });
  }
  return { path: file.path, ...(deployed ? { deployedFrom: deployed.source } : {}), migrations: out };
}

/** `statusOf` as text. */
export function status(
  stack: string,
  deployed: DeployedSide | undefined,
  opts: { readonly dir?: string; readonly now?: Date } = {},
): string {
  const report = statusOf(stack, deployed, opts);
  const lines = [`${report.path}${deployed ? ` · deployed: ${deployed.source}` : ""}`];
  for (const m of report.migrations) {
    lines.push(`${m.name} (${m.kind})`);
    lines.push(`  file:      ${m.file}`);
    if (m.deployed !== undefined) {
      lines.push(`  deployed:  ${m.hasLedger ? m.deployed : "baseline (no ledger yet)"}`);
      if (m.differs)
        lines.push(
          `  ! the file and the deployed phase differ: the next up applies the file's step (judged first)`,
        );
    }
    lines.push(`  allowed:   ${m.allowed.join(", ") || "nothing: the migration is done"}`);
    if (m.next) lines.push(`  next step: ${m.next.step} — waits for: ${m.next.waitsFor}`);
  }
  return lines.join("\n") + "\n";
}
