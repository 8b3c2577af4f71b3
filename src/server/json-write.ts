// Number formatting and string escaping as TF Serving's JSON answers use them.
//
// TF Serving writes a float with 6 significant digits (printf "%g") when that
// reads back as the same float, else with max_digits10 digits (9 for float32,
// 17 for float64); whole numbers get a trailing ".0" (3 -> "3.0") unless in
// exponent form; NaN, Infinity and -Infinity are written as bare tokens.

/** printf("%.<precision>g", value) for a finite value. */
export function formatG(value: number, precision: number): string {
  if (value === 0) return Object.is(value, -0) ? '-0' : '0';
  const exponential = value.toExponential(precision - 1);
  const ePos = exponential.indexOf('e');
  const exponent = Number(exponential.slice(ePos + 1));
  if (exponent < -4 || exponent >= precision) {
    const mantissa = stripZeros(exponential.slice(0, ePos));
    const sign = exponent < 0 ? '-' : '+';
    const digits = String(Math.abs(exponent)).padStart(2, '0');
    return `${mantissa}e${sign}${digits}`;
  }
  return stripZeros(value.toFixed(precision - 1 - exponent));
}

function stripZeros(text: string): string {
  if (text.indexOf('.') < 0) return text;
  let end = text.length;
  while (text.charCodeAt(end - 1) === 0x30) end--;
  if (text.charCodeAt(end - 1) === 0x2e) end--;
  return text.slice(0, end);
}

function special(value: number): string | undefined {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return 'Infinity';
  if (value === -Infinity) return '-Infinity';
  return undefined;
}

function withPoint(text: string): string {
  return text.indexOf('.') < 0 && text.indexOf('e') < 0 ? `${text}.0` : text;
}

/** A float32 value (given as the exact double) as TF Serving writes it. */
export function formatFloat32(value: number): string {
  const token = special(value);
  if (token) return token;
  let text = formatG(value, 6);
  if (Math.fround(Number(text)) !== value) text = formatG(value, 9);
  return withPoint(text);
}

/** A float64 value as TF Serving writes it. */
export function formatFloat64(value: number): string {
  const token = special(value);
  if (token) return token;
  let text = formatG(value, 6);
  if (Number(text) !== value) text = formatG(value, 17);
  return withPoint(text);
}

/** A JSON string literal (non-ASCII written as is, like TF Serving). */
export function jsonString(text: string): string {
  return JSON.stringify(text);
}

/**
 * A JSON text written as many small pieces. Pieces are joined every few
 * thousand, so a response of millions of elements never holds millions of
 * small strings at once: memory stays near the size of the text itself.
 */
export class JsonOut {
  private pieces: string[] = [];
  private readonly chunks: string[] = [];

  push(...parts: string[]): void {
    for (const part of parts) this.pieces.push(part);
    if (this.pieces.length >= 8192) {
      this.chunks.push(this.pieces.join(''));
      this.pieces = [];
    }
  }

  text(): string {
    if (this.pieces.length > 0) this.chunks.push(this.pieces.join(''));
    this.pieces = [];
    return this.chunks.join('');
  }
}
