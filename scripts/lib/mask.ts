/**
 * Credential masking shared by every script: nothing a script prints may contain a password or token,
 * whether it comes from a URL we were given or from an error message a driver built out of one.
 */

export const MASK = "***";

/** `scheme://user:secret@host` → `scheme://user:***@host`; also `scheme://secret@host` (Redis style). */
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/@]*)@/gi;

/** Masks the password (or lone token) in a URL; leaves a URL without credentials untouched. */
export function maskUrl(url: string): string {
  return url.replace(URL_CREDENTIALS, (_m, scheme: string, userinfo: string) => {
    const colon = userinfo.indexOf(":");
    if (colon < 0) return `${scheme}${userinfo ? MASK : ""}@`;
    return `${scheme}${userinfo.slice(0, colon)}:${MASK}@`;
  });
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
