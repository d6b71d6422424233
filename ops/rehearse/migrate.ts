/**
 * The built-in app's schema migration (its `prisma migrate deploy`): the rehearsal runs it on the source
 * before the walk and, after promotion, with the migrate job's env, as the real migrate job would.
 */
import { Client } from "pg";
import { CHAT_SCHEMA } from "./schema";

async function main(): Promise<void> {
  const url = process.env.DIRECT_URL ?? process.env.DATABASE_URL;
  if (!url) throw new Error("DIRECT_URL or DATABASE_URL must be set");
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(CHAT_SCHEMA);
  } finally {
    await c.end();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`migrate: ${(error as Error).message}\n`);
  process.exit(1);
});
