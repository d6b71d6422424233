/**
 * The app a cloudsql rehearsal runs: the built-in one, or the user's own (`--app-cmd` and the flags that
 * describe its schema command, seed, write and read requests and where a write lands).
 */
import * as fs from "node:fs";
import { UsageError } from "../shell";
import { BUILT_IN_APP, type AppUnderTest } from "../../ops/rehearse/run";

export interface AppFlags {
  readonly appCmd?: string;
  readonly schemaCmd?: string;
  readonly seedSql?: string;
  readonly write?: string;
  readonly writeBody?: string;
  readonly read?: string;
  readonly ack?: string;
}

/** The app under test: the built-in one, or the user's with every piece the rehearsal needs named. */
export function appOf(opts: AppFlags): AppUnderTest {
  const own = [opts.appCmd, opts.schemaCmd, opts.seedSql, opts.write, opts.writeBody, opts.read, opts.ack];
  if (opts.appCmd === undefined) {
    if (own.some((o) => o !== undefined))
      throw new UsageError(
        "--schema-cmd, --seed-sql, --write, --write-body, --read and --ack describe your own app",
        "add --app-cmd <command that starts it>, or drop them to rehearse with the built-in app",
      );
    return BUILT_IN_APP;
  }
  const missing = (
    [
      ["--schema-cmd", opts.schemaCmd],
      ["--write", opts.write],
      ["--ack", opts.ack],
    ] as const
  ).filter(([, v]) => v === undefined);
  if (missing.length)
    throw new UsageError(
      `--app-cmd needs ${missing.map(([f]) => f).join(", ")}: how its schema is made, which request writes, and where a write lands`,
      'e.g. --schema-cmd "npx prisma migrate deploy" --write "POST /api/messages" --write-body \'{"clientId":"{{id}}","text":"hi"}\' --ack ChatMessage.clientId',
    );
  const write = /^([A-Z]+) (\/\S*)$/.exec(opts.write!);
  if (!write)
    throw new UsageError(
      `--write ${opts.write}: expected "<METHOD> <path>"`,
      'e.g. --write "POST /api/messages"',
    );
  const ack = /^([^.]+)\.([^.]+)$/.exec(opts.ack!);
  if (!ack)
    throw new UsageError(`--ack ${opts.ack}: expected <table>.<column>`, "e.g. --ack ChatMessage.clientId");
  const body = opts.writeBody ?? '{"id":"{{id}}"}';
  if (!body.includes("{{id}}"))
    throw new UsageError("--write-body must carry {{id}}: it is how the rehearsal finds each write again");
  return {
    command: opts.appCmd,
    schemaCommand: opts.schemaCmd!,
    ...(opts.seedSql !== undefined ? { seedSql: fs.readFileSync(opts.seedSql, "utf8") } : {}),
    traffic: {
      write: { method: write[1], path: write[2], body },
      ...(opts.read !== undefined ? { read: opts.read } : {}),
    },
    ack: { table: ack[1], column: ack[2] },
  };
}
