/**
 * `cutover evidence keygen --out <file>`: a signing pair for a stack's gate evidence — the private key
 * written to a file only its owner can read (for the pipeline's CUTOVER_EVIDENCE_SIGNING_KEY), the
 * public key printed for the migration's `evidenceSignedBy`. The private key is never printed.
 *
 * `cutover evidence verify -s <stack> [--deployed deployed.json]`: before the pipeline commits evidence,
 * each file of each migration is checked for what only it can be checked for there: its digest, the
 * endpoints against the stack's config, the servers' system identifiers against those the deployed
 * ledger pinned, and the signature where the stack needs one. Its verdict (pass or fail) is not judged:
 * a failing validation is evidence too. Exit 0 every file holds, 1 one does not, 2 bad input.
 */
import { generateKeyPairSync } from "node:crypto";
import { existsSync, writeFileSync } from "node:fs";
import { endpointProblem, pinProblem, signatureProblem } from "../../infra/engine/gates";
import { evidenceRequirements, evidenceTrust } from "../../infra/engine/evidence-scope";
import { GATE_CHECKS } from "../../infra/engine/phase-row";
import { deployedFromOutputs } from "../../tooling/deployed";
import { committedEvidence, SIGNING_KEY_ENV } from "../../infra/evidence";
import { loadStack } from "../../tooling/stack-file";
import { newCommand, type Leaf, UsageError } from "../shell";

function keygen(out: string): number {
  if (existsSync(out))
    throw new UsageError(`${out} exists; not overwritten`, "name a new file: a key in use must not be lost");
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  writeFileSync(out, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600, flag: "wx" });
  const pem = publicKey.export({ type: "spki", format: "pem" }).toString().trimEnd();
  process.stdout.write(
    [
      `private key written to ${out} (mode 600). Store it where only the pipeline reads it, then delete the file:`,
      `  gh secret set ${SIGNING_KEY_ENV} --env <stack> < ${out}`,
      "",
      "public key, for each migration's evidenceSignedBy in Pulumi.<stack>.yaml:",
      "      evidenceSignedBy: |",
      ...pem.split("\n").map((l) => `        ${l}`),
      "",
    ].join("\n"),
  );
  return 0;
}

function verify(stack: string, deployedFile: string | undefined): number {
  const { migrations } = loadStack(stack);
  const deployed = deployedFile ? deployedFromOutputs(deployedFile) : undefined;
  const lines: string[] = [];
  let bad = 0;
  for (const [name, spec] of Object.entries(migrations)) {
    const requirements = evidenceRequirements(spec);
    const trust = evidenceTrust(spec, stack);
    const pins = deployed?.migrations[name]?.pins;
    for (const e of committedEvidence(process.cwd(), stack, name)) {
      if (!GATE_CHECKS.includes(e.check as never)) continue;
      const req = requirements.find((r) => r.check === e.check && r.store === e.store);
      const named = `${name}/${e.check}${e.store ? ` (${e.store})` : ""}`;
      const problem =
        endpointProblem(named, e.endpoints, req?.endpoints ?? []) ??
        pinProblem(named, e.endpoints, pins, e.attempt ?? 1) ??
        signatureProblem(e, trust);
      if (problem) bad++;
      lines.push(`${named}: ${problem ? `FAIL: ${problem}` : "OK"}`);
    }
  }
  if (lines.length === 0) lines.push(`no evidence for stack ${stack} here (evidence/${stack}/)`);
  process.stdout.write(lines.join("\n") + "\n");
  return bad ? 1 : 0;
}

async function main(argv: readonly string[]): Promise<number> {
  const program = newCommand("cutover evidence").description("gate evidence: a signing key pair, and checks");
  let code = 0;
  program
    .command("keygen")
    .description("write an Ed25519 private key to --out, print its public key for evidenceSignedBy")
    .requiredOption("--out <file>", "where the private key goes (refused if it exists)")
    .action((o: { out: string }) => {
      code = keygen(o.out);
    });
  program
    .command("verify")
    .description(
      "check each committed evidence file of <stack>: digest, endpoints, pinned servers, signature",
    )
    .requiredOption("-s, --stack <name>", "the stack whose evidence/<stack>/ to check")
    .option("--deployed <file>", "`pulumi stack output --json`: the servers the ledger pinned")
    .action((o: { stack: string; deployed?: string }) => {
      code = verify(o.stack, o.deployed);
    });
  program.exitOverride().parse(argv, { from: "user" });
  return code;
}

export const leaf: Leaf = {
  main,
  secrets: () => [process.env[SIGNING_KEY_ENV]],
};
