import { validateResourceOfType } from "@pulumi/policy";
import { Instance } from "@pulumi/gcp/redis/instance";
import { evaluatePolicies, PolicyFinding } from "../../policies/evaluate";
import { POLICIES } from "../../policies/registry";
import { CutoverPolicy } from "../../policies/support";
import { engineAnalyze, engineFindings } from "./engine";
import { added, changed, compliantStack, T, target, UNKNOWN, STABLE, CANDIDATE } from "./fixtures";

const key = (f: PolicyFinding) => `${f.level} ${f.policy} ${f.urn} ${f.message}`;
const sorted = (fs: PolicyFinding[]) => fs.map(key).sort();
const redis = () => compliantStack().find((r) => r.name === "avvivo-redis")!;

describe("under the engine's own analyzer handlers", () => {
  test("a mandatory rule reading an unknown value reports a mandatory violation", async () => {
    const r = { ...redis(), inputs: { ...redis().inputs, authEnabled: UNKNOWN.unknownBooleanValue } };
    const findings = await engineAnalyze(POLICIES, r);
    expect(findings.map((f) => [f.policy, f.level])).toEqual([["redis-auth-enabled", "mandatory"]]);
    expect(findings[0].message).toContain(
      "Memorystore instance avvivo-redis must have a known authEnabled at preview",
    );
  });

  test("control: without the fail-closed wrapper the engine downgrades the same check to advisory", async () => {
    const bare: CutoverPolicy = {
      name: "bare-redis-auth",
      description: "AUTH on, written without the pack's helper.",
      enforcementLevel: "mandatory",
      validateResource: validateResourceOfType(Instance, (instance, _args, report) => {
        if (instance.authEnabled !== true) report("auth off");
      }),
    };
    const r = { ...redis(), inputs: { ...redis().inputs, authEnabled: UNKNOWN.unknownBooleanValue } };
    expect((await engineAnalyze([bare], r)).map((f) => [f.level, f.message])).toEqual([
      [
        "advisory",
        "can't run policy 'bare-redis-auth' from policy pack 'cutover@v0.1.0' during preview: boolean value at .authEnabled can't be known during preview",
      ],
    ]);
  });

  const variants: [string, () => ReturnType<typeof compliantStack>][] = [
    ["compliant", () => compliantStack()],
    ["compliant staging", () => compliantStack("staging")],
    [
      "public SQL + no PITR",
      () =>
        changed(
          changed(compliantStack(), "avvivo-sql", "settings.ipConfiguration.ipv4Enabled", true),
          "avvivo-sql",
          "settings.backupConfiguration.pointInTimeRecoveryEnabled",
          false,
        ),
    ],
    [
      "unknown sslMode and flags",
      () =>
        changed(
          changed(
            compliantStack(),
            "avvivo-sql",
            "settings.ipConfiguration.sslMode",
            UNKNOWN.unknownStringValue,
          ),
          "avvivo-sql",
          "settings.databaseFlags",
          UNKNOWN.unknownArrayValue,
        ),
    ],
    [
      "split brain",
      () =>
        changed(compliantStack(), "avvivo-service", "traffics", [target(STABLE, 50), target(CANDIDATE, 50)]),
    ],
    [
      "replicating without backups",
      () =>
        changed(
          changed(compliantStack(), "avvivo-spec", "phase", "replicate"),
          "avvivo-sql",
          "settings.backupConfiguration",
          { enabled: false },
        ),
    ],
    [
      "plaintext credential",
      () =>
        changed(compliantStack(), "avvivo-migrate-a1", "template.template.containers.0.envs.0", {
          name: "DATABASE_URL",
          value: "postgresql://u:p@h/d",
        }),
    ],
    [
      "public secret",
      () =>
        added(compliantStack(), T.secretIamBinding, "leak", {
          secretId: "s",
          role: "roles/secretmanager.secretAccessor",
          members: ["allUsers"],
        }),
    ],
    ["malformed spec", () => changed(compliantStack(), "avvivo-spec", "kind", "blue-green")],
  ];

  test.each(variants)(
    "%s: evaluatePolicies reports exactly what the engine reports",
    async (_title, stack) => {
      const resources = stack();
      expect(sorted(evaluatePolicies(resources))).toEqual(sorted(await engineFindings(POLICIES, resources)));
    },
  );
});
