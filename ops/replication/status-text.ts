/** `cutover replication status` in words: the subscription, each table's state, the lag and the errors. */
import type { LogicalStatus } from "./logical";

export function describeStatus(status: LogicalStatus): string {
  const ready = status.tables.filter((t) => t.state === "ready").length;
  const lines = [
    `subscription ${status.subscription ? (status.enabled ? "enabled" : "DISABLED") : "absent"}, publication ${status.publication ? "present" : "absent"}`,
    `tables: ${ready} of ${status.tables.length} streaming${status.tables
      .filter((t) => t.state !== "ready")
      .slice(0, 10)
      .map((t) => `; ${t.table} ${t.state}`)
      .join("")}`,
    `lag: ${status.lagBytes === null ? "no slot" : `${status.lagBytes} bytes`}; errors: ${status.errors}`,
  ];
  if (status.insertOnly.length)
    lines.push(
      `insert-only (no replica identity: updates and deletes do not arrive): ${status.insertOnly.join(", ")}`,
    );
  return lines.join("\n") + "\n";
}
