import { evaluatePolicies, PolicyFinding } from "../../policies/evaluate";
import { ABSENT, changed, compliantStack, UNKNOWN } from "./fixtures";

/** One change to the compliant stack and the finding it must produce. */
export interface Case {
  rule: string;
  /** Pulumi name of the resource to change. */
  resource: string;
  path: string;
  value: unknown;
  /** A stable part of the expected message. */
  expect: string;
  level?: "mandatory" | "advisory";
  stack?: string;
}

const SENTINELS = new Set<unknown>(Object.values(UNKNOWN));

/** A readable test title for a case's value. */
export function describeValue(value: unknown): string {
  if (value === ABSENT) return "absent";
  if (SENTINELS.has(value)) return "unknown at preview";
  return JSON.stringify(value);
}

export const titled = (cases: Case[]) =>
  cases.map((c) => ({ ...c, title: `${c.path} ${describeValue(c.value)}` }));

export function findingsOf(c: Case): PolicyFinding[] {
  const stack = changed(compliantStack(c.stack), c.resource, c.path, c.value);
  return evaluatePolicies(stack).filter((f) => f.policy === c.rule);
}

/** Asserts the case yields exactly one finding of the rule, at the expected level, with the expected text. */
export function expectSingleFinding(c: Case): PolicyFinding {
  const findings = findingsOf(c);
  expect(findings).toHaveLength(1);
  expect(findings[0].message).toContain(c.expect);
  expect(findings[0].level).toBe(c.level ?? "mandatory");
  return findings[0];
}
