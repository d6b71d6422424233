import type { CloudSqlPlan } from "../../infra/engine/cloudsql";
import type { MigrationPlan } from "../../infra/engine/plan";
import { positionLabel, samePosition, type Transition } from "../../infra/engine/transitions";
import type { RecordedResource } from "../../tooling/synth";
import { destructiveChanges, type PlanDiff } from "../../tooling/plan-diff";
import type { FirstRunNote } from "./first-run";
import type { MigrationReport, PlanReport } from "./run";

/** A finding of the policy pack, as the plan prints it. */
export interface Finding {
  readonly policy: string;
  readonly level: "mandatory" | "advisory";
  readonly urn?: string;
  readonly message: string;
}

/** Every kind's plan carries these two lists. */
const notes = (p: MigrationPlan) =>
  p.plan as unknown as { readonly irreversible: readonly string[]; readonly warnings: readonly string[] };

const pad = (s: string, n: number) => (s.length >= n ? s : s + " ".repeat(n - s.length));

function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map(
    (r) =>
      "    " +
      r
        .map((c, i) => pad(c, widths[i]))
        .join("  ")
        .trimEnd(),
  );
}

function phaseLabel(p: MigrationPlan): string {
  const { spec } = p;
  if (spec.kind === "cloudsql") {
    const extra =
      spec.phase === "canary"
        ? ` ${spec.trafficPercent}%`
        : spec.phase === "rollback"
          ? ` from ${spec.rollbackFrom}`
          : "";
    return `${spec.phase}${extra} · attempt ${spec.attempt}`;
  }
  return `${spec.phase}${spec.phase === "read-switch" ? ` ${spec.readPercent}%` : ""}`;
}

function trafficTable(plan: CloudSqlPlan, writeBlock: string): string[] {
  const rows = [["REVISION", "PERCENT", "TAG", "DATABASE", "WRITES", "REDIS"]];
  for (const t of plan.traffic) {
    const r = plan.revisions.find((x) => x.name === t.revision);
    rows.push([
      t.revision + (plan.template.name === t.revision ? " *" : ""),
      `${t.percent}%`,
      t.tag ?? "-",
      r?.database === "cloudsql" ? "Cloud SQL" : "source",
      r?.writes === false ? `off (${writeBlock})` : "on",
      r?.redis ? "yes" : "no",
    ]);
  }
  return [...table(rows), "    * the revision the service template declares in this phase"];
}

