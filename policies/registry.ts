import { CLOUDRUN_POLICIES } from "./cloudrun";
import { CLOUDSQL_POLICIES } from "./cloudsql";
import { DMS_POLICIES } from "./dms";
import { MEMORYSTORE_POLICIES } from "./memorystore";
import { MIGRATION_POLICIES } from "./migration";
import { SECRETMANAGER_POLICIES } from "./secretmanager";
import { CutoverPolicy, Level } from "./support";

import packageJson from "./package.json";

/** Name and version the engine shows in findings (PolicyPack reads the version from ./package.json). */
export const PACK = { name: "cutover", version: packageJson.version } as const;

const KEBAB_CASE = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/**
 * Merges rule groups into one list: names must be kebab-case and unique (the engine keys config and
 * findings by name), and the order is by name so findings and docs do not shuffle between runs.
 */
export function registerPolicies(groups: CutoverPolicy[][]): CutoverPolicy[] {
  const all = groups.flat();
  const bad = all.filter((p) => !KEBAB_CASE.test(p.name) || p.name === "all").map((p) => p.name);
  if (bad.length > 0)
    throw new Error(`policy names must be kebab-case and not "all": ${bad.map((n) => `"${n}"`).join(", ")}`);
  const names = all.map((p) => p.name);
  const duplicates = [...new Set(names.filter((n, i) => names.indexOf(n) !== i))];
  if (duplicates.length > 0)
    throw new Error(
      `policy names must be unique; registered twice: ${duplicates.join(", ")}; hint: rename one of them`,
    );
  return [...all].sort((a, b) => a.name.localeCompare(b.name));
}

/** Every rule of the pack, in stable (name) order. */
export const POLICIES: CutoverPolicy[] = registerPolicies([
  CLOUDSQL_POLICIES,
  MEMORYSTORE_POLICIES,
  CLOUDRUN_POLICIES,
  SECRETMANAGER_POLICIES,
  DMS_POLICIES,
  MIGRATION_POLICIES,
]);

export interface PolicySummary {
  name: string;
  level: Level;
  scope: "resource" | "stack";
  description: string;
}

/** The pack as a table (the README is checked against it). */
export function policyCatalog(policies: CutoverPolicy[] = POLICIES): PolicySummary[] {
  return policies.map((p) => ({
    name: p.name,
    level: p.enforcementLevel,
    scope: "validateStack" in p ? "stack" : "resource",
    description: p.description,
  }));
}
