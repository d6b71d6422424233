/**
 * Every command of `cutover`, in the order `cutover --help` lists them: the words that name it, one line
 * of what it does, and its module, loaded only when it runs (so `--help` loads none of them). The docs'
 * command pages and the help test read this table; a command exists when it is here.
 */
import type { Leaf } from "./shell";

export interface CommandEntry {
  /** `["check", "validate"]` for `cutover check validate`. */
  readonly words: readonly string[];
  /** What it does, one line. */
  readonly summary: string;
  /** The group it is listed under. */
  readonly group: Group;
  /** Arguments put before the user's: `check capture` is the capture command's `status`. */
  readonly prefix?: readonly string[];
  readonly load: () => Promise<{ leaf: Leaf }>;
}

export const GROUPS = {
  move: "Move a migration (edits the stack file; pulumi applies it)",
  check: "Gate checks (what a phase's gates ask for; --evidence records the verdict)",
  data: "Data plane of dual-write migrations (runbook 2)",
  replication: "Replication of cloudsql migrations (runbook 1), as the stack's jobs run it",
  pipeline: "Pipeline",
  measure: "Rehearse and measure on this machine",
} as const;
export type Group = keyof typeof GROUPS;

export const COMMANDS: readonly CommandEntry[] = [
  {
    words: ["plan"],
    group: "move",
    summary: "what a stack deploys in its phase, offline (no cloud, no credentials, no Pulumi CLI)",
    load: () => import("./commands/plan"),
  },
  {
    words: ["phase", "status"],
    group: "move",
    summary: "where each migration stands, what it waits for, and the next step",
    prefix: ["status"],
    load: () => import("./commands/phase"),
  },
  {
    words: ["phase", "next"],
    group: "move",
    summary: "write the next step into the stack file, if the transition table allows it",
    prefix: ["next"],
    load: () => import("./commands/phase"),
  },
  {
    words: ["phase", "set"],
    group: "move",
    summary: "write a chosen phase (canary:50, replicate@2) into the stack file, if allowed",
    prefix: ["set"],
    load: () => import("./commands/phase"),
  },
  {
    words: ["phase", "rollback"],
    group: "move",
    summary: "write the rollback of the deployed phase into the stack file",
    prefix: ["rollback"],
    load: () => import("./commands/phase"),
  },
  {
    words: ["advance"],
    group: "move",
    summary:
      "after a ramp step's up (canary, read switch): wait the bake, judge it, then the next step or rollback",
    load: () => import("./commands/advance"),
  },
  {
    words: ["check", "preflight"],
    group: "check",
    summary: "connectivity of the databases and Redis, and the source's readiness for replication",
    load: () => import("./commands/preflight"),
  },
  {
    words: ["check", "validate"],
    group: "check",
    summary: "source and target data equal: counts, checksums, bisection to the differing keys",
    load: () => import("./commands/validate"),
  },
  {
    words: ["check", "smoke"],
    group: "check",
    summary: "the runbook's checklist against a revision's URL",
    load: () => import("./commands/smoke"),
  },
  {
    words: ["check", "capture"],
    group: "check",
    summary: "change capture's lag and pending changes per table",
    prefix: ["status"],
    load: () => import("./commands/capture"),
  },
  {
    words: ["check", "compare"],
    group: "check",
    summary: "the comparison Worker: its wrangler config, one local run, or its last summary judged",
    load: () => import("./commands/compare"),
  },
  {
    words: ["check", "decommission"],
    group: "check",
    summary: "whether anything in the Cloudflare account still reads the old stores",
    load: () => import("./commands/decommission"),
  },
  {
    words: ["data", "schema"],
    group: "data",
    summary: "the new PostgreSQL schema's migrations (node-pg-migrate)",
    load: () => import("./commands/schema-migrate"),
  },
  {
    words: ["data", "d1-schema"],
    group: "data",
    summary: "D1's migrations (wrangler d1 migrations apply), local or remote",
    load: () => import("./commands/d1-migrate"),
  },
  {
    words: ["data", "backfill"],
    group: "data",
    summary: "copy every table from legacy into its new store; resumable",
    load: () => import("./commands/backfill"),
  },
  {
    words: ["data", "capture"],
    group: "data",
    summary: "change capture from legacy: install, run (apply), status, remove",
    load: () => import("./commands/capture"),
  },
  {
    words: ["data", "export"],
    group: "data",
    summary: "export every D1 database before decommission may delete it",
    load: () => import("./commands/d1-export"),
  },
  {
    words: ["replication"],
    group: "replication",
    summary: "logical replication and the switch: start, status, stop, freeze-source, thaw-source, switch",
    load: () => import("./commands/replication"),
  },
  {
    words: ["evidence"],
    group: "pipeline",
    summary: "a signing key pair for gate evidence, and the pipeline's check of evidence files",
    load: () => import("./commands/evidence"),
  },
  {
    words: ["workers", "sync"],
    group: "pipeline",
    summary:
      "around pulumi up: the flags floor onto the Workers; the comparison and capture Workers deployed or deleted",
    load: () => import("./commands/workers"),
  },
  {
    words: ["touched"],
    group: "pipeline",
    summary: "which stacks a change touches (for the workflows)",
    load: () => import("./commands/touched"),
  },
  {
    words: ["rehearse"],
    group: "measure",
    summary: "a dress rehearsal of a migration (cloudsql or dual-write) under load, on local servers",
    load: () => import("./commands/rehearse"),
  },
  {
    words: ["bench", "plan"],
    group: "measure",
    summary: "time to synthesize every phase of both stacks, beside a baseline",
    load: () => import("./commands/bench-plan"),
  },
  {
    words: ["bench", "validate"],
    group: "measure",
    summary: "validate beside a native checksum floor and pg_comparator, start-up included",
    load: () => import("./commands/bench-validate"),
  },
  {
    words: ["bench", "backfill"],
    group: "measure",
    summary: "rows per second into local D1, batched beside one INSERT per row",
    load: () => import("./commands/bench-backfill"),
  },
  {
    words: ["bench", "capture"],
    group: "measure",
    summary: "backfill and change capture into PostgreSQL, and capture's lag under writes",
    load: () => import("./commands/bench-capture"),
  },
];