function resourcesByComponent(resources: readonly RecordedResource[]): string[] {
  const components = resources.filter((r) => !r.custom);
  const byUrn = new Map(components.map((c) => [c.urn, c]));
  const lines: string[] = [];
  const groups = new Map<string, RecordedResource[]>();
  for (const r of resources.filter((x) => x.custom)) {
    const parent = r.parent && byUrn.get(r.parent);
    const key = parent ? `${parent.type.split(":").pop()} ${parent.name}` : "(top level)";
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  for (const [group, members] of [...groups].sort(([a], [b]) => a.localeCompare(b))) {
    lines.push(`    ${group}`);
    for (const r of members) {
      const flags = [
        r.protect ? "protect" : "",
        r.ignoreChanges.length ? `ignoreChanges: ${r.ignoreChanges}` : "",
      ]
        .filter(Boolean)
        .join(", ");
      const label = r.type === "pulumi-nodejs:dynamic:Resource" ? "dynamic" : r.type;
      lines.push(`      ${pad(label, 58)} ${r.name}${flags ? `  [${flags}]` : ""}`);
    }
  }
  return lines;
}

function migrationSection(m: MigrationReport): string[] {
  const { planned } = m;
  const lines = [`${m.name} (${planned.spec.kind}) — phase ${phaseLabel(planned)}`];
  lines.push(
    `  Resources (${m.resources.filter((r) => r.custom).length})`,
    ...resourcesByComponent(m.resources),
  );
  if (planned.plan.kind === "cloudsql" && planned.spec.kind === "cloudsql") {
    if (planned.plan.resources.cloudSql)
      lines.push(
        "  Cloud SQL database (the one DMS migrates, under the source's name)",
        `    DATABASE_URL, DIRECT_URL → ${planned.plan.databaseUrlShown}`,
      );
    lines.push(
      "  Traffic",
      ...trafficTable(
        planned.plan,
        `${planned.spec.cloudRun.writeBlock.name}=${planned.spec.cloudRun.writeBlock.value}`,
      ),
    );
  }
  const extra = kindDetails(planned);
  if (extra.length) lines.push(...extra);
  lines.push("  Secrets wiring");
  const refs = m.secrets.filter((s) => s.env);
  const grants = m.secrets.filter((s) => s.accessor);
  if (refs.length === 0 && grants.length === 0) lines.push("    (none declared in this phase)");
  for (const s of refs)
    lines.push(`    ${pad(s.env!, 26)} ← secretKeyRef ${s.secret}@${s.version ?? "latest"}  (${s.revision})`);
  for (const s of grants) lines.push(`    accessor ${s.accessor} on ${s.secret}`);
  const secretInputs = m.resources.filter((r) => r.secretPaths.length > 0);
  for (const r of secretInputs)
    lines.push(`    Pulumi secret inputs of ${r.name}: ${r.secretPaths.join(", ")}`);
  lines.push("  Warnings");
  const warnings = notes(planned).warnings;
  lines.push(...(warnings.length ? warnings.map((w) => `    - ${w}`) : ["    (none)"]));
  return lines;
}

/** Dual-write details (flags, D1, soak) when the plan carries them. */
function kindDetails(planned: MigrationPlan): string[] {
  const plan = planned.plan as unknown as {
    flags?: Record<string, unknown>;
    flagsFloor?: Record<string, unknown>;
    d1?: { name: string; binding: string; locationHint: string; readReplication: string; retired: boolean }[];
    soak?: { finalCutAt: string; until: string; remainingHours: number };
    capture?: { state: string; tables: number; steps: string[] };
    compare?: { state: string; cron: string; sample: number; steps: string[] };
    turnsOff?: { newStores: string[]; legacy: string[] };
  };
  const lines: string[] = [];
  if (plan.capture && plan.capture.state !== "off")
    lines.push(
      `  Change capture (legacy → new stores, ${plan.capture.tables} tables): ${plan.capture.state}`,
      ...plan.capture.steps.map((s) => `    $ ${s}`),
    );
  if (plan.compare && plan.compare.state !== "off")
    lines.push(
      plan.compare.state === "on"
        ? `  Comparison Worker (${plan.compare.sample} random keys per table, cron "${plan.compare.cron}"): on`
        : "  Comparison Worker: remove (the stores part by design from the final cut on)",
      ...plan.compare.steps.map((s) => `    $ ${s}`),
    );
  if (plan.turnsOff)
    lines.push(
      "  Decommission, new stores",
      ...plan.turnsOff.newStores.map((s, i) => `    ${i + 1}. ${s}`),
      "  Decommission, legacy",
      ...plan.turnsOff.legacy.map((s, i) => `    ${i + 1}. ${s}`),
    );
  if (plan.flags) lines.push("  Flags (Workers KV)", `    ${JSON.stringify(plan.flags)}`);
  if (plan.flagsFloor)
    lines.push(
      "  Floor the Workers fall back to (deploy them with it: CUTOVER_FLAGS_FLOOR)",
      `    ${JSON.stringify(plan.flagsFloor)}`,
    );
  if (plan.d1 && plan.d1.length)
    lines.push(
      "  D1 databases",
      ...table([
        ["NAME", "BINDING", "LOCATION", "READ REPLICATION", "RETIRED"],
        ...plan.d1.map((d) => [
          d.name,
          d.binding,
          d.locationHint,
          d.readReplication,
          d.retired ? "yes" : "no",
        ]),
      ]),
    );
  if (plan.soak)
    lines.push(
      "  Soak before decommission",
      `    final cut ${plan.soak.finalCutAt}; decommission allowed from ${plan.soak.until}` +
        (plan.soak.remainingHours > 0 ? ` (${plan.soak.remainingHours} h left)` : " (window over)"),
    );
  return lines;
}

function findingLines(findings: readonly Finding[]): string[] {
  if (findings.length === 0) return ["Policy findings: none"];
  return [
    `Policy findings (${findings.filter((f) => f.level === "mandatory").length} mandatory, ${findings.filter((f) => f.level === "advisory").length} advisory)`,
    ...findings.map(
      (f) => `  [${f.level}] ${f.policy}: ${f.message}${f.urn ? `  (${f.urn.split("::").pop()})` : ""}`,
    ),
  ];
}

/** One migration's transition: allowed (with what it records) or refused (the full message). */
export function transitionLines(name: string, t: Transition): string[] {
  const step = `${positionLabel(t.from, t.from.attempt !== t.to.attempt)} → ${positionLabel(t.to, t.from.attempt !== t.to.attempt)}`;
  if (!t.allowed) return [`  ✗ REFUSED ${t.message}`];
  const unchanged = samePosition(t.from, t.to);
  const lines = [
    `  ✓ ${name}: ${unchanged ? `stays at ${positionLabel(t.from)}` : step}${t.records ? ` (the ledger records: ${t.records.join(", ")})` : ""}`,
  ];
  if (t.note) lines.push(`      note: ${t.note}`);
  return lines;
}

/** The evidence lines of a gated step: each check passing, or what is missing and the command that writes it. */
function gateLines(m: MigrationReport): string[] {
  return (m.gates ?? []).map((g) =>
    g.problem
      ? `      gate: ✗ ${g.check} evidence taken at ${g.at}: ${g.problem}; hint: ${g.command}`
      : `      gate: ✓ ${g.check} passed at ${g.at} on ${g.evidence!.at}: ${g.evidence!.summary}`,
  );
}

/** The plan as text: transitions and irreversible steps first (PR comments get truncated), then each migration. */
export function renderPlan(
  report: PlanReport,
  findings: readonly Finding[],
  deployedFrom?: string,
  firstRun: readonly FirstRunNote[] = [],
): string {
  const lines = [
    `cutover plan — stack ${report.stack} (${report.path}), offline on Pulumi's mock runtime`,
    "",
  ];
  const judged = report.migrations.filter((m) => m.transition);
  if (judged.length) {
    const refused = judged.filter((m) => !m.transition!.allowed).length;
    lines.push(
      `${refused ? "TRANSITIONS REFUSED" : "Transitions"} (deployed: ${deployedFrom ?? "?"})`,
      ...judged.flatMap((m) => [...transitionLines(m.name, m.transition!), ...gateLines(m)]),
      "",
    );
  }
  const irreversible = report.migrations.flatMap((m) =>
    notes(m.planned).irreversible.map((s) => `${m.name}: ${s}`),
  );
  lines.push(irreversible.length ? "IRREVERSIBLE STEPS" : "Irreversible steps: none");
  lines.push(...irreversible.map((s) => `  ! ${s}`), "");
  lines.push(...findingLines(findings), "");
  if (firstRun.length)
    lines.push(
      "BEFORE THE FIRST REAL PULUMI UP",
      ...firstRun.flatMap((n) => [`  ! ${n.what}`, `      hint: ${n.hint}`]),
      "",
    );
  for (const m of report.migrations) lines.push(...migrationSection(m), "");
  return lines.join("\n");
}

const show = (v: unknown) => (v === undefined ? "(absent)" : JSON.stringify(v));

/** The diff as text: the transition, its irreversible steps, then added, removed, changed inputs. */
export function renderDiff(
  from: string,
  to: string,
  migration: string,
  diff: PlanDiff,
  step?: { transition: Transition; irreversible: readonly string[] },
): string {
  const lines = [`cutover diff — ${migration}: ${from} → ${to}`, ""];
  if (step) {
    lines.push(
      step.transition.allowed ? "Transition: allowed" : "TRANSITION REFUSED",
      ...transitionLines(migration, step.transition),
    );
    lines.push(step.irreversible.length ? "IRREVERSIBLE STEPS" : "Irreversible steps: none");
    lines.push(...step.irreversible.map((s) => `  ! ${s}`), "");
  }
  const destructive = destructiveChanges(diff);
  if (destructive.length)
    lines.push(
      "DESTROYS STATE (deletion protection will stop it):",
      ...destructive.map((d) => `  ! ${d}`),
      "",
    );
  if (!diff.added.length && !diff.removed.length && !diff.changed.length) lines.push("No changes.");
  for (const r of diff.added) lines.push(`+ ${r.type} ${r.name}`);
  for (const r of diff.removed) lines.push(`- ${r.type} ${r.name}`);
  for (const c of diff.changed) {
    const replace = c.replaces.length ? `  REPLACES (${c.replaces.join(", ")})` : "";
    lines.push(`~ ${c.type} ${c.name}${replace}`);
    for (const ch of c.changes) lines.push(`    ${ch.path}: ${show(ch.before)} → ${show(ch.after)}`);
  }
  return lines.join("\n");
}
