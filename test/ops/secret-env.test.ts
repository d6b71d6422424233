/**
 * One registry of the environment variables that can hold a credential (`SECRET_ENV`): every command's
 * errors mask their values, whether or not the command itself reads them.
 */
import { secretsOfEnv, SECRET_ENV } from "../../ops/lib/mask";
import { runCutover } from "../support/cli";

it("collects URL passwords and whole tokens, and nothing from unset or short values", () => {
  const env = {
    SOURCE_DATABASE_URL: "postgres://app:S3cret-Pass@db.example.co:5432/postgres",
    DATABASE_URL: "short",
    TARGET_DATABASE_URL: "a-password-pasted-here",
    SMOKE_ADMIN_TOKEN: "adm-7781-token",
    GOOGLE_OAUTH_ACCESS_TOKEN: "ya29.abc",
    UNRELATED: "not-a-secret-at-all",
  };
  expect(secretsOfEnv(env).sort()).toEqual(
    ["S3cret-Pass", "a-password-pasted-here", "adm-7781-token", "ya29.abc"].sort(),
  );
  // The tokens the advance command reads are in it (issue: it read two it did not mask).
  for (const name of [
    "SMOKE_ADMIN_TOKEN",
    "ADMIN_STATUS_TOKEN",
    "GOOGLE_OAUTH_ACCESS_TOKEN",
    "CLOUDSDK_AUTH_ACCESS_TOKEN",
  ])
    expect(SECRET_ENV.tokens).toContain(name);
});

it("a command that declares no secret of its own still masks the registry's in its errors", async () => {
  const token = "tok-5521-never-printed";
  // The stack flag is where the token lands in the message (pasted from the wrong place).
  const run = await runCutover(["phase", "next", "-s", token], { SMOKE_ADMIN_TOKEN: token });
  expect(run.code).toBe(2);
  expect(run.stderr).toContain("hint: cutover phase next -s *** -m <migration>");
  expect(run.stdout + run.stderr).not.toContain(token);
});
