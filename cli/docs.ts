/**
 * The documentation generated from the code's tables: the README's command table, each command page's
 * usage block (the command's own --help, from the compiled bin), and the reference pages for phases,
 * transitions, config keys, policies and exit codes. `npm run docs` writes them; test/docs/generated.test.ts
 * fails when one is stale, so they cannot drift from the code.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { CloudSqlMigrationSchema } from "../infra/config/cloudsql";
import { DualWriteMigrationSchema } from "../infra/config/dual-write";
import { KINDS, type MigrationKindName } from "../infra/engine/kinds";
import type { TransitionRow } from "../infra/engine/phase-row";
import { policyCatalog } from "../policies/registry";
import { fromRoot } from "../tooling/root";
import { EXIT_CODES } from "./exit-codes";
import { COMMANDS, GROUPS, type CommandEntry } from "./table";

export const BEGIN = "<!-- generated";
export const END = "<!-- end generated -->";

/** `docs/commands/check-validate.md` for `cutover check validate`. */
export const pageOf = (c: CommandEntry): string => `docs/commands/${c.words.join("-")}.md`;

/** The README's table of commands, each linking to its page. */
export function commandTable(): string {
  return [
    "| command | what it does |",
    "|---|---|",
    ...COMMANDS.map((c) => `| [\`cutover ${c.words.join(" ")}\`](${pageOf(c)}) | ${c.summary} |`),
  ].join("\n");
}

/** The commands page's index: every command by group. */
export function commandIndex(): string {
  const out: string[] = [];
  for (const [group, title] of Object.entries(GROUPS)) {
    out.push(`**${title}**`, "");
    for (const c of COMMANDS.filter((e) => e.group === group))
      out.push(`- [\`cutover ${c.words.join(" ")}\`](${c.words.join("-")}.md): ${c.summary}`);
    out.push("");
  }
  return out.join("\n").trimEnd();
}

/** A command's --help, as the compiled bin prints it to a pipe (80 columns). */
export function helpOf(c: CommandEntry): string {
  const bin = fromRoot("dist/cli/main.js");
  if (!existsSync(bin)) throw new Error(`${bin} is missing; hint: npm run build`);
  const r = spawnSync(process.execPath, [bin, ...c.words, "--help"], {
    encoding: "utf8",
    env: { PATH: process.env.PATH },
  });
  if (r.status !== 0) throw new Error(`cutover ${c.words.join(" ")} --help exited ${r.status}: ${r.stderr}`);
  return r.stdout.trimEnd();
}

export function usageBlock(c: CommandEntry): string {
  return ["```text", `$ cutover ${c.words.join(" ")} --help`, helpOf(c), "```"].join("\n");
}

/** Every kind with its facts, in the registry's order. */
const kinds = () => Object.entries(KINDS) as [MigrationKindName, (typeof KINDS)[MigrationKindName]][];
const kindHeading = (kind: string) => ["", `## \`${kind}\``, ""];

const yesNo = (p: { ok: boolean; why?: string }) => (p.ok ? "yes" : `no: ${(p as { why: string }).why}`);

/** Per kind, each phase's row: route, gates to enter it, what it records, whether rollback or going back may leave it. */
export function phasesPage(): string {
  const out = [
    "# Phases",
    "",
    "Generated from the phase tables (`infra/engine/cloudsql-phases.ts`, `infra/engine/dual-write-phases.ts`)",
    "and the per-kind facts (`infra/engine/kinds.ts`). What each phase deploys is in the plan:",
    "`cutover plan -s <stack> --phase <phase>`.",
  ];
  for (const [kind, facts] of kinds()) {
    out.push(
      ...kindHeading(kind),
      `Ramp: phase \`${facts.ramp.phase}\`, percent in \`${facts.ramp.percentKey}\`. ` +
        `The window before decommission: ${facts.window.noun}, from the ledger's \`${facts.window.fact}\`. ` +
        `Gate checks: ${facts.checks.map((c) => `\`${c}\``).join(", ")}.` +
        (facts.defaultRoute ? ` Default route: \`${facts.defaultRoute}\`.` : ""),
      "",
      "| phase | route | gates to enter | records | rollback may leave it |",
      "|---|---|---|---|---|",
    );
    for (const phase of facts.order) {
      const row: TransitionRow = facts.rows[phase];
      const records = row.records
        ? `${row.records.facts.join(", ")}${row.records.atLastStep ? " (at the last step)" : ""}`
        : "";
      out.push(
        `| \`${phase}\` | ${row.route ?? "every"} | ${(row.gates ?? []).join(", ")} | ${records} | ${yesNo(row.rollback)} |`,
      );
    }
  }
  return out.join("\n") + "\n";
}

