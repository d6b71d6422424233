/**
 * Gate evidence: what `validate`, `smoke`, `d1:export`, `capture -- status` and `compare -- status` found, as a small file committed with the pull request
 * (`evidence/<stack>/<migration>/<check>.json`). `npm run phase -- … next` checks it, never trusts it:
 * its digest must match its contents, its verdict must be a pass, it must have been taken at the
 * position the migration is leaving, and it must be younger than the configured age.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";

import { evidenceRefProblem, gateCommand, type EvidenceRef } from "../infra/engine/gates";

export { gateCommand };
import { GATE_CHECKS, type GateCheck } from "../infra/engine/phase-row";
import { gatesOf, positionLabel, type Position, type TransitionContext } from "../infra/engine/transitions";

export type { EvidenceRef, GateCheck };

export interface Evidence {
  readonly stack: string;
  readonly migration: string;
  readonly check: GateCheck;
  /** The position the file was at when the check ran (e.g. `replicate`, `canary:10`). */
  readonly position: string;
  /** The attempt the migration was in (a retry's evidence cannot open another attempt's gate). */
  readonly attempt?: number;
  readonly passed: boolean;
  readonly at: string;
  /** What was checked, in one line (tables, URL, counts). */
  readonly summary: string;
  /** sha256 of the report the check printed. */
  readonly reportDigest: string;
  /** sha256 over every field above: a hand-edited file does not match. */
  readonly digest: string;
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

function digestOf(e: Omit<Evidence, "digest">): string {
  const fields = [
    "stack",
    "migration",
    "check",
    "position",
    // Files written before attempts were recorded keep their digest (and are refused for that).
    ...(e.attempt !== undefined ? (["attempt"] as const) : []),
    "passed",
    "at",
    "summary",
    "reportDigest",
  ] as const;
  return sha256(JSON.stringify(fields.map((k) => e[k])));
}

export function evidencePath(root: string, stack: string, migration: string, check: GateCheck): string {
  return join(root, "evidence", stack, migration, `${check}.json`);
}

/** Writes the evidence of a check; returns the file's path. */
export function recordEvidence(
  root: string,
  e: Omit<Evidence, "digest" | "reportDigest" | "at" | "attempt"> & {
    readonly attempt: number;
    readonly report: string;
    readonly at?: Date;
  },
): string {
  const { report, at, ...rest } = e;
  const body = { ...rest, at: (at ?? new Date()).toISOString(), reportDigest: sha256(report) };
  const file = evidencePath(root, e.stack, e.migration, e.check);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify({ ...body, digest: digestOf(body) }, null, 2) + "\n");
  return file;
}

/** The committed evidence of one check, if its file is there, reads, matches its digest and is this check's. */
export function readEvidence(
  root: string,
  stack: string,
  migration: string,
  check: GateCheck,
): { readonly evidence: Evidence } | { readonly problem: string } {
  const file = evidencePath(root, stack, migration, check);
  const shown = relative(root, file);
  if (!existsSync(file)) return { problem: `no ${check} evidence (${shown})` };
  let e: Evidence;
  try {
    e = JSON.parse(readFileSync(file, "utf8")) as Evidence;
  } catch {
    return { problem: `${shown} is not readable JSON` };
  }
  const { digest, ...rest } = e;
  if (digest !== digestOf(rest))
    return { problem: `${shown} does not match its digest: it was edited by hand` };
  if (e.stack !== stack || e.migration !== migration || e.check !== check)
    return { problem: `${shown} is evidence of another check (${e.stack}/${e.migration}/${e.check})` };
  return { evidence: e };
}

/** Why the evidence for a gate does not hold (undefined when it does): the one judge's answer. */
export function evidenceProblem(
  root: string,
  want: {
    stack: string;
    migration: string;
    check: GateCheck;
    position: string;
    attempt: number;
    maxAgeHours: number;
    now: Date;
  },
): string | undefined {
  const read = readEvidence(root, want.stack, want.migration, want.check);
  if ("problem" in read) return read.problem;
  const problem = evidenceRefProblem(read.evidence, want);
  return problem && !read.evidence.passed ? `${problem}: ${read.evidence.summary}` : problem;
}

/**
 * The committed evidence of a migration whose digest holds (a hand-edited file is left out), for the
 * program to hand to the ledger, which judges it with the same judge. No folder or no file: none.
 */
export function committedEvidence(root: string, stack: string, migration: string): EvidenceRef[] {
  return GATE_CHECKS.flatMap((check) => {
    const read = readEvidence(root, stack, migration, check);
    if ("problem" in read) return [];
    const { position, attempt, at, passed, digest } = read.evidence;
    return [{ check, position, ...(attempt !== undefined ? { attempt } : {}), at, passed, digest }];
  });
}

/** The data check a step needs and whether the committed evidence holds. */
export interface GateStatus {
  readonly check: GateCheck;
  /** The position the evidence must have been taken at (the step being left). */
  readonly at: string;
  /** Why the evidence does not hold; absent when it does. */
  readonly problem?: string;
  /** The evidence, when it holds. */
  readonly evidence?: Evidence;
  /** The command that writes it. */
  readonly command: string;
}

/**
 * The gates of `from → to` (the phase table's, none when the step has none), each with the committed
 * evidence judged for it: what `phase next` enforces and what the plan, the PR summary and `status` show.
 */
export function gateStatus(
  root: string,
  step: {
    readonly stack: string;
    readonly migration: string;
    readonly from: Position;
    readonly to: Position;
    readonly ctx: Pick<TransitionContext, "kind" | "ramp">;
    readonly maxAgeHours: number;
    readonly now: Date;
  },
): GateStatus[] {
  const at = positionLabel(step.from);
  return gatesOf(step.from, step.to, step.ctx).map((check) => {
    const command = gateCommand(check, step.stack, step.migration);
    const problem = evidenceProblem(root, { ...step, check, position: at, attempt: step.from.attempt });
    if (problem) return { check, at, problem, command };
    const read = readEvidence(root, step.stack, step.migration, check);
    return "evidence" in read
      ? { check, at, command, evidence: read.evidence }
      : { check, at, command, problem: read.problem };
  });
}
