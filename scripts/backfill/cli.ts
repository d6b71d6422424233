import { ConfigError } from "../../infra/config/load";
import { UsageError } from "./stack";

/** Hides the password of any `scheme://user:password@host` inside a message. */
export function maskCredentials(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/[^:/@\s]+):[^@\s]*@/gi, "$1:***@");
}

/**
 * Runs a command's main function: operator mistakes (usage, config) print their message and exit 2,
 * anything else prints its message (credentials masked) and exits 1.
 */
export function runMain(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      const known = error instanceof UsageError || error instanceof ConfigError;
      const text = error instanceof Error ? error.message : String(error);
      process.stderr.write(`error: ${maskCredentials(text)}\n`);
      process.exit(known ? 2 : 1);
    },
  );
}
