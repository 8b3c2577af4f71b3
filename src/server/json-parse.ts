// JSON as TF Serving reads it: standard JSON plus the bare NaN, Infinity and
// -Infinity tokens, with integer literals kept exact.
import { invalidArgument } from '../engine/errors';
import { scanJson } from './json-scan';

/**
 * A parsed JSON value. Numbers: `number` for literals with a fraction or an
 * exponent (and NaN/Infinity); integer literals are `number` when they fit a
 * double exactly and `bigint` beyond, or always `bigint` with exactIntegers.
 */
export type JsonValue = null | boolean | number | bigint | string | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

export interface ParseOptions {
  /**
   * Every integer literal as a bigint, so that `2` and `2.0` stay apart
   * (tf.Example features); 'whenFractions': only if the text has a literal
   * with a fraction or an exponent (else JSON.parse's numbers tell nothing
   * apart that needs it). parseJsonDetailed says which was done.
   */
  exactIntegers?: boolean | 'whenFractions';
  /** Refuse, before parsing, a document whose parse could take more heap than this (JsonScan.parseBytes). */
  maxParseBytes?: number;
}

export function isJsonObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Parses after scanJson has bounded the text (depth, number literals), so
 * neither parser can overflow its stack or read a number as Infinity.
 */
export function parseJson(text: string, options: ParseOptions = {}): JsonValue {
  return parseJsonDetailed(text, options).value;
}

/** parseJson, and whether integer literals came back as bigints (then every `number` had a fraction, an exponent, or was NaN/Infinity). */
export function parseJsonDetailed(text: string, options: ParseOptions = {}): { value: JsonValue; exactIntegers: boolean } {
  if (text.trim() === '') throw invalidArgument('JSON Parse error: The document is empty');
  const scan = scanJson(text);
  if (options.maxParseBytes !== undefined && scan.parseBytes > options.maxParseBytes) {
    throw invalidArgument(`JSON Parse error: parsing this body could take ${scan.parseBytes} bytes of memory, over its limit of ${options.maxParseBytes} (twice its decode limit)`);
  }
  const exactIntegers = options.exactIntegers === 'whenFractions' ? scan.fractions : options.exactIntegers ?? false;
  if (!exactIntegers && !scan.longIntegers) {
    try {
      return { value: JSON.parse(text) as JsonValue, exactIntegers };
    } catch {
      // NaN/Infinity tokens, or a syntax error: the full parser says which, with its offset.
    }
  }
  return { value: new Parser(text, exactIntegers).document(), exactIntegers };
}

const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;

class Parser {
  private pos = 0;

  constructor(
    private readonly text: string,
    private readonly exactIntegers: boolean,
  ) {}

  document(): JsonValue {
    const value = this.value();
    this.skipSpace();
    if (this.pos < this.text.length) this.fail('The document root must not be followed by other values');
    return value;
  }

  private fail(what: string): never {
    throw invalidArgument(`JSON Parse error: ${what} at offset: ${this.pos}`);
  }

  private skipSpace(): void {
    const text = this.text;
    let pos = this.pos;
    for (;;) {
      const c = text.charCodeAt(pos);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) pos++;
      else break;
    }
    this.pos = pos;
  }

  private literal(word: string, value: JsonValue): JsonValue {
    if (!this.text.startsWith(word, this.pos)) this.fail('Invalid value');
    this.pos += word.length;
    return value;
  }

  // Recursion is bounded by the scan's depth limit.
  private value(): JsonValue {
    this.skipSpace();
    const c = this.text[this.pos];
    switch (c) {
      case '{':
        return this.object();
      case '[':
        return this.array();
      case '"':
        return this.string();
      case 't':
        return this.literal('true', true);
      case 'f':
        return this.literal('false', false);
      case 'n':
        return this.literal('null', null);
      case 'N':
        return this.literal('NaN', NaN);
      case 'I':
        return this.literal('Infinity', Infinity);
      case '-':
        if (this.text[this.pos + 1] === 'I') {
          this.pos++;
          return this.literal('Infinity', -Infinity);
        }
        return this.number();
      case undefined:
        return this.fail('The document is truncated');
      default:
        return c >= '0' && c <= '9' ? this.number() : this.fail('Invalid value');
    }
  }

  private number(): number | bigint {
    NUMBER.lastIndex = this.pos;
    const match = NUMBER.exec(this.text);
    if (!match) return this.fail('Invalid value');
    this.pos += match[0].length;
    if (match[1] !== undefined || match[2] !== undefined) return Number(match[0]);
    if (this.exactIntegers) return BigInt(match[0]);
    const value = Number(match[0]);
    return Number.isSafeInteger(value) ? value : BigInt(match[0]);
  }

  private string(): string {
    const text = this.text;
    let pos = this.pos + 1;
    let out = '';
    let start = pos;
    for (;;) {
      const c = text.charCodeAt(pos);
      if (c === 0x22) break;
      if (Number.isNaN(c)) {
        this.pos = pos;
        this.fail('Missing a closing quotation mark in string');
      }
      if (c < 0x20) {
        this.pos = pos;
        this.fail('Invalid character in string');
      }
      if (c === 0x5c) {
        out += text.slice(start, pos);
        out += this.escape(pos);
        pos += text[pos + 1] === 'u' ? 6 : 2;
        start = pos;
        continue;
      }
      pos++;
    }
    out += text.slice(start, pos);
    this.pos = pos + 1;
    return out;
  }

  private escape(pos: number): string {
    const next = this.text[pos + 1];
    switch (next) {
      case '"':
      case '\\':
      case '/':
        return next;
      case 'b':
        return '\b';
      case 'f':
        return '\f';
      case 'n':
        return '\n';
      case 'r':
        return '\r';
      case 't':
        return '\t';
      case 'u': {
        const hex = this.text.slice(pos + 2, pos + 6);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) {
          this.pos = pos;
          this.fail('Incorrect hex digit after \\u escape in string');
        }
        return String.fromCharCode(parseInt(hex, 16));
      }
      default:
        this.pos = pos;
        return this.fail('Invalid escape character in string');
    }
  }

  private array(): JsonValue[] {
    this.pos++;
    const items: JsonValue[] = [];
    this.skipSpace();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return items;
    }
    for (;;) {
      items.push(this.value());
      this.skipSpace();
      const c = this.text[this.pos++];
      if (c === ']') return items;
      if (c !== ',') {
        this.pos--;
        this.fail('Missing a comma or \']\' after an array element');
      }
    }
  }

  private object(): JsonObject {
    this.pos++;
    // No prototype: a "__proto__" key is just a key.
    const result = Object.create(null) as JsonObject;
    this.skipSpace();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return result;
    }
    for (;;) {
      this.skipSpace();
      if (this.text[this.pos] !== '"') this.fail('Missing a name for object member');
      const key = this.string();
      this.skipSpace();
      if (this.text[this.pos] !== ':') this.fail('Missing a colon after a name of object member');
      this.pos++;
      result[key] = this.value();
      this.skipSpace();
      const c = this.text[this.pos++];
      if (c === '}') return result;
      if (c !== ',') {
        this.pos--;
        this.fail("Missing a comma or '}' after an object member");
      }
    }
  }
}
