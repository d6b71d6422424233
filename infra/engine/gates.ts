/**
 * The one gate judge. A forward step the phase table gates on data (`gates` of the row it enters) needs,
 * for each check, evidence that passed, was taken at the position being left, in this attempt, not in
 * the future and not older than the stack's `evidenceMaxAgeHours`. The same judgement refuses the step
 * at every door: `phase next|set` and `advance --apply` (from the committed files), the offline plan
 * (text and Markdown, exit 1), and the ledger at `pulumi preview` and `pulumi up` (from the evidence the
 * program hands it). Pure: the ledger's provider runs it inside the Pulumi engine.
 */
import { createPublicKey, verify } from "node:crypto";
import type { GateCheck } from "./phase-row";
import { gatesOf, positionLabel, type Position, type TransitionContext } from "./transitions";

/**
 * What one side of a check was connected to, without secrets: enough to tell staging's databases from
 * prod's and from a laptop's. D1 is `host: "d1"` with the database id (remote) or `host: "d1-local"`
 * with its name; PostgreSQL adds the server's system identifier when the role may read it.
 */
export interface EndpointFingerprint {
  readonly role: "source" | "target";
  readonly host: string;
  readonly port: number;
  readonly database: string;
  /** `pg_control_system().system_identifier`: unique per cluster, the same on its replicas. */
  readonly systemIdentifier?: string;
}

/** A Cloudflare resource as evidence names it: the account as the host, the database or namespace id. */
export function cloudflareEndpoint(accountId: string, database: string): EndpointFingerprint {
  return { role: "target", host: `cloudflare:${accountId}`, port: 443, database };
}

/** Local state (wrangler's `--local`, a laptop's KV): never a stack's. */
export const LOCAL_STATE: EndpointFingerprint = { role: "target", host: "local", port: 0, database: "" };

/** What the stack's own config says one endpoint must be; a field left out is not knowable here. */
export type EndpointExpectation = Pick<EndpointFingerprint, "role"> &
  Partial<Omit<EndpointFingerprint, "role" | "systemIdentifier">>;

/** A table the check covered, with its row count on the source. */
export interface CoveredTable {
  readonly name: string;
  readonly rows: number;
  /** Only a random sample was compared (`validate --sample`): not a gate's full check. */
  readonly sampled?: true;
}

/**
 * What a gate check's evidence must cover, from the stack's config: one requirement per file (a
 * dual-write migration's validation is one file per store), the tables, and the endpoints.
 */
export interface EvidenceRequirement {
  readonly check: GateCheck;
  /** The store the file covers (`supabase`, `d1`); absent for a check with one file. */
  readonly store?: string;
  readonly tables?: readonly string[];
  readonly endpoints?: readonly EndpointExpectation[];
}

/** Who may write evidence a gate accepts: anyone (a digest only), or the holder of a signing key. */
export interface EvidenceTrust {
  /** The Ed25519 public key (PEM) whose private half only the pipeline holds (`evidenceSignedBy`). */
  readonly publicKey?: string;
  /** Refuse unsigned evidence even when no key is declared (prod stacks): the stack must declare one. */
  readonly signatureRequired?: boolean;
}

/** Evidence as the judge sees it: what the file says, digest already checked by whoever read it. */
export interface EvidenceRef {
  readonly check: string;
  /** The store the file covers (dual-write validation, one file per store). */
  readonly store?: string;
  /** The position the migration was at when the check ran (`replicate`, `canary:10`), without attempt. */
  readonly position: string;
  /** The attempt it was taken in; absent in files written before attempts were recorded. */
  readonly attempt?: number;
  readonly at: string;
  readonly passed: boolean;
  readonly digest: string;
  /** The endpoints the check ran against; absent in files written before they were recorded. */
  readonly endpoints?: readonly EndpointFingerprint[];
  readonly tables?: readonly CoveredTable[];
  /** Base64 Ed25519 signature of the digest by the pipeline's key, when it signed. */
  readonly signature?: string;
}

export interface GateVerdict {
  readonly check: GateCheck;
  readonly store?: string;
  /** The position the evidence must have been taken at. */
  readonly at: string;
  readonly attempt: number;
  /** Why the evidence does not open the gate; absent when it does. */
  readonly problem?: string;
  readonly evidence?: EvidenceRef;
}

/** Clocks of the laptop, the runner and the engine disagree a little; more than this is a forgery or a bad clock. */
export const CLOCK_SKEW_MS = 5 * 60_000;

