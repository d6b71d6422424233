/**
 * JSON with sorted keys, for the dynamic providers' diffs: state read back from the engine need not keep
 * the key order of the inputs. Pure, no imports: the closure serializer copies it with the provider.
 */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
}
