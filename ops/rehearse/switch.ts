/**
 * The switch as the rehearsal runs it (writeMove: switch), with the program's own parts: the freeze job's
 * code (ops/replication/switch-freeze.ts) inside the same bound (infra/replication/switch.ts), then
 * DMS's promote (its documented minutes waited), the migrate job's work and the candidate's smoke. What
 * the program does with Cloud Run Jobs and REST, this does in-process against the stand-in.
 */
import type { MeasuredWork } from "../../infra/engine/window";
import { runSwitch, SwitchError, type TermTiming } from "../../infra/replication/switch";
import type { LogicalOptions } from "../replication/logical";
import { thawSource } from "../replication/source-freeze";
import { switchFreeze } from "../replication/switch-freeze";

export interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface RehearsedSwitchInput {
  readonly mode: "dms" | "logical";
  readonly sourceUrl: string;
  readonly destinationUrl: string;
  /** The app's role on the source (the one frozen). */
  readonly role: string;
  readonly tables: readonly string[];
  readonly deadlineSeconds: number;
  /** The logical path's replication (its stop is the promotion). */
  readonly logical?: LogicalOptions;
  /** DMS's promote: waits its modelled seconds, then stops the stand-in's replication. */
  readonly dmsPromote: () => Promise<void>;
  readonly dmsWaitSeconds: number;
  /** The migrate job's work: the post-promotion SQL and the app's schema command. */
  readonly migrate: () => Promise<void>;
  readonly smoke: () => Promise<Check>;
  /** Called when the promotion has happened (the stop, or DMS's promote). */
  readonly promoted: () => void;
  readonly log?: (line: string) => void;
}

export interface RehearsedSwitch {
  /** validate, smoke, then the switch's own line. */
  readonly checks: readonly Check[];
  /** The freeze job's terms, then the switch's. */
  readonly terms: readonly TermTiming[];
  readonly totalMs: number;
  readonly measured: MeasuredWork;
  readonly validation: { readonly identical: boolean; readonly detail: string };
}

/** Runs the switch; a failed or overrun term thaws the source and throws (the SwitchError). */
export async function rehearseSwitch(i: RehearsedSwitchInput): Promise<RehearsedSwitch> {
  const checks: Check[] = [];
  let inner: TermTiming[] = [];
  let validation = { identical: false, detail: "not validated" };
  const freezeJob = async () => {
    try {
      const r = await switchFreeze({
        mode: i.mode,
        source: i.sourceUrl,
        validateTarget: i.destinationUrl,
        role: i.role,
        tables: i.tables,
        schema: "public",
        deadlineSeconds: i.deadlineSeconds,
        ...(i.logical ? { logical: i.logical } : {}),
      });
      inner = [...r.terms];
      if (i.mode === "logical") i.promoted();
      validation = { identical: true, detail: `${r.terms.at(-1)?.detail ?? ""}, after the freeze` };
      checks.push({ name: "validate", ok: true, detail: validation.detail });
      return r.terms.map((t) => `${t.name} ${t.ms} ms`).join(", ");
    } catch (error) {
      if (error instanceof SwitchError && error.term === "validation") {
        validation = { identical: false, detail: (error.cause as Error)?.message ?? error.message };
        checks.push({ name: "validate", ok: false, detail: validation.detail });
      }
      throw error;
    }
  };
  const terms = [
    ...(i.mode === "dms"
      ? [
          {
            name: "promotion",
            run: async () => {
              await i.dmsPromote();
              i.promoted();
              return `DMS promote (${i.dmsWaitSeconds} s modelled)`;
            },
          },
        ]
      : []),
    {
      name: "post-promotion steps and schema command",
      run: async () => {
        await i.migrate();
        return "grant, sequences, materialized views, then the schema command";
      },
    },
    {
      name: "candidate smoke",
      run: async () => {
        const c = await i.smoke();
        checks.push(c);
        if (!c.ok) throw new Error(`${c.name}: ${c.detail}`);
        return c.detail;
      },
    },
  ];
  const result = await runSwitch({
    deadlineSeconds: i.deadlineSeconds,
    freeze: freezeJob,
    terms,
    thaw: () => thawSource(i.sourceUrl, i.role),
    ...(i.log ? { log: i.log } : {}),
  });
  const all = [...inner, ...result.terms.slice(1)];
  const seconds = (ts: readonly TermTiming[], names: string[]) =>
    ts.filter((t) => names.includes(t.name)).reduce((sum, t) => sum + t.ms, 0) / 1000;
  checks.push({
    name: "switch",
    ok: true,
    detail: `${all.map((t) => `${t.name} ${t.ms} ms`).join(", ")}; ${result.totalMs} ms in all`,
  });
  return {
    checks,
    terms: all,
    totalMs: result.totalMs,
    validation,
    measured: {
      freezeGateSeconds: seconds(inner, ["freeze the source", "replication at the marker", "validation"]),
      // DMS's promote waits its modelled term: the projection adds it, not the work.
      promoteWorkSeconds: Math.max(
        0,
        seconds(inner, ["promotion"]) +
          seconds(result.terms, ["promotion", "post-promotion steps and schema command"]) -
          i.dmsWaitSeconds,
      ),
      smokeSeconds: seconds(result.terms, ["candidate smoke"]),
    },
  };
}