/** Why one check's evidence does not open the gate, or undefined when it does. */
export function evidenceRefProblem(
  e: EvidenceRef | undefined,
  want: { check: string; position: string; attempt: number; maxAgeHours: number; now: Date },
): string | undefined {
  if (e === undefined) return `no ${want.check} evidence`;
  if (!e.passed) return `the last ${want.check} did not pass (${e.at})`;
  if (e.position !== want.position)
    return `the ${want.check} evidence was taken at ${e.position}, not at ${want.position}`;
  if (e.attempt === undefined)
    return `the ${want.check} evidence does not say which attempt it was taken in (written by an older version): take it again`;
  if (e.attempt !== want.attempt)
    return `the ${want.check} evidence was taken in attempt ${e.attempt}, not in attempt ${want.attempt}`;
  const taken = Date.parse(e.at);
  if (!Number.isFinite(taken)) return `the ${want.check} evidence has no readable time (${e.at})`;
  if (taken > want.now.getTime() + CLOCK_SKEW_MS)
    return `the ${want.check} evidence is dated ${e.at}, in the future: a clock is wrong or the file was not written by the check`;
  const ageHours = (want.now.getTime() - taken) / 3_600_000;
  if (ageHours > want.maxAgeHours)
    return `the ${want.check} evidence is ${Math.floor(ageHours)} h old (more than ${want.maxAgeHours} h)`;
  return undefined;
}

const shownEndpoint = (e: Partial<EndpointFingerprint>) =>
  `${e.host ?? "?"}${e.port ? `:${e.port}` : ""}/${e.database ?? "?"}`;

/** Why the endpoints recorded do not match what the stack's config says, or undefined. */
export function endpointProblem(
  check: string,
  recorded: readonly EndpointFingerprint[] | undefined,
  expected: readonly EndpointExpectation[],
): string | undefined {
  if (expected.length === 0) return undefined;
  if (!recorded?.length)
    return `the ${check} evidence does not say which databases it was taken against (written by an older version): take it again`;
  for (const want of expected) {
    const got = recorded.find((r) => r.role === want.role);
    if (!got) return `the ${check} evidence records no ${want.role} endpoint`;
    const differs =
      (want.host !== undefined && want.host.toLowerCase() !== got.host.toLowerCase()) ||
      (want.port !== undefined && want.port !== got.port) ||
      (want.database !== undefined && want.database !== got.database);
    if (differs)
      return `the ${check} evidence was taken against ${want.role} ${shownEndpoint(got)}, not this stack's ${want.host?.startsWith("cloudflare:") && want.database === undefined ? `Cloudflare account (${want.host}, with --remote)` : shownEndpoint(want)}`;
  }
  return undefined;
}

/** The key a server's system identifier is pinned under: the attempt, the role and the address. */
export function pinKey(attempt: number, e: Omit<EndpointFingerprint, "systemIdentifier">): string {
  return `${attempt}:${e.role}:${e.host.toLowerCase()}:${e.port}/${e.database}`;
}

/**
 * Why the servers the evidence names are not the ones earlier gates of this attempt were passed on, or
 * undefined: the ledger pins each system identifier the first time a gate accepts it, and a different
 * cluster answering at the same address afterwards (restored, replaced, a DNS change) refuses.
 */
export function pinProblem(
  check: string,
  recorded: readonly EndpointFingerprint[] | undefined,
  pins: Readonly<Record<string, string>> | undefined,
  attempt: number,
): string | undefined {
  for (const e of recorded ?? []) {
    const pinned = e.systemIdentifier ? pins?.[pinKey(attempt, e)] : undefined;
    if (pinned !== undefined && pinned !== e.systemIdentifier)
      return `the ${check} evidence's ${e.role} ${shownEndpoint(e)} is cluster ${e.systemIdentifier}, not cluster ${pinned} that earlier gates of attempt ${attempt} were passed on: another server answers at that address (restored or replaced?); if that is intended, start a new attempt`;
  }
  return undefined;
}

/** Why the tables covered fall short of the migration's, or undefined. */
export function coverageProblem(
  check: string,
  covered: readonly CoveredTable[] | undefined,
  required: readonly string[],
): string | undefined {
  if (required.length === 0) return undefined;
  if (!covered) return `the ${check} evidence does not say which tables it covered: take it again`;
  const names = new Set(covered.map((t) => t.name));
  const missing = required.filter((t) => !names.has(t));
  if (missing.length)
    return `the ${check} evidence covers ${required.length - missing.length} of the migration's ${required.length} tables (missing: ${missing.join(", ")})`;
  const sampled = covered.filter((t) => t.sampled && required.includes(t.name)).map((t) => t.name);
  if (sampled.length)
    return `the ${check} evidence compared only a sample of ${sampled.join(", ")}: a gate needs the full check (without --sample)`;
  return undefined;
}

