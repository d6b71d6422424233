/**
 * What gate evidence is bound to: the endpoints it was taken against (and the servers the ledger pinned),
 * the tables it covered, and whose key signed it — the types and the checks the one judge (gates.ts)
 * applies after age, step and attempt. Pure: the ledger's provider runs them inside the Pulumi engine.
 */
import { createPublicKey, verify } from "node:crypto";
import type { GateCheck } from "./phase-row";

/**
 * What one side of a check was connected to, without secrets: enough to tell staging's databases from
 * prod's and from a laptop's. Cloudflare is `host: "cloudflare:<accountId>"` with the database or
 * namespace id, local state `local` / `d1-local`; PostgreSQL adds the server's system identifier when
 * the role may read it.
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

/** What a signature is checked on: the check's name, the digest it signs, the signature if any. */
export interface SignedEvidence {
  readonly check: string;
  readonly digest: string;
  readonly signature?: string;
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
export function signatureProblem(e: SignedEvidence, trust: EvidenceTrust | undefined): string | undefined {
  if (!trust?.publicKey)
    return trust?.signatureRequired
      ? `this stack accepts only evidence signed by its pipeline and declares no evidenceSignedBy key; hint: cutover evidence keygen, put the public key in the migration's evidenceSignedBy and the private key in the pipeline's CUTOVER_EVIDENCE_SIGNING_KEY`
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
