import { generateKeyPairSync } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseDocument } from "yaml";
import { positionOf } from "../../infra/engine/plan";
import { positionLabel } from "../../infra/engine/transitions";
import { GATE_CHECKS, type GateCheck } from "../../infra/engine/phase-row";
import type { EndpointFingerprint, EvidenceRequirement } from "../../infra/engine/gates";
import type { Migration } from "../../infra/config/schema";
import { evidenceRequirements, isProdStack } from "../../infra/engine/evidence-scope";
import { recordEvidence, SIGNING_KEY_ENV } from "../../infra/evidence";
import { loadMigration } from "../../tooling/stack-file";

/** A fresh signing pair: the public key for a stack's `evidenceSignedBy`, the private one for the env. */
export function signingPair(): { publicKey: string; env: NodeJS.ProcessEnv } {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  return {
    publicKey: publicKey.export({ type: "spki", format: "pem" }).toString(),
    env: { [SIGNING_KEY_ENV]: privateKey.export({ type: "pkcs8", format: "pem" }).toString() },
  };
}

let signer: ReturnType<typeof signingPair> | undefined;
/** This test process's pipeline key: scratch stacks copied with {@link copyStack} trust it. */
export function testSigner(): ReturnType<typeof signingPair> {
  return (signer ??= signingPair());
}

const PEM_BLOCK = /^( *)-----BEGIN PUBLIC KEY-----\n(?:\1[A-Za-z0-9+/=]+\n)+\1-----END PUBLIC KEY-----$/gm;

/**
 * A stack file's text with every `evidenceSignedBy` key replaced by the test signer's (same lines, same
 * indentation): the example's private half is nobody's, as a user's own stack's would be the pipeline's.
 */
export function withTestSigner(text: string): string {
  const lines = testSigner().publicKey.trimEnd().split("\n");
  return text.replace(PEM_BLOCK, (_all, indent: string) => lines.map((l) => indent + l).join("\n"));
}

/**
 * Copies the repository's `Pulumi.<stack>.yaml` into `dir`, trusting the test signer. Its `follows`
 * (prod follows staging) is dropped unless `keepFollows`: a test about one stack's steps is not about
 * the leader rule, which has tests of its own with both stacks.
 */
export function copyStack(
  root: string,
  dir: string,
  stack: string,
  opts: { keepFollows?: boolean } = {},
): string {
  const file = join(dir, `Pulumi.${stack}.yaml`);
  let text = withTestSigner(readFileSync(join(root, `Pulumi.${stack}.yaml`), "utf8"));
  if (!opts.keepFollows) text = text.replace(/^ *# Staging leads:.*\n *follows: [A-Za-z0-9_.-]+\n/gm, "");
  writeFileSync(file, text);
  return file;
}

/** Sets a migration's `evidenceSignedBy` in a scratch stack file (comments kept). */
export function setSigningKey(dir: string, stack: string, migration: string, publicKey: string): void {
  const file = join(dir, `Pulumi.${stack}.yaml`);
  const doc = parseDocument(readFileSync(file, "utf8"));
  doc.setIn(["config", "cutover:migrations", migration, "evidenceSignedBy"], publicKey);
  writeFileSync(file, doc.toString());
}

/** The env that signs evidence for a migration, when its stack needs signed evidence. */
function signingEnvFor(spec: Migration, stack: string): NodeJS.ProcessEnv {
  if (spec.evidenceSignedBy === undefined && !isProdStack(stack)) return {};
  if (spec.evidenceSignedBy?.trim() !== testSigner().publicKey.trim())
    throw new Error(
      `Pulumi.${stack}.yaml does not trust the test signer: copy it with copyStack() (or set its key with setSigningKey)`,
    );
  return testSigner().env;
}

/** The example prod stack's avvivo endpoints as a check run against them records (Cloud SQL's private IP). */
export const PROD_AVVIVO_ENDPOINTS = {
  source: {
    role: "source" as const,
    host: "db.hxbnqapwkzomvtel.supabase.co",
    port: 5432,
    database: "postgres",
  },
  target: { role: "target" as const, host: "10.20.0.3", port: 5432, database: "postgres" },
};

/** The endpoints a requirement names, with what the config cannot know filled as a real run would. */
function endpointsFor(req: EvidenceRequirement): EndpointFingerprint[] {
  return (req.endpoints ?? []).map((e) => ({
    role: e.role,
    host: e.host ?? "10.20.0.3",
    port: e.port ?? 5432,
    database: e.database ?? "2f0c9a2e-1b7d-4c3e-8a6f-0b1d2e9c7a4b",
  }));
}

/** What a test may change in scoped evidence; everything else is what a real run against the stack writes. */
export interface ScopedOverrides {
  readonly store?: string;
  readonly position?: string;
  readonly attempt?: number;
  readonly passed?: boolean;
  readonly at?: Date;
  readonly summary?: string;
  readonly endpoints?: EndpointFingerprint[];
  readonly tables?: { name: string; rows: number; sampled?: true }[];
  /** Write it without the pipeline's key (as a laptop would). */
  readonly unsigned?: boolean;
}

/**
 * One evidence file as a real run writes it: taken where the migration stands, against the stack's own
 * endpoints, covering its tables, signed by the test signer where the stack needs signed evidence.
 */
export function recordScoped(
  dir: string,
  stack: string,
  migration: string,
  check: GateCheck,
  over: ScopedOverrides = {},
): string {
  const spec = loadMigration(stack, migration, { dir });
  const p = positionOf(spec);
  const req =
    evidenceRequirements(spec).find((r) => r.check === check && r.store === over.store) ??
    ({ check, ...(over.store ? { store: over.store } : {}) } as EvidenceRequirement);
  return recordEvidence(
    dir,
    {
      stack,
      migration,
      check,
      ...(req.store ? { store: req.store } : {}),
      position: over.position ?? positionLabel(p),
      attempt: over.attempt ?? p.attempt,
      passed: over.passed ?? true,
      summary: over.summary ?? "ok",
      endpoints: over.endpoints ?? endpointsFor(req),
      ...(over.tables || req.tables
        ? { tables: over.tables ?? req.tables!.map((name) => ({ name, rows: 1 })) }
        : {}),
      report: "{}",
      at: over.at ?? new Date(),
    },
    over.unsigned ? {} : signingEnvFor(spec, stack),
  );
}

/** Passing evidence of every gate check (every store's file), as {@link recordScoped} writes it. */
export function passAllGates(dir: string, stack: string, migration: string, at: Date): void {
  const requirements = evidenceRequirements(loadMigration(stack, migration, { dir }));
  for (const check of GATE_CHECKS) {
    const stores = requirements.filter((r) => r.check === check).map((r) => r.store);
    for (const store of stores.length ? stores : [undefined])
      recordScoped(dir, stack, migration, check, { at, ...(store ? { store } : {}) });
  }
}
