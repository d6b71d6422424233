import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createPrivateKey, createPublicKey } from "node:crypto";
import { ROOT, runCutover } from "../support/cli";
import { copyStack, PROD_AVVIVO_ENDPOINTS, recordScoped, testSigner } from "../support/evidence";
import { scratchDir } from "../support/scratch";
import { pinKey } from "../../infra/engine/gates";

jest.setTimeout(120_000);

const evidence = (args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) =>
  runCutover(["evidence", ...args], env, cwd);

describe("cutover evidence keygen", () => {
  it("writes the private key for the pipeline only, prints the public key, and never overwrites", async () => {
    const dir = scratchDir("keygen");
    const r = await evidence(["keygen", "--out", "signing.pem"], dir);
    expect(r.code).toBe(0);
    const pem = readFileSync(join(dir, "signing.pem"), "utf8");
    expect(statSync(join(dir, "signing.pem")).mode & 0o777).toBe(0o600);
    const key = createPrivateKey(pem);
    expect(key.asymmetricKeyType).toBe("ed25519");
    // The printed public key is the private key's half; the private key itself is never printed.
    const printed = /-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----/
      .exec(r.stdout)![0]
      .replace(/^ +/gm, "");
    expect(printed).toBe(createPublicKey(key).export({ type: "spki", format: "pem" }).toString().trimEnd());
    expect(r.stdout).toContain("gh secret set CUTOVER_EVIDENCE_SIGNING_KEY --env <stack> < signing.pem");
    expect(r.stdout + r.stderr).not.toContain(pem.split("\n")[1]);
    const again = await evidence(["keygen", "--out", "signing.pem"], dir);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("evidence: signing.pem exists; not overwritten");
    expect(readFileSync(join(dir, "signing.pem"), "utf8")).toBe(pem);
  });
});

describe("cutover evidence verify -s (what up.yml runs before committing evidence)", () => {
  function prodAtReplicate(): string {
    const dir = scratchDir("verify");
    const file = copyStack(ROOT, dir, "prod");
    writeFileSync(
      file,
      readFileSync(file, "utf8").replace("      phase: baseline\n", "      phase: replicate\n"),
    );
    return dir;
  }
  const { source, target } = PROD_AVVIVO_ENDPOINTS;

  it("passes evidence taken against the stack's servers and signed by its pipeline", async () => {
    const dir = prodAtReplicate();
    recordScoped(dir, "prod", "avvivo", "validate");
    const r = await evidence(["verify", "-s", "prod"], dir);
    expect(r.stdout).toBe("avvivo/validate: OK\n");
    expect(r.code).toBe(0);
  });

  it("fails a laptop's run (unsigned, other databases) and a server the ledger did not pin, naming each", async () => {
    const dir = prodAtReplicate();
    recordScoped(dir, "prod", "avvivo", "validate", {
      unsigned: true,
      endpoints: [
        { ...source, host: "127.0.0.1" },
        { ...target, host: "127.0.0.1" },
      ],
    });
    const laptop = await evidence(["verify", "-s", "prod"], dir);
    expect(laptop.stdout).toContain(
      "avvivo/validate: FAIL: the avvivo/validate evidence was taken against source 127.0.0.1:5432/postgres, not this stack's db.hxbnqapwkzomvtel.supabase.co:5432/postgres",
    );
    expect(laptop.code).toBe(1);

    recordScoped(dir, "prod", "avvivo", "validate", {
      unsigned: true,
      endpoints: [source, target],
    });
    const unsigned = await evidence(["verify", "-s", "prod"], dir);
    expect(unsigned.stdout).toContain("avvivo/validate: FAIL: the validate evidence is not signed");
    expect(unsigned.code).toBe(1);

    // Signed and at the right address, but another cluster than the one earlier gates were passed on.
    recordScoped(dir, "prod", "avvivo", "validate", {
      endpoints: [{ ...source, systemIdentifier: "7309999999999999999" }, target],
    });
    const pinned = { [pinKey(1, source)]: "7301111111111111111" };
    writeFileSync(
      join(dir, "deployed.json"),
      JSON.stringify({
        avvivo: { ledger: { deployed: { phase: "replicate", attempt: 1 }, facts: {}, pins: pinned } },
      }),
    );
    const replaced = await evidence(["verify", "-s", "prod", "--deployed", "deployed.json"], dir);
    expect(replaced.stdout).toContain(
      "is cluster 7309999999999999999, not cluster 7301111111111111111 that earlier gates of attempt 1 were passed on",
    );
    expect(replaced.code).toBe(1);
    expect(replaced.stdout + replaced.stderr).not.toContain(
      testSigner().env.CUTOVER_EVIDENCE_SIGNING_KEY!.split("\n")[1],
    );
  });
});
