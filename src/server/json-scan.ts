// One linear pass over a JSON text before it is parsed: it bounds what the
// parsers may meet (nesting depth, number literal length, numbers too big
// for a double) so that no body can overflow a stack or spend time on a
// 100k-digit literal, and it tells parseJson whether JSON.parse may be used.
// It does not validate the syntax: the parsers do that, on text the scan has
// bounded.
import { invalidArgument } from '../engine/errors';

/**
 * Deepest nesting of arrays and objects. A tensor of the highest rank TF
 * accepts (254) sits two levels down in a request ({"inputs": {"x": ...}})
 * and a b64 string adds one: 300 leaves room and refuses the hostile.
 * (TF Serving's rapidjson parses iteratively and sets no depth limit.)
 */
export const MAX_JSON_DEPTH = 300;

/**
 * Longest number literal. A double is written exactly in at most 767
 * significant digits; rapidjson refuses integer parts past 10^308 anyway.
 */
export const MAX_NUMBER_CHARS = 1024;

/** JsonScan.parseBytes per character of text, at most ([[[...]]]: 2 + (24 + 48) / 2). */
export const MAX_PARSE_BYTES_PER_CHAR = 38;

export interface JsonScan {
  /** An integer literal of 16 or more digits: it may be past 2^53, which JSON.parse would round. */
  longIntegers: boolean;
  /** A number literal with a fraction or an exponent (`1.0`, `1e2`): rapidjson reads it as a double, which no integer dtype takes. */
  fractions: boolean;
  /**
   * An upper bound of the JS heap the parsed document takes, text included:
   * 2 bytes per character (a two-byte string holds the text and every string
   * in it), 24 per value (its slot in the parent and a boxed number or a
   * short string's header) and 48 per array or object (its header and its
   * elements' header). Measured: 16 bytes per 4-byte `[1],`, 28 per 2-byte
   * level of `[[[...]]]`; the bound is at most 38 bytes per byte of text.
   */
  parseBytes: number;
}

function parseError(what: string, offset: number): never {
  throw invalidArgument(`JSON Parse error: ${what} at offset: ${offset}`);
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;

function isDigit(c: number): boolean {
  return c >= ZERO && c <= NINE;
}

export function scanJson(text: string): JsonScan {
  const n = text.length;
  let depth = 0;
  let longIntegers = false;
  let fractions = false;
  // Every value (keys too) is the first in the text or follows a ',', ':', '[' or '{'.
  let values = 1;
  let containers = 0;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      // Skip the string; an escape skips the character after the backslash.
      i++;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === BACKSLASH) i += 2;
        else if (d === QUOTE) break;
        else i++;
      }
      i++;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > MAX_JSON_DEPTH) parseError(`Nesting deeper than ${MAX_JSON_DEPTH} levels`, i);
      containers++;
      values++;
      i++;
    } else if (c === 0x2c || c === 0x3a) {
      values++;
      i++;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
      i++;
    } else if (c === MINUS || isDigit(c)) {
      const start = i;
      if (c === MINUS) i++;
      const intStart = i;
      while (i < n && isDigit(text.charCodeAt(i))) i++;
      const intDigits = i - intStart;
      let isInteger = true;
      if (i < n && text.charCodeAt(i) === DOT) {
        isInteger = false;
        i++;
        while (i < n && isDigit(text.charCodeAt(i))) i++;
      }
      let exponent = 0;
      const e = i < n ? text.charCodeAt(i) : 0;
      if (e === 0x65 || e === 0x45) {
        isInteger = false;
        i++;
        let sign = 1;
        const s = i < n ? text.charCodeAt(i) : 0;
        if (s === MINUS || s === PLUS) {
          sign = s === MINUS ? -1 : 1;
          i++;
        }
        while (i < n && isDigit(text.charCodeAt(i))) {
          // Capped: only whether it passes ~308 matters.
          if (exponent < 1e6) exponent = exponent * 10 + (text.charCodeAt(i) - ZERO);
          i++;
        }
        exponent *= sign;
      }
      const length = i - start;
      if (length > MAX_NUMBER_CHARS) parseError(`Number literal of ${length} characters is longer than the limit of ${MAX_NUMBER_CHARS}`, start);
      if (isInteger && intDigits >= 16) longIntegers = true;
      if (!isInteger) fractions = true;
      // Past 10^308 a literal may not fit a double: rapidjson refuses it
      // (kParseErrorNumberTooBig) rather than reading Infinity; so do we.
      const leadingZero = intDigits === 1 && text.charCodeAt(intStart) === ZERO;
      if (intDigits > 0 && (leadingZero ? 0 : intDigits) + exponent > 300 && !Number.isFinite(Number(text.slice(start, i)))) {
        parseError('Number too big to be stored in double', start);
      }
    } else {
      i++;
    }
  }
  return { longIntegers, fractions, parseBytes: 2 * n + 24 * values + 48 * containers };
}
