/**
 * Gate evidence: what `validate`, `smoke`, `d1:export`, `capture -- status` and `compare -- status` found,
 * as a small file committed with the pull request (`evidence/<stack>/<migration>/<check>[.<store>].json`).
 * Every door checks it with the one judge (`infra/engine/gates.ts`), never trusts it: its digest must
 * match its contents, its verdict must be a pass, taken at the position being left in this attempt, not
 * older than the configured age, against the stack's own endpoints, covering every table of the spec,
 * and signed by the pipeline's key where the stack declares one (docs/evidence.md: the trust model).
 */
import { createHash, createPrivateKey, sign } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";

import {
  evidenceRefProblem,
  gateCommand,
  judgeGates,
  type CoveredTable,
  type EndpointFingerprint,
  type EvidenceRef,
} from "./engine/gates";
import { evidenceRequirements, evidenceTrust } from "./engine/evidence-scope";
import type { Migration } from "./config/schema";

export { gateCommand };
import { GATE_CHECKS, type GateCheck } from "./engine/phase-row";
import type { Position, Walk } from "./engine/transitions";

export type { CoveredTable, EndpointFingerprint, EvidenceRef, GateCheck };

/** The env var holding the pipeline's Ed25519 private key (PEM): evidence written with it is signed. */
export const SIGNING_KEY_ENV = "CUTOVER_EVIDENCE_SIGNING_KEY";

export interface Evidence {
  readonly stack: string;
  readonly migration: string;
  readonly check: GateCheck;
  /** The store the file covers (a dual-write validation: `supabase` or `d1`, one file each). */
  readonly store?: string;
  /** The position the file was at when the check ran (e.g. `replicate`, `canary:10`). */
  readonly position: string;
  /** The attempt the migration was in (a retry's evidence cannot open another attempt's gate). */
  readonly attempt?: number;
  readonly passed: boolean;
  readonly at: string;
  /** What was checked, in one line (tables, URL, counts). */
  readonly summary: string;
  /** What the check connected to: host, port, database, system identifier; never a user or password. */
  readonly endpoints?: readonly EndpointFingerprint[];
  /** The tables covered, with their source row counts. */
  readonly tables?: readonly CoveredTable[];
  /** sha256 of the report the check printed. */
  readonly reportDigest: string;
  /** sha256 over every field above: a hand-edited file does not match (anyone can recompute it). */
  readonly digest: string;
  /** Ed25519 signature of the digest by the pipeline's key: only the key's holder can make one. */
  readonly signature?: string;
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

function digestOf(e: Omit<Evidence, "digest">): string {
  // Fields recorded later enter the digest only when present: older files keep theirs (and are refused
  // for what they lack, with its own message).
  const optional = ["store", "attempt", "endpoints", "tables"] as const;
  const fields = [
    "stack",
    "migration",
    "check",
    ...optional.filter((k) => k === "store" && e.store !== undefined),
    "position",
    ...optional.filter((k) => k === "attempt" && e.attempt !== undefined),
    "passed",
    "at",
    "summary",
    ...optional.filter((k) => k !== "store" && k !== "attempt" && e[k] !== undefined),
    "reportDigest",
  ] as const;
  return sha256(JSON.stringify(fields.map((k) => e[k])));
}

export function evidencePath(
  root: string,
  stack: string,
  migration: string,
  check: GateCheck,
  store?: string,
): string {
  return join(root, "evidence", stack, migration, `${check}${store ? `.${store}` : ""}.json`);
}

/** The signature of a digest with the pipeline's key from `env`, or none when the key is not set. */
function signatureOf(digest: string, env: NodeJS.ProcessEnv): { signature?: string } {
  const pem = env[SIGNING_KEY_ENV];
  if (!pem) return {};
  let key;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new Error(
      `${SIGNING_KEY_ENV} is not a private key in PEM; hint: cutover evidence keygen writes one (its value is never printed)`,
    );
  }
  if (key.asymmetricKeyType !== "ed25519")
    throw new Error(`${SIGNING_KEY_ENV} holds a ${key.asymmetricKeyType} key; expected Ed25519`);
  return { signature: sign(null, Buffer.from(digest, "utf8"), key).toString("base64") };
}

/** Writes the evidence of a check; returns the file's path. Signed when the pipeline's key is in `env`. */
export function recordEvidence(
  root: string,
  e: Omit<Evidence, "digest" | "reportDigest" | "at" | "attempt" | "signature"> & {
    readonly attempt: number;
    readonly report: string;
    readonly at?: Date;
  },
  env: NodeJS.ProcessEnv = process.env,
): string {
  const { report, at, ...rest } = e;
  const body = { ...rest, at: (at ?? new Date()).toISOString(), reportDigest: sha256(report) };
  const digest = digestOf(body);
  const file = evidencePath(root, e.stack, e.migration, e.check, e.store);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify({ ...body, digest, ...signatureOf(digest, env) }, null, 2) + "\n");
  return file;
}

