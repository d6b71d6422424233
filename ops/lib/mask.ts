/**
 * Credential masking shared by every script: nothing a script prints may contain a password or token,
 * whether it comes from a URL we were given, a query parameter, or an error message a driver built out
 * of one.
 */

export const MASK = "***";

/**
 * `scheme://user:secret@host` → `scheme://user:***@host`: greedy up to the last '@' before the host, so an
 * unencoded '@' inside a password is masked too.
 */
const URL_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*):\S*@(?=[^@\s/]*(?:[/?#\s]|$))/gi;
/** `scheme://secret@host` (Redis style: a lone token, no user). */
const URL_TOKEN = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/:@]+)@/gi;
/** `?password=…`, `&token=…` and alike in URLs. */
const QUERY_SECRET = /([?&](?:password|pass|pwd|token|api_?key|secret|sslpassword)=)[^&\s]*/gi;

/** Masks the password (or lone token) and secret query parameters in URLs; leaves the rest untouched. */
export function maskUrl(text: string): string {
  return text
    .replace(URL_PASSWORD, `$1:${MASK}@`)
    .replace(URL_TOKEN, (_m, scheme: string) => `${scheme}${MASK}@`)
    .replace(QUERY_SECRET, `$1${MASK}`);
}

/** Collects the secrets hidden in a URL (password, decoded and raw) so they can be masked anywhere. */
export function secretsOfUrl(url: string | undefined): string[] {
  if (!url) return [];
  const match = /^[a-z][a-z0-9+.-]*:\/\/([^\s/@]*)@/i.exec(url);
  if (!match) return [];
  const userinfo = match[1];
  const colon = userinfo.indexOf(":");
  const raw = colon < 0 ? userinfo : userinfo.slice(colon + 1);
  if (!raw) return [];
  let decoded = raw;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    // keep the raw form only
  }
  return [...new Set([raw, decoded])];
}

/**
 * Masks URL credentials and every given secret value in free text (error messages included).
 * Longest secrets first, so a secret containing another is masked whole.
 */
export function maskText(text: string, secrets: readonly (string | undefined)[] = []): string {
  let out = maskUrl(text);
  const values = secrets.filter((s): s is string => !!s && s.length >= 3).sort((a, b) => b.length - a.length);
  for (const value of values) out = out.split(value).join(MASK);
  return out;
}

/**
 * Every environment variable the tool reads that can hold a credential, in one place: a URL (its
 * password is masked) or a token (masked whole). `runMain` masks all of them in every error of every
 * command, whatever the command declares on top.
 */
export const SECRET_ENV = {
  urls: [
    "SOURCE_DATABASE_URL",
    "TARGET_DATABASE_URL",
    "VALIDATE_TARGET_URL",
    "LEGACY_DATABASE_URL",
    "SUBSCRIBER_CONNECTION",
    "DATABASE_URL",
    "DIRECT_URL",
    "REDIS_URL",
    "SOURCE_URL",
    "DESTINATION_URL",
  ],
  tokens: [
    "CLOUDFLARE_API_TOKEN",
    "SMOKE_ADMIN_TOKEN",
    "ADMIN_STATUS_TOKEN",
    "GOOGLE_OAUTH_ACCESS_TOKEN",
    "CLOUDSDK_AUTH_ACCESS_TOKEN",
    "CUTOVER_EVIDENCE_SIGNING_KEY",
    "PGPASSWORD",
    "SOURCE_PASSWORD",
    "LEGACY_DATABASE_PASSWORD",
    "TARGET_DATABASE_PASSWORD",
  ],
} as const;

/** The secret values the environment holds under the registry's names (URL passwords, whole tokens). */
export function secretsOfEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  return [
    ...SECRET_ENV.urls.flatMap((name) => {
      const value = env[name];
      if (!value) return [];
      // A password pasted where a URL belongs is masked whole (long enough not to mask ordinary words).
      return /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? secretsOfUrl(value) : value.length >= 8 ? [value] : [];
    }),
    ...SECRET_ENV.tokens.map((name) => env[name]).filter((v): v is string => !!v),
  ];
}
