/** The stacks a stack follows (prod follows staging), and where each stands, for the leader rule. */
import { CONFIG_KEY } from "../../infra/config/common";
import { deployedFromGit, deployedFromOutputs, type DeployedSide } from "../../tooling/deployed";
import { readStackConfig, StackFileError } from "../../tooling/stack-file";

/**
 * Where each stack this one follows stands: its outputs (`--leader-deployed`), else its file at the
 * base ref. Neither: not judged offline (the ledger judges it at preview with a StackReference).
 */
export function leadersOf(
  stack: string,
  base: string | undefined,
  leaderDeployed: string | undefined,
): Record<string, DeployedSide> {
  const migrations = (readStackConfig(stack).config[CONFIG_KEY] ?? {}) as Record<
    string,
    { follows?: unknown }
  >;
  const names = [
    ...new Set(Object.values(migrations).flatMap((m) => (typeof m?.follows === "string" ? [m.follows] : []))),
  ];
  if (leaderDeployed !== undefined && names.length === 0)
    throw new StackFileError(
      `--leader-deployed: no migration of ${stack} follows another stack; hint: set follows: <stack> on its migrations, or drop the flag`,
    );
  const out: Record<string, DeployedSide> = {};
  for (const leader of names) {
    if (leaderDeployed !== undefined) out[leader] = deployedFromOutputs(leaderDeployed);
    else if (base !== undefined) out[leader] = deployedFromGit(leader, base);
  }
  return out;
}
