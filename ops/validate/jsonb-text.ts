/**
 * Re-prints JSON text exactly as PostgreSQL prints `jsonb::text`, so that JSON stored as text in D1
 * compares equal to the jsonb it came from. jsonb orders object keys by byte length, then bytes; keeps
 * the last of duplicate keys; writes numbers as `numeric` does (exponent expanded, scale kept); and uses
 * `": "` / `", "` separators. JSON.parse would lose the numbers' scale, hence this small parser.
 */
import { canonicalDecimal } from "./decimal";

type JsonValue = string | { num: string } | boolean | null | JsonValue[] | Map<string, JsonValue>;

class Parser {
  private pos = 0;
  constructor(private readonly text: string) {}

  parseDocument(): JsonValue {
    const value = this.value();
    this.skipSpace();
    if (this.pos !== this.text.length) this.fail("unexpected text after the JSON value");
    return value;
  }

  private fail(what: string): never {
    throw new SyntaxError(`${what} at offset ${this.pos}`);
  }

  private skipSpace(): void {
    while (/[ \t\n\r]/.test(this.text[this.pos] ?? "")) this.pos++;
  }

  private value(): JsonValue {
    this.skipSpace();
    const c = this.text[this.pos];
    if (c === "{") return this.object();
    if (c === "[") return this.array();
    if (c === '"') return this.string();
    for (const [word, v] of [
      ["true", true],
      ["false", false],
      ["null", null],
    ] as const) {
      if (this.text.startsWith(word, this.pos)) {
        this.pos += word.length;
        return v;
      }
    }
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(
      this.text.slice(this.pos, this.pos + 400),
    );
    if (!m) this.fail("expected a JSON value");
    this.pos += m[0].length;
    return { num: m[0] };
  }

  private object(): Map<string, JsonValue> {
    const map = new Map<string, JsonValue>();
    this.pos++;
    this.skipSpace();
    if (this.text[this.pos] === "}") {
      this.pos++;
      return map;
    }
    for (;;) {
      this.skipSpace();
      if (this.text[this.pos] !== '"') this.fail("expected an object key");
      const key = this.string();
      this.skipSpace();
      if (this.text[this.pos++] !== ":") this.fail("expected ':'");
      map.delete(key); // the last duplicate wins, as in jsonb
      map.set(key, this.value());
      this.skipSpace();
      const c = this.text[this.pos++];
      if (c === "}") return map;
      if (c !== ",") this.fail("expected ',' or '}'");
    }
  }

  private array(): JsonValue[] {
    const items: JsonValue[] = [];
    this.pos++;
    this.skipSpace();
    if (this.text[this.pos] === "]") {
      this.pos++;
      return items;
    }
    for (;;) {
      items.push(this.value());
      this.skipSpace();
      const c = this.text[this.pos++];
      if (c === "]") return items;
      if (c !== ",") this.fail("expected ',' or ']'");
    }
  }

  private string(): string {
    // eslint-disable-next-line no-control-regex -- JSON forbids raw control characters in strings
    const m = /^"(?:[^"\\\u0000-\u001f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"/.exec(this.text.slice(this.pos));
    if (!m) this.fail("expected a JSON string");
    this.pos += m[0].length;
    return JSON.parse(m[0]) as string;
  }
}

const ESCAPES: Record<string, string> = { '"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n" };
ESCAPES["\r"] = "\\r";
ESCAPES["\t"] = "\\t";

function quote(s: string): string {
  const body = s.replace(
    // eslint-disable-next-line no-control-regex -- jsonb escapes every control character
    /["\\\u0000-\u001f]/g,
    (c) => ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
  return `"${body}"`;
}

function byJsonbKeyOrder(a: string, b: string): number {
  const ba = Buffer.from(a, "utf8");
  const bb = Buffer.from(b, "utf8");
  return ba.length - bb.length || Buffer.compare(ba, bb);
}

function print(v: JsonValue): string {
  if (v === null) return "null";
  if (typeof v === "boolean") return String(v);
  if (typeof v === "string") return quote(v);
  if (Array.isArray(v)) return `[${v.map(print).join(", ")}]`;
  if (v instanceof Map) {
    const keys = [...v.keys()].sort(byJsonbKeyOrder);
    return `{${keys.map((k) => `${quote(k)}: ${print(v.get(k) as JsonValue)}`).join(", ")}}`;
  }
  return canonicalDecimal(v.num, { keepScale: true });
}

/** `text` as `jsonb::text` would print it. Throws SyntaxError when `text` is not JSON. */
export function jsonbText(text: string): string {
  return print(new Parser(text).parseDocument());
}