/** Why the evidence's signature does not satisfy the stack's trust, or undefined. */
export function signatureProblem(e: EvidenceRef, trust: EvidenceTrust | undefined): string | undefined {
  if (!trust?.publicKey)
    return trust?.signatureRequired
      ? `this stack accepts only evidence signed by its pipeline and declares no evidenceSignedBy key; hint: npm run evidence -- keygen, put the public key in the migration's evidenceSignedBy and the private key in the pipeline's CUTOVER_EVIDENCE_SIGNING_KEY`
      : undefined;
  if (!e.signature)
    return `the ${e.check} evidence is not signed: this stack accepts only evidence its pipeline signed (evidenceSignedBy); run the check in the pipeline (up.yml) or with CUTOVER_EVIDENCE_SIGNING_KEY`;
  let good = false;
  try {
    good = verify(
      null,
      Buffer.from(e.digest, "utf8"),
      createPublicKey(trust.publicKey),
      Buffer.from(e.signature, "base64"),
    );
  } catch {
    good = false;
  }
  return good
    ? undefined
    : `the ${e.check} evidence's signature does not verify with this stack's evidenceSignedBy key: it was not signed by this stack's pipeline, or was changed after`;
}

/** Everything the judge weighs beyond the step: age, what the evidence must cover, whom to trust. */
export interface JudgeOptions {
  readonly maxAgeHours: number;
  readonly now: Date;
  /** What each check's evidence must cover (from the stack's config); none: one file, no scope. */
  readonly requirements?: readonly EvidenceRequirement[];
  readonly trust?: EvidenceTrust;
  /** System identifiers the ledger pinned when earlier gates were passed ({@link pinKey}). */
  readonly pins?: Readonly<Record<string, string>>;
}

/** Each gate of `from → to` with its verdict (none when the step is not gated); one per file a check needs. */
export function judgeGates(
  from: Position,
  to: Position,
  ctx: Pick<TransitionContext, "kind" | "ramp">,
  evidence: readonly EvidenceRef[],
  o: JudgeOptions,
): GateVerdict[] {
  const at = positionLabel(from);
  return gatesOf(from, to, ctx).flatMap((check) => {
    const wanted = o.requirements?.filter((r) => r.check === check) ?? [];
    return (wanted.length ? wanted : [{ check } as EvidenceRequirement]).map((req) => {
      // The best candidate: one taken at the position left in this attempt, else whatever there is.
      const mine = evidence.filter((e) => e.check === check && e.store === req.store);
      const e =
        mine.find((x) => x.position === at && x.attempt === from.attempt) ??
        mine.find((x) => x.position === at) ??
        mine[0];
      const named = req.store ? `${check} (${req.store})` : check;
      const problem =
        evidenceRefProblem(e, { check: named, position: at, attempt: from.attempt, ...o }) ??
        endpointProblem(named, e!.endpoints, req.endpoints ?? []) ??
        pinProblem(named, e!.endpoints, o.pins, from.attempt) ??
        coverageProblem(named, e!.tables, req.tables ?? []) ??
        signatureProblem(e!, o.trust);
      const store = req.store ? { store: req.store } : {};
      return { check, ...store, at, attempt: from.attempt, ...(problem ? { problem } : { evidence: e }) };
    });
  });
}

/** The command that writes a gate's evidence. */
export function gateCommand(check: GateCheck, stack: string, migration: string, store?: string): string {
  switch (check) {
    case "validate": {
      const target =
        store === "d1"
          ? " --target d1:remote:<accountId>/<databaseId>"
          : store === undefined
            ? ""
            : " --target <the new schema's postgres:// URL>";
      return `npm run validate -- --stack ${stack} --migration ${migration}${target} --evidence`;
    }
    case "smoke":
      return `npm run smoke -- <candidate tag URL> --stack ${stack} --migration ${migration} --evidence`;
    case "export":
      return `npm run d1:export -- --stack ${stack} --migration ${migration} --remote --evidence`;
    case "capture":
      return `npm run capture -- status --stack ${stack} --migration ${migration} --evidence`;
    case "detached":
      return `npm run decommission -- check --stack ${stack} --migration ${migration} --evidence`;
    case "compare":
      return `npm run compare -- status --stack ${stack} --migration ${migration} --remote --evidence`;
    default: {
      const unreachable: never = check;
      throw new Error(`unknown gate check ${String(unreachable)}`);
    }
  }
}

/** One refusal line per failing gate, or undefined when every gate of the step holds. */
export function gateRefusal(
  migration: string,
  from: Position,
  to: Position,
  verdicts: readonly GateVerdict[],
  commandOf: (check: GateCheck, store?: string) => string,
): string | undefined {
  // commandOf: gateCommand bound to the stack and migration (kept a parameter for other wordings).
  const failing = verdicts.filter((v) => v.problem !== undefined);
  if (failing.length === 0) return undefined;
  return failing
    .map(
      (v) =>
        `${migration}: ${positionLabel(from)} → ${positionLabel(to)} needs passing ${v.check}${v.store ? ` (${v.store})` : ""} evidence taken at ${v.at} (attempt ${v.attempt}): ${v.problem}; hint: ${commandOf(v.check, v.store)}, then commit evidence/ with the change`,
    )
    .join("\n");
}
