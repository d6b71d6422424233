/** Workers KV through Cloudflare's API (the official client): a namespace by title, one value by key. */
import type Cloudflare from "cloudflare";

/** The id of the namespace titled `title`, or undefined when the account has none. */
export async function findNamespaceId(
  client: Cloudflare,
  accountId: string,
  title: string,
): Promise<string | undefined> {
  for await (const ns of client.kv.namespaces.list({ account_id: accountId })) {
    if (ns.title === title) return ns.id;
  }
  return undefined;
}

/** The value at `key`, or null when there is none (404). */
export async function readKvValue(
  client: Cloudflare,
  accountId: string,
  namespaceId: string,
  key: string,
): Promise<string | null> {
  try {
    const response = await client.kv.namespaces.values.get(key, {
      account_id: accountId,
      namespace_id: namespaceId,
    });
    return await response.text();
  } catch (error) {
    if ((error as { status?: number }).status === 404) return null;
    throw error;
  }
}
