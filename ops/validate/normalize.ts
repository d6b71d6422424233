/**
 * Value normalization on the Node side (values read from D1/SQLite) and the row encoding shared with
 * the SQL built in `pg-sql.ts`. Both sides must produce byte-identical row text for equal data; the
 * mapping is documented in the README (cutover check validate) and pinned by tests against a real PostgreSQL.
 */
import { createHash } from "node:crypto";
import { canonicalDecimal, canonicalFloat } from "./decimal";
import { jsonbText } from "./jsonb-text";
import type { Family } from "./types";

/** A value as SQLite/D1 hands it over (integers arrive as decimal text, see d1-sql.ts). */
export type SqliteValue = string | number | bigint | boolean | null | ArrayBuffer | Uint8Array | number[];

const TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/** Epoch numbers: below 1e11 are seconds, below 1e14 milliseconds, else microseconds (documented). */
function fromEpoch(n: number): string {
  const micros = Math.abs(n) < 1e11 ? n * 1e6 : Math.abs(n) < 1e14 ? n * 1e3 : n;
  const whole = Math.floor(micros / 1e6);
  const frac = Math.round(micros - whole * 1e6);
  return `${new Date(whole * 1000).toISOString().slice(0, 19)}.${String(frac).padStart(6, "0")}Z`;
}

/** Any SQLite timestamp form → `YYYY-MM-DDTHH:MM:SS.ffffffZ` in UTC (PostgreSQL's `to_char(… 'US')`). */
export function canonicalTimestamp(value: string | number): string {
  if (typeof value === "number" || /^-?\d+(\.\d+)?$/.test(value)) return fromEpoch(Number(value));
  const m = TIMESTAMP.exec(value.trim());
  if (!m) return value;
  const [, y, mo, d, h = "00", mi = "00", s = "00", frac = "", zone = "Z"] = m;
  let offsetMinutes = 0;
  if (zone.toUpperCase() !== "Z") {
    const z = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone) as RegExpExecArray;
    offsetMinutes = (z[1] === "-" ? -1 : 1) * (Number(z[2]) * 60 + Number(z[3] ?? 0));
  }
  const ms = Date.UTC(+y, +mo - 1, +d, +h, +mi, +s) - offsetMinutes * 60_000;
  if (Number.isNaN(ms)) return value;
  const micros = frac.padEnd(9, "0").slice(0, 6); // PostgreSQL keeps microseconds
  return `${new Date(ms).toISOString().slice(0, 19)}.${micros}Z`;
}

function toHex(value: SqliteValue): string {
  if (value instanceof ArrayBuffer) return Buffer.from(value).toString("hex");
  if (value instanceof Uint8Array || Array.isArray(value)) return Buffer.from(value).toString("hex");
  return Buffer.from(String(value), "utf8").toString("hex");
}

function asText(value: SqliteValue): string {
  if (value instanceof ArrayBuffer || value instanceof Uint8Array || Array.isArray(value)) {
    return Buffer.from(value as Uint8Array).toString("utf8");
  }
  return String(value);
}

const TRUE = new Set(["1", "true", "t", "yes", "y", "on"]);
const FALSE = new Set(["0", "false", "f", "no", "n", "off"]);

/** Canonical text of one non-null SQLite value read for a column of the given family. */
export function normalizeValue(family: Family, value: Exclude<SqliteValue, null>): string {
  switch (family) {
    case "bool": {
      const t = asText(value).toLowerCase();
      return TRUE.has(t) ? "true" : FALSE.has(t) ? "false" : t;
    }
    case "int":
    case "numeric":
      return typeof value === "number" && family === "numeric" && !Number.isInteger(value)
        ? canonicalDecimal(String(value))
        : canonicalDecimal(asText(value));
    case "float":
      return canonicalFloat(typeof value === "number" ? value : Number(asText(value)));
    case "float4":
      // The real PostgreSQL holds is the nearest single-precision value: compare that one.
      return canonicalFloat(Math.fround(typeof value === "number" ? value : Number(asText(value))));
    case "uuid":
      return asText(value).toLowerCase();
    case "timestamptz":
    case "timestamp":
      return canonicalTimestamp(typeof value === "number" ? value : asText(value));
    case "date": {
      const ts = canonicalTimestamp(typeof value === "number" ? value : asText(value));
      return /^\d{4}-\d{2}-\d{2}T/.test(ts) ? ts.slice(0, 10) : ts;
    }
    case "json":
      try {
        return jsonbText(asText(value));
      } catch {
        return asText(value); // not JSON: compared as written, so it shows up as changed
      }
    case "bytes":
      return toHex(value);
    case "text":
      return asText(value);
  }
}

/**
 * One column's contribution to the row text: `~` for NULL, else `<utf8 byte length>:<text>`. The
 * length prefix keeps NULL, '' and any separator-looking text apart without escaping.
 */
export function encodeToken(text: string | null): string {
  return text === null ? "~" : `${Buffer.byteLength(text, "utf8")}:${text}`;
}

export function md5Hex(text: string): string {
  return createHash("md5").update(text, "utf8").digest("hex");
}

/** The 60-bit integer a checksum sums: the first 15 hex digits of the md5 (PostgreSQL: `::bit(60)`). */
export function hash60(digest: string): bigint {
  return BigInt(`0x${digest.slice(0, 15)}`);
}
