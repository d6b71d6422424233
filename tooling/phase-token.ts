/** A phase as the command line writes it, parsed without loading the stack file's parser or schema. */
import { StackFileError } from "./stack-file-error";

/** A phase as written on the command line: `canary`, `canary:50` (percent) or `rollback:canary` (from). */
export interface PhaseChoice {
  readonly phase: string;
  readonly percent?: number;
  readonly from?: string;
}

export function parsePhaseToken(token: string): PhaseChoice {
  const [phase, arg, extra] = token.split(":");
  if (!phase || extra !== undefined)
    throw new StackFileError(`invalid phase "${token}"; hint: e.g. canary:50 or rollback:canary`);
  if (arg === undefined) return { phase };
  if (phase === "rollback") {
    if (!/^[a-z][a-z-]*$/.test(arg))
      throw new StackFileError(
        `invalid phase "${token}": rollback takes the phase it leaves after the colon; hint: e.g. rollback:canary`,
      );
    return { phase, from: arg };
  }
  if (!/^[0-9]+$/.test(arg))
    throw new StackFileError(
      `invalid phase "${token}": expected ${phase}:<percent>, a whole number such as ${phase}:50 (only rollback takes a phase after the colon); hint: e.g. canary:50 or read-switch:10`,
    );
  return { phase, percent: Number(arg) };
}