/** The committed evidence of one check (and store), if its file is there, reads, matches its digest and is this check's. */
export function readEvidence(
  root: string,
  stack: string,
  migration: string,
  check: GateCheck,
  store?: string,
): { readonly evidence: Evidence } | { readonly problem: string } {
  const file = evidencePath(root, stack, migration, check, store);
  const shown = relative(root, file);
  const named = store ? `${check} (${store})` : check;
  if (!existsSync(file)) return { problem: `no ${named} evidence (${shown})` };
  let e: Evidence;
  try {
    e = JSON.parse(readFileSync(file, "utf8")) as Evidence;
  } catch {
    return { problem: `${shown} is not readable JSON` };
  }
  const { digest, ...rest } = e;
  if (digest !== digestOf(rest))
    return { problem: `${shown} does not match its digest: it was edited by hand` };
  if (e.stack !== stack || e.migration !== migration || e.check !== check || e.store !== store)
    return {
      problem: `${shown} is evidence of another check (${e.stack}/${e.migration}/${e.check}${e.store ? `.${e.store}` : ""})`,
    };
  return { evidence: e };
}

/**
 * Why one file's evidence does not hold for a position and attempt (undefined when it does), before
 * scope and signature: what the gates judge first.
 */
export function evidenceProblem(
  root: string,
  want: {
    stack: string;
    migration: string;
    check: GateCheck;
    store?: string;
    position: string;
    attempt: number;
    maxAgeHours: number;
    now: Date;
  },
): string | undefined {
  const read = readEvidence(root, want.stack, want.migration, want.check, want.store);
  if ("problem" in read) return read.problem;
  const problem = evidenceRefProblem(read.evidence, want);
  return problem && !read.evidence.passed ? `${problem}: ${read.evidence.summary}` : problem;
}

/** The stores a check has files for (`validate.d1.json` → `d1`; `validate.json` → undefined). */
function storesOnDisk(
  root: string,
  stack: string,
  migration: string,
  check: GateCheck,
): (string | undefined)[] {
  const dir = join(root, "evidence", stack, migration);
  if (!existsSync(dir)) return [];
  const pattern = new RegExp(`^${check}(?:\\.([a-z0-9-]+))?\\.json$`);
  return readdirSync(dir).flatMap((name) => {
    const m = pattern.exec(name);
    return m ? [m[1]] : [];
  });
}

const refOf = (e: Evidence): EvidenceRef => ({
  check: e.check,
  ...(e.store !== undefined ? { store: e.store } : {}),
  position: e.position,
  ...(e.attempt !== undefined ? { attempt: e.attempt } : {}),
  at: e.at,
  passed: e.passed,
  digest: e.digest,
  ...(e.endpoints ? { endpoints: e.endpoints } : {}),
  ...(e.tables ? { tables: e.tables } : {}),
  ...(e.signature ? { signature: e.signature } : {}),
});

/** Every committed file of a migration, read: the good ones, and why each other one is not. */
function readAll(root: string, stack: string, migration: string) {
  const good: Evidence[] = [];
  const problems = new Map<string, string>();
  for (const check of GATE_CHECKS)
    for (const store of storesOnDisk(root, stack, migration, check)) {
      const read = readEvidence(root, stack, migration, check, store);
      if ("evidence" in read) good.push(read.evidence);
      else problems.set(`${check}/${store ?? ""}`, read.problem);
    }
  return { good, problems };
}

/**
 * The committed evidence of a migration whose digest holds (a hand-edited file is left out), for the
 * program to hand to the ledger, which judges it with the same judge. No folder or no file: none.
 */
export function committedEvidence(root: string, stack: string, migration: string): EvidenceRef[] {
  return readAll(root, stack, migration).good.map(refOf);
}

/** The data check a step needs and whether the committed evidence holds. */
export interface GateStatus {
  readonly check: GateCheck;
  /** The store the file covers, for a check with one file per store. */
  readonly store?: string;
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
 * evidence judged for it by the one judge, with what the migration's config says it must cover and whose
 * signature it needs: what `phase next` enforces and what the plan, the PR summary and `status` show.
 */
export function gateStatus(
  root: string,
  step: {
    readonly stack: string;
    readonly migration: string;
    readonly spec: Migration;
    readonly from: Position;
    readonly to: Position;
    readonly ctx: Walk;
    readonly now: Date;
    /** The system identifiers the deployed ledger pinned, when known (`--deployed`). */
    readonly pins?: Readonly<Record<string, string>>;
  },
): GateStatus[] {
  const { good } = readAll(root, step.stack, step.migration);
  const verdicts = judgeGates(step.from, step.to, step.ctx, good.map(refOf), {
    maxAgeHours: step.spec.evidenceMaxAgeHours,
    now: step.now,
    requirements: evidenceRequirements(step.spec),
    trust: evidenceTrust(step.spec, step.stack),
    ...(step.pins ? { pins: step.pins } : {}),
  });
  return verdicts.map((v) => {
    const command = gateCommand(v.check, step.stack, step.migration, v.store);
    const store = v.store !== undefined ? { store: v.store } : {};
    const base = { check: v.check, ...store, at: v.at, command };
    if (v.problem === undefined)
      return { ...base, evidence: good.find((e) => e.digest === v.evidence?.digest) };
    // No usable file: the reading says why (a file there that cannot be trusted, or the path expected).
    const read = /^no /.test(v.problem)
      ? readEvidence(root, step.stack, step.migration, v.check, v.store)
      : undefined;
    const failed = good.find((e) => e.check === v.check && e.store === v.store && !e.passed);
    const problem =
      read && "problem" in read
        ? read.problem
        : failed && /did not pass/.test(v.problem)
          ? `${v.problem}: ${failed.summary}`
          : v.problem;
    return { ...base, problem };
  });
}
