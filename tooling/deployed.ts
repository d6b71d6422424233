import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { z } from "zod";
import { CONFIG_KEY } from "../infra/config/common";
import { positionFromFields, type LedgerFacts, type Position } from "../infra/engine/transitions";
import { stackConfigOf, StackFileError, type StackConfig } from "./stack-file";

/** What is deployed, per migration, as the offline plan learns it (a git ref or the ledger's outputs). */
export interface DeployedSide {
  /** Where it came from, for the report: `git main` or the outputs file. */
  readonly source: string;
  /** Each cloudsql migration's service URL, from the stack outputs. */
  readonly serviceUris?: Readonly<Record<string, string>>;
  /** True when the facts (with their times) are known: the ledger's outputs, not a git ref. */
  readonly factsKnown: boolean;
  /** The stack file as it is at the git ref (absent for the ledger's outputs, or no file there). */
  readonly config?: StackConfig;
  readonly migrations: Readonly<
    Record<
      string,
      {
        readonly position: Position;
        readonly facts?: LedgerFacts;
        readonly appliedAt?: string;
        /** The system identifiers the ledger pinned ({@link pinKey} in infra/engine/gates.ts). */
        readonly pins?: Readonly<Record<string, string>>;
      }
    >
  >;
}

/** The stack file at a git ref: each migration's position there (a file absent at that ref: none deployed). */
export function deployedFromGit(stack: string, ref: string, dir = process.cwd()): DeployedSide {
  const file = `Pulumi.${stack}.yaml`;
  const git = (args: string[]) =>
    execFileSync("git", args, {
      cwd: dir,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      maxBuffer: 16 << 20,
    });
  try {
    git(["rev-parse", "--verify", "--quiet", `${ref}^{commit}`]);
  } catch {
    throw new StackFileError(
      `--base ${ref}: not a commit in the git repository at ${dir}; hint: e.g. --base origin/main (fetch it first) or --base HEAD~1`,
    );
  }
  let text: string;
  try {
    text = git(["show", `${ref}:./${file}`]);
  } catch {
    return { source: `git ${ref} (no ${file} there: nothing deployed)`, factsKnown: false, migrations: {} };
  }
  const base = stackConfigOf(stack, `${ref}:${file}`, text);
  const config = base.config;
  const raw = (config[CONFIG_KEY] ?? {}) as Record<string, Record<string, unknown>>;
  const migrations: Record<string, { position: Position }> = {};
  for (const [name, spec] of Object.entries(raw)) {
    const position = spec && typeof spec === "object" ? positionFromFields(spec) : undefined;
    if (position) migrations[name] = { position };
  }
  return { source: `git ${ref}`, factsKnown: false, migrations, config: base };
}

const PositionSchema = z.object({
  phase: z.string().min(1),
  attempt: z.number().int().min(1).default(1),
  percent: z.number().int().min(0).max(100).optional(),
  rollbackFrom: z.string().optional(),
});
const At = z.object({ at: z.iso.datetime({ offset: true }) });
const FactsSchema = z.object({
  promoted: z.array(At.extend({ attempt: z.number().int().min(1) })).optional(),
  cutoverCompleted: At.extend({ attempt: z.number().int().min(1) }).optional(),
  finalCut: At.optional(),
  decommissioned: At.optional(),
});
const OutputsSchema = z.record(
  z.string(),
  z.looseObject({
    ledger: z
      .looseObject({
        deployed: PositionSchema,
        facts: FactsSchema.default({}),
        pins: z.record(z.string(), z.string()).optional(),
      })
      .optional(),
  }),
);

/** The ledger as `pulumi stack output --json` prints it (a migration without a ledger output: baseline). */
export function deployedFromOutputs(file: string): DeployedSide {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new StackFileError(
      `--deployed ${file}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : `not JSON (${(e as Error).message})`}; hint: pulumi stack output --json --stack <stack> > deployed.json`,
    );
  }
  const parsed = OutputsSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new StackFileError(
      `--deployed ${file}: ${issue.path.join(".") || "(root)"}: ${issue.message}; hint: pass the JSON of \`pulumi stack output --json\` (each migration's output carries its ledger)`,
    );
  }
  const migrations: Record<
    string,
    { position: Position; facts: LedgerFacts; appliedAt?: string; pins?: Record<string, string> }
  > = {};
  for (const [name, out] of Object.entries(parsed.data))
    if (out.ledger)
      migrations[name] = {
        position: out.ledger.deployed,
        facts: out.ledger.facts,
        ...(out.ledger.appliedAt ? { appliedAt: String(out.ledger.appliedAt) } : {}),
        ...(out.ledger.pins ? { pins: out.ledger.pins } : {}),
      };
  const serviceUris = Object.fromEntries(
    Object.entries(parsed.data).flatMap(([name, out]) =>
      out.serviceUri ? [[name, String(out.serviceUri)]] : [],
    ),
  );
  return { source: file, factsKnown: true, migrations, serviceUris };
}
