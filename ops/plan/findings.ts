import { evaluatePolicies } from "../../policies/evaluate";
import { UNKNOWN, type RecordedResource } from "../../tooling/synth";
import type { Finding } from "./render";

/** Runs the policy pack's own rule objects over the synthesized resources, mandatory findings first. */
export function evaluateFindings(resources: readonly RecordedResource[]): Finding[] {
  const findings = evaluatePolicies(resources, undefined, { unknownMarker: UNKNOWN });
  return findings
    .map((f) => ({ policy: f.policy, level: f.level, message: f.message, ...(f.urn ? { urn: f.urn } : {}) }))
    .sort((a, b) => (a.level === b.level ? 0 : a.level === "mandatory" ? -1 : 1));
}
