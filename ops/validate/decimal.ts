/**
 * Canonical decimal text, the one form numbers take on both sides: no exponent, no leading zeros, no
 * sign on zero, and (unless `keepScale`) no trailing fractional zeros — what PostgreSQL's
 * `trim_scale(x)::text` prints. With `keepScale` it prints what `numeric_out` prints for the same input
 * text (how jsonb numbers look).
 */
const DECIMAL = /^([+-]?)([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]+))?$/;
const SPECIAL: Record<string, string> = {
  nan: "NaN",
  infinity: "Infinity",
  "+infinity": "Infinity",
  inf: "Infinity",
  "-infinity": "-Infinity",
  "-inf": "-Infinity",
};

export function canonicalDecimal(text: string, opts: { keepScale?: boolean } = {}): string {
  const trimmed = text.trim();
  const special = SPECIAL[trimmed.toLowerCase()];
  if (special) return special;
  const m = DECIMAL.exec(trimmed);
  if (!m || (m[2] === "" && (m[3] ?? "") === "")) return text; // not a number: left as is, so it differs
  const [, sign, whole, fraction = "", exponentText = "0"] = m;
  const exponent = Number(exponentText);
  const digits = whole + fraction;
  const point = whole.length + exponent; // position of the decimal point inside `digits`
  const scale = Math.max(0, fraction.length - exponent);
  let intPart = point <= 0 ? "0" : digits.slice(0, point).padEnd(point, "0");
  let fracPart = point >= 0 ? digits.slice(point) : "0".repeat(-point) + digits;
  fracPart = fracPart.padEnd(scale, "0").slice(0, scale);
  intPart = intPart.replace(/^0+(?=[0-9])/, "");
  if (!opts.keepScale) fracPart = fracPart.replace(/0+$/, "");
  const isZero = /^0*$/.test(intPart + fracPart);
  const body = fracPart ? `${intPart}.${fracPart}` : intPart;
  return sign === "-" && !isZero ? `-${body}` : body;
}

/**
 * A float as PostgreSQL's `float8::numeric` sees it: 15 significant digits (DBL_DIG), then canonical.
 * Both sides go through this, so float columns compare at 15-digit precision.
 */
export function canonicalFloat(value: number): string {
  if (!Number.isFinite(value)) return Number.isNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity";
  return canonicalDecimal(value.toPrecision(15));
}
