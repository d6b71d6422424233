/**
 * Removes credentials from anything printed: the password in `scheme://user:password@host`, and
 * `password=`/`token=`-style query parameters. (A private helper: scripts/lib/mask.ts did not exist yet.)
 */
export function maskSecrets(text: string): string {
  return (
    text
      // Greedy up to the last '@' before the host, so an unencoded '@' in a password is masked too.
      .replace(/([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*):\S*@(?=[^@\s/]*(?:[/?#\s]|$))/gi, "$1:***@")
      .replace(/([?&](?:password|pass|pwd|token|api_?key|secret|sslpassword)=)[^&\s]*/gi, "$1***")
  );
}
