/** What stands between a stack and its first real `pulumi up`, read from its plan. */
import type { DeployedSide } from "../../tooling/deployed";
import type { PlanReport } from "./run";

/** Something to do before this stack's first real `pulumi up`, as the plan says it. */
export interface FirstRunNote {
  readonly what: string;
  readonly hint: string;
}

/**
 * What stands between this stack and its first real `pulumi up`: committed placeholder secrets, and a
 * Cloud Run service the program would create although it already serves (nothing deployed says it was
 * imported: no ledger in the outputs, or the migration is new at the git ref, or no deployed side given
 * and the migration is still at baseline).
 */
export function firstRunNotes(report: PlanReport, deployed?: DeployedSide): FirstRunNote[] {
  const notes: FirstRunNote[] = report.placeholderSecrets.map((key) => ({
    what: `${key} holds the committed placeholder, not a ciphertext: \`pulumi preview\` fails to decrypt it`,
    hint: `pulumi config set --secret --stack ${report.stack} ${key.replace(/^cutover:/, "")} <value>`,
  }));
  for (const m of report.migrations) {
    if (m.planned.spec.kind !== "cloudsql") continue;
    const unknown =
      deployed === undefined
        ? m.planned.spec.phase === "baseline"
        : deployed.migrations[m.name] === undefined;
    const service = m.resources.find((r) => r.type === "gcp:cloudrunv2/service:Service");
    if (!unknown || service === undefined) continue;
    const name = String(service.inputs.name);
    const since = deployed
      ? `${deployed.source} has no ledger for it, so`
      : "if this stack was never applied,";
    notes.push(
      service.importId
        ? {
            what: `${m.name}: ${since} the first \`pulumi up\` adopts Cloud Run service ${name} (cloudRun.adopt, import ID ${service.importId}); the import fails unless the program's inputs match the running service`,
            hint: `pulumi preview --stack ${report.stack} --diff  (until it shows no difference on ${service.name}: align image, env, secretEnv and stableRevision with \`gcloud run services describe ${name}\`)`,
          }
        : {
            what: `${m.name}: ${since} the first \`pulumi up\` creates Cloud Run service ${name}, which already serves production (the create fails: the name is taken)`,
            hint: `set cloudRun.adopt: true under cutover:migrations.${m.name} to adopt the running service (the import resource option)`,
          },
    );
  }
  return notes;
}