/** Per kind, the moves the transition judge reads from each row. */
export function transitionsPage(): string {
  const out = [
    "# Transitions",
    "",
    "Generated from the phase tables. Every door (`cutover phase`, `cutover plan --base`, the phase ledger",
    "at `pulumi preview`, `cutover advance`) judges a change of phase with the one judge",
    "(`infra/engine/transitions.ts`) reading these rows: forward one step on the migration's route (a ramp",
    "one percent step at a time), rollback from the phases that allow it, back by value only where the row",
    "says so, and a retry after rollback re-entering where the kind says.",
  ];
  for (const [kind, facts] of kinds()) {
    out.push(
      ...kindHeading(kind),
      "| phase | back to the step before, by value | rollback |",
      "|---|---|---|",
    );
    for (const phase of facts.order) {
      const row = facts.rows[phase];
      out.push(`| \`${phase}\` | ${yesNo(row.back)} | ${yesNo(row.rollback)} |`);
    }
    const retries = facts.rollbackOrigins.map((from) => {
      const at = facts.retry({ phase: "rollback", rollbackFrom: from, attempt: 1 });
      return `\`${from}\` → \`${at.phase}\`${facts.attempts ? ` (attempt ${at.attempt})` : ""}`;
    });
    out.push("", `A retry after a rollback from: ${retries.join("; ")}.`);
  }
  return out.join("\n") + "\n";
}

type JsonSchema = {
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  pattern?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  additionalProperties?: JsonSchema | boolean;
};

function typeOf(s: JsonSchema): string {
  if (s.const !== undefined) return `\`${JSON.stringify(s.const)}\``;
  if (s.enum) return s.enum.map((v) => `\`${String(v)}\``).join(" \\| ");
  if (s.anyOf || s.oneOf) return (s.anyOf ?? s.oneOf)!.map(typeOf).join(" or ");
  if (s.type === "array") return `list of ${s.items ? typeOf(s.items) : "values"}`;
  const range =
    s.minimum !== undefined || s.maximum !== undefined ? ` ${s.minimum ?? ""}…${s.maximum ?? ""}` : "";
  return `${Array.isArray(s.type) ? s.type.join("/") : (s.type ?? "any")}${range}`;
}

function rowsOf(s: JsonSchema, path: string, required: boolean, out: string[]): void {
  const def =
    s.default !== undefined && JSON.stringify(s.default) !== "{}" ? `\`${JSON.stringify(s.default)}\`` : "";
  if (path)
    out.push(`| \`${path}\` | ${typeOf(s).replace(/\|(?! )/g, "\\|")} | ${required ? "yes" : ""} | ${def} |`);
  const props = s.properties ?? (s.type === "array" ? s.items?.properties : undefined);
  const req = s.properties ? s.required : s.items?.required;
  const prefix = s.type === "array" && s.items?.properties ? `${path}[]` : path;
  for (const [k, v] of Object.entries(props ?? {}))
    rowsOf(v, prefix ? `${prefix}.${k}` : k, (req ?? []).includes(k), out);
}

