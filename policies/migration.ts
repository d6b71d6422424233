import { PolicyResource, ReportViolation } from "@pulumi/policy";
import { FoundSpec, MigrationSpec, readSpecs, serviceOf, SPEC_RESOURCE_TYPE } from "./spec";
import { CutoverPolicy, isUnknownValueError, stackPolicy, unknownAtPreviewMessage } from "./support";

interface TrafficTarget {
  type?: string;
  revision?: string;
  percent?: number;
}

/** Runs a check per migration spec, so an unknown value fails that migration (with its URN) only. */
function eachSpec(
  resources: PolicyResource[],
  report: ReportViolation,
  check: (found: FoundSpec, spec: MigrationSpec) => void,
): void {
  for (const found of readSpecs(resources).specs) {
    try {
      check(found, found.spec);
    } catch (e) {
      if (!isUnknownValueError(e)) throw e;
      report(unknownAtPreviewMessage(`Migration ${found.spec.migration}`, e), found.resource.urn);
    }
  }
}

function trafficOf(service: PolicyResource): TrafficTarget[] {
  return ((service.props.traffics ?? []) as TrafficTarget[]).map((t) => ({ ...t }));
}

export const migrationSpecWellFormed = stackPolicy({
  name: "migration-spec-well-formed",
  description:
    "Every migration spec the program exposes (a pulumi-nodejs:dynamic:Resource with cutoverSpec) is version v1, well formed and unique per migration, so the migration rules never skip one silently.",
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    const { specs, malformed } = readSpecs(args.resources);
    for (const m of malformed)
      report(
        `Migration spec ${m.resource.name} must match the cutoverSpec v1 contract: ${m.problems.join("; ")}; hint: the program and the policy pack disagree about the spec — update both together`,
        m.resource.urn,
      );
    const seen = new Set<string>();
    for (const { spec, resource } of specs) {
      if (seen.has(spec.migration))
        report(
          `Migration ${spec.migration} must expose exactly one spec; ${resource.name} is a second one`,
          resource.urn,
        );
      seen.add(spec.migration);
    }
  },
});

export const migrationNoSplitBrain = stackPolicy({
  name: "migration-no-split-brain",
  description:
    "No split brain: once promotion is declared, no Cloud Run revision that writes to the source database receives traffic (rollback excepted, which sends everything back to the source), and writers to both databases never receive traffic at the same time.",
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    eachSpec(args.resources, report, (found, spec) => {
      if (spec.kind !== "cloudsql") return;
      const subject = `Migration ${spec.migration}`;
      const service = serviceOf(spec, args.resources);
      if (service === undefined) {
        report(
          `${subject} must declare its Cloud Run service ${spec.service ?? "(spec.service not set)"} as a gcp:cloudrunv2/service:Service with that name, or split brain cannot be ruled out`,
          found.resource.urn,
        );
        return;
      }
      const revisions = new Map(spec.revisions.map((r) => [r.name, r]));
      const live = trafficOf(service).filter((t) => (t.percent ?? 0) > 0);
      const label = (t: TrafficTarget) => `${t.revision ?? "LATEST"} (${t.percent}%)`;
      const writersTo = (db: string) =>
        live.filter((t) => {
          const r = revisions.get(t.revision ?? "");
          return r !== undefined && r.database === db && r.writes;
        });
      const sourceWriters = writersTo("source");
      const cloudsqlWriters = writersTo("cloudsql");
      if (spec.promoted && spec.phase !== "rollback") {
        if (sourceWriters.length > 0)
          report(
            `${subject} must not send traffic to a revision that writes to the source database after promotion: ${sourceWriters.map(label).join(", ")}; hint: only the frozen (write-blocked) or Cloud SQL revisions may serve after promote`,
            service.urn,
          );
        const undeclared = live.filter((t) => !revisions.has(t.revision ?? ""));
        if (undeclared.length > 0)
          report(
            `${subject} must say which database every revision with traffic uses after promotion: ${undeclared.map(label).join(", ")} is not in the spec's revisions`,
            service.urn,
          );
      }
      if (sourceWriters.length > 0 && cloudsqlWriters.length > 0)
        report(
          `${subject} must not split writes between databases: ${sourceWriters.map(label).join(", ")} write to the source while ${cloudsqlWriters.map(label).join(", ")} write to Cloud SQL`,
          service.urn,
        );
    });
  },
});

/** Type-level marker of the phase ledger's inputs (infra/components/phase-ledger.ts). */
const isLedgerOf = (r: PolicyResource, migration: string) =>
  r.type === SPEC_RESOURCE_TYPE && r.props.cutoverLedger === "v1" && r.props.migration === migration;

export const migrationLedgerDeclared = stackPolicy({
  name: "migration-ledger-declared",
  description:
    "Every migration declares its phase ledger (a pulumi-nodejs:dynamic:Resource with cutoverLedger v1) at the phase its spec says, so the change is judged against what is deployed — skipped steps, going back after an irreversible step, decommission before its window — before anything is applied.",
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    eachSpec(args.resources, report, (found, spec) => {
      const ledgers = args.resources.filter((r) => isLedgerOf(r, spec.migration));
      if (ledgers.length !== 1) {
        report(
          `Migration ${spec.migration} must declare exactly one phase ledger, found ${ledgers.length}; hint: the program creates <migration>-ledger — without it a change is not judged against what is deployed`,
          found.resource.urn,
        );
        return;
      }
      const phase = (ledgers[0].props.position as { phase?: unknown } | undefined)?.phase;
      if (phase !== spec.phase)
        report(
          `Migration ${spec.migration} must give its ledger the phase of its spec (${spec.phase}), got ${String(phase)}`,
          ledgers[0].urn,
        );
    });
  },
});

export const migrationStableRevisionInTraffic = stackPolicy({
  name: "migration-stable-revision-in-traffic",
  description:
    "Until decommission, the stable revision stays in the Cloud Run traffic list (0% is fine), so rollback is one config change away.",
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    eachSpec(args.resources, report, (found, spec) => {
      if (spec.kind !== "cloudsql" || spec.phase === "decommission") return;
      // A missing service is reported by migration-no-split-brain; one finding is enough.
      const service = serviceOf(spec, args.resources);
      if (service === undefined) return;
      if (spec.stableRevision === undefined || spec.stableRevision === "") {
        report(
          `Migration ${spec.migration} must name its stable revision in the spec (stableRevision)`,
          found.resource.urn,
        );
        return;
      }
      if (!trafficOf(service).some((t) => t.revision === spec.stableRevision))
        report(
          `Migration ${spec.migration} must keep the stable revision ${spec.stableRevision} in the traffic list of ${spec.service} until decommission (0% is fine, under a rollback tag); hint: rollback needs it to be addressable`,
          service.urn,
        );
    });
  },
});

export const MIGRATION_POLICIES: CutoverPolicy[] = [
  migrationSpecWellFormed,
  migrationNoSplitBrain,
  migrationLedgerDeclared,
  migrationStableRevisionInTraffic,
];