/** Every key of a migration under `cutover:migrations.<name>`, per kind, from the config schema. */
export function configPage(): string {
  const out = [
    "# Config keys",
    "",
    "Generated from the stack file's schema (`infra/config/`): every key of a migration under",
    "`cutover:migrations.<name>` in `Pulumi.<stack>.yaml`, its type, whether it is required and its default.",
    "What the keys mean and how they combine: [../config.md](../config.md). Cross-field rules (e.g. `writeMove:",
    "switch` needs `validation.image`) are checked too and reported with the config path.",
  ];
  for (const [kind, schema] of [
    ["cloudsql", CloudSqlMigrationSchema],
    ["dual-write", DualWriteMigrationSchema],
  ] as const) {
    const json = z.toJSONSchema(schema, { unrepresentable: "any", io: "input" }) as JsonSchema;
    out.push("", `## \`${kind}\``, "", "| key | type | required | default |", "|---|---|---|---|");
    rowsOf(json, "", false, out);
  }
  return out.join("\n") + "\n";
}

export function policiesPage(): string {
  return (
    [
      "# Policies",
      "",
      "Generated from the policy pack's registry (`policies/registry.ts`); what each rule checks and why:",
      "[../policies.md](../policies.md). `mandatory` fails `pulumi preview` and `cutover plan` (exit 1);",
      "`advisory` is reported.",
      "",
      "| rule | level | scope | what it checks |",
      "|---|---|---|---|",
      ...policyCatalog().map(
        (p) => `| \`${p.name}\` | ${p.level} | ${p.scope} | ${p.description.replace(/\|/g, "\\|")} |`,
      ),
    ].join("\n") + "\n"
  );
}

export function exitCodesPage(): string {
  return (
    [
      "# Exit codes",
      "",
      "Generated from `cli/exit-codes.ts`; the same for every `cutover` command (`cutover help exit-codes`).",
      "",
      "| code | name | meaning |",
      "|---|---|---|",
      ...EXIT_CODES.map((e) => `| ${e.code} | ${e.name} | ${e.meaning} |`),
    ].join("\n") + "\n"
  );
}

/** Replaces the generated block of `text` (between BEGIN… and END), or appends one. */
export function withBlock(text: string, block: string, label: string): string {
  const start = text.indexOf(BEGIN);
  const fresh = `${BEGIN}: ${label}; npm run docs rewrites it -->\n${block}\n${END}`;
  if (start < 0) return `${text.trimEnd()}\n\n${fresh}\n`;
  const end = text.indexOf(END, start);
  if (end < 0) throw new Error(`a generated block opens without ${END}`);
  return text.slice(0, start) + fresh + text.slice(end + END.length);
}

/** Every generated file's path (from the project root) and content, given the current files. */
export function generatedDocs(root = fromRoot()): Map<string, string> {
  const read = (p: string) => (existsSync(join(root, p)) ? readFileSync(join(root, p), "utf8") : undefined);
  const out = new Map<string, string>();
  out.set(
    "README.md",
    withBlock(read("README.md") ?? "", commandTable(), "the command table (cli/table.ts)"),
  );
  const index = read("docs/commands/index.md") ?? "# Commands\n";
  out.set("docs/commands/index.md", withBlock(index, commandIndex(), "every command (cli/table.ts)"));
  for (const c of COMMANDS) {
    const page = pageOf(c);
    const text =
      read(page) ??
      `# \`cutover ${c.words.join(" ")}\`\n\n${c.summary[0].toUpperCase()}${c.summary.slice(1)}.\n`;
    out.set(page, withBlock(text, `## Usage\n\n${usageBlock(c)}`, `cutover ${c.words.join(" ")} --help`));
  }
  out.set("docs/reference/phases.md", phasesPage());
  out.set("docs/reference/transitions.md", transitionsPage());
  out.set("docs/reference/config.md", configPage());
  out.set("docs/reference/policies.md", policiesPage());
  out.set("docs/reference/exit-codes.md", exitCodesPage());
  return out;
}
