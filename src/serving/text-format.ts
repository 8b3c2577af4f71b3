// Protocol buffer text format (what TF Serving's config files are written
// in), parsed against a protobufjs type. The result is a plain object keyed by
// protobufjs's camelCase field names: scalars as numbers / strings / booleans,
// 64-bit integers as numbers (bigint beyond 2^53), bytes as Uint8Array, enums
// by value name, maps as objects, repeated fields as arrays.
import protobuf from 'protobufjs';

import { BIGINT_RANGES, type DType } from '../engine/dtypes';
import { TfServeError } from '../engine/errors';
import { setOwn } from './own';

export type TextValue = number | bigint | string | boolean | Uint8Array | TextMessage | TextValue[];
export interface TextMessage {
  [field: string]: TextValue;
}

interface Token {
  kind: 'ident' | 'number' | 'string' | 'punct' | 'eof';
  text: string;
  /** Decoded bytes of a string token. */
  bytes?: Uint8Array;
  line: number;
  column: number;
}

const PUNCT = new Set(['{', '}', '<', '>', ':', '[', ']', ',', ';', '/', '.']);
const SIMPLE_ESCAPES: Record<string, number> = { n: 10, t: 9, r: 13, a: 7, b: 8, f: 12, v: 11, '\\': 92, "'": 39, '"': 34, '?': 63 };

class Lexer {
  private pos = 0;
  private line = 1;
  private column = 1;
  private peeked: Token | null = null;

  constructor(
    private readonly text: string,
    private readonly source: string,
  ) {}

  error(token: { line: number; column: number }, message: string): TfServeError {
    return new TfServeError('INVALID_ARGUMENT', `${this.source}:${token.line}:${token.column}: ${message}`);
  }

  peek(): Token {
    if (!this.peeked) this.peeked = this.read();
    return this.peeked;
  }

  next(): Token {
    const token = this.peek();
    this.peeked = null;
    return token;
  }

  private advance(count = 1): void {
    for (let i = 0; i < count; i++) {
      if (this.text[this.pos] === '\n') {
        this.line++;
        this.column = 1;
      } else {
        this.column++;
      }
      this.pos++;
    }
  }

  private skipSpaceAndComments(): void {
    while (this.pos < this.text.length) {
      const c = this.text[this.pos]!;
      if (c === '#') {
        while (this.pos < this.text.length && this.text[this.pos] !== '\n') this.advance();
      } else if (/\s/.test(c)) {
        this.advance();
      } else {
        return;
      }
    }
  }

  private read(): Token {
    this.skipSpaceAndComments();
    const at = { line: this.line, column: this.column };
    if (this.pos >= this.text.length) return { kind: 'eof', text: '', ...at };
    const c = this.text[this.pos]!;
    const rest = this.text.slice(this.pos);
    if (c === '"' || c === "'") return { kind: 'string', ...this.readString(at), ...at };
    const next = this.text[this.pos + 1] ?? '';
    if (/[\d.]/.test(c) || (c === '-' && /[\d.a-zA-Z]/.test(next))) {
      const number = /^-?(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?[fF]?|inf(?:inity)?|nan)(?![A-Za-z0-9_.])/i.exec(rest);
      if (!number) throw this.error(at, `malformed number ${JSON.stringify(/^[-\w.+]+/.exec(rest)?.[0] ?? c)}`);
      this.advance(number[0].length);
      return { kind: 'number', text: number[0], ...at };
    }
    const ident = /^[A-Za-z_][A-Za-z0-9_]*/.exec(rest);
    if (ident) {
      this.advance(ident[0].length);
      return { kind: 'ident', text: ident[0], ...at };
    }
    if (PUNCT.has(c)) {
      this.advance();
      return { kind: 'punct', text: c, ...at };
    }
    throw this.error(at, `unexpected character ${JSON.stringify(c)}`);
  }

  private readString(at: { line: number; column: number }): { text: string; bytes: Uint8Array } {
    const quote = this.text[this.pos]!;
    this.advance();
    const bytes: number[] = [];
    for (;;) {
      if (this.pos >= this.text.length || this.text[this.pos] === '\n') throw this.error(at, 'unterminated string');
      const c = this.text[this.pos]!;
      if (c === quote) {
        this.advance();
        break;
      }
      if (c !== '\\') {
        const code = this.text.codePointAt(this.pos)!;
        const char = String.fromCodePoint(code);
        bytes.push(...Buffer.from(char, 'utf8'));
        this.advance(char.length);
        continue;
      }
      const e = this.text[this.pos + 1] ?? '';
      if (e in SIMPLE_ESCAPES) {
        bytes.push(SIMPLE_ESCAPES[e]!);
        this.advance(2);
      } else if (/[0-7]/.test(e)) {
        const octal = /^[0-7]{1,3}/.exec(this.text.slice(this.pos + 1))![0];
        bytes.push(parseInt(octal, 8) & 0xff);
        this.advance(1 + octal.length);
      } else if (e === 'x' || e === 'X') {
        const hex = /^[0-9a-fA-F]{1,2}/.exec(this.text.slice(this.pos + 2));
        if (!hex) throw this.error({ line: this.line, column: this.column }, 'bad \\x escape in string');
        bytes.push(parseInt(hex[0], 16));
        this.advance(2 + hex[0].length);
      } else if (e === 'u' || e === 'U') {
        const digits = e === 'u' ? 4 : 8;
        const hex = new RegExp(`^[0-9a-fA-F]{${digits}}`).exec(this.text.slice(this.pos + 2));
        if (!hex) throw this.error({ line: this.line, column: this.column }, `bad \\${e} escape in string`);
        bytes.push(...Buffer.from(String.fromCodePoint(parseInt(hex[0], 16)), 'utf8'));
        this.advance(2 + digits);
      } else {
        throw this.error({ line: this.line, column: this.column }, `unknown escape \\${e} in string`);
      }
    }
    const buffer = Uint8Array.from(bytes);
    return { text: Buffer.from(buffer).toString('utf8'), bytes: buffer };
  }
}

/** The dtype whose range each protobuf integer type holds. */
const INT_TYPE_DTYPES = new Map<string, DType>([
  ['int32', 'int32'],
  ['sint32', 'int32'],
  ['sfixed32', 'int32'],
  ['uint32', 'uint32'],
  ['fixed32', 'uint32'],
  ['int64', 'int64'],
  ['sint64', 'int64'],
  ['sfixed64', 'int64'],
  ['uint64', 'uint64'],
  ['fixed64', 'uint64'],
]);

class Parser {
  constructor(private readonly lexer: Lexer) {}

  parseMessage(type: protobuf.Type, end: string | null): TextMessage {
    const message: TextMessage = {};
    const seenOneof = new Map<string, string>();
    for (;;) {
      const token = this.lexer.peek();
      if (end === null && token.kind === 'eof') return message;
      if (token.kind === 'punct' && token.text === end) {
        this.lexer.next();
        return message;
      }
      if (token.kind === 'eof') throw this.lexer.error(token, `missing '${end}' to close ${type.name}`);
      this.parseField(type, message, seenOneof);
      const separator = this.lexer.peek();
      if (separator.kind === 'punct' && (separator.text === ',' || separator.text === ';')) this.lexer.next();
    }
  }

  private fieldOf(type: protobuf.Type, token: Token): protobuf.Field {
    if (token.kind !== 'ident') {
      throw this.lexer.error(token, `expected a field name of ${type.name}, got ${token.text ? `'${token.text}'` : 'end of input'}`);
    }
    const name = token.text;
    const key = protobuf.util.camelCase(name);
    // Own keys only: a field called 'constructor' or '__proto__' is unknown, not Object's.
    const field = /[A-Z]/.test(name) || !Object.hasOwn(type.fields, key) ? undefined : type.fields[key];
    if (!field) {
      const known = Object.values(type.fields).map((f) => snakeName(f.name));
      throw this.lexer.error(token, `unknown field '${name}' in ${type.name} (its fields: ${known.join(', ')})`);
    }
    return field;
  }

  private parseField(type: protobuf.Type, message: TextMessage, seenOneof: Map<string, string>): void {
    const nameToken = this.lexer.next();
    const field = this.fieldOf(type, nameToken);
    const name = nameToken.text;
    field.resolve();
    const isMessage = field.resolvedType instanceof protobuf.Type;
    const colon = this.lexer.peek();
    if (colon.kind === 'punct' && colon.text === ':') {
      this.lexer.next();
    } else if (!isMessage || field instanceof protobuf.MapField) {
      if (!(field instanceof protobuf.MapField)) throw this.lexer.error(colon, `expected ':' after field '${name}'`);
    }

    if (field.partOf) {
      const other = seenOneof.get(field.partOf.name);
      if (other !== undefined && other !== name) {
        throw this.lexer.error(nameToken, `field '${name}' and field '${other}' are both set, but only one of oneof '${snakeName(field.partOf.name)}' may be`);
      }
      seenOneof.set(field.partOf.name, name);
    }

    const values: TextValue[] = [];
    const list = this.lexer.peek();
    if (list.kind === 'punct' && list.text === '[') {
      if (!field.repeated && !(field instanceof protobuf.MapField)) throw this.lexer.error(list, `field '${name}' is not repeated, so it cannot take a list`);
      this.lexer.next();
      if (!(this.lexer.peek().kind === 'punct' && this.lexer.peek().text === ']')) {
        for (;;) {
          values.push(this.parseValue(field, name));
          const sep = this.lexer.next();
          if (sep.kind === 'punct' && sep.text === ']') break;
          if (!(sep.kind === 'punct' && sep.text === ',')) throw this.lexer.error(sep, `expected ',' or ']' in the list of '${name}'`);
        }
      } else {
        this.lexer.next();
      }
    } else {
      values.push(this.parseValue(field, name));
    }

    const key = field.name;
    if (field instanceof protobuf.MapField) {
      const map = (message[key] ??= {}) as TextMessage;
      for (const entry of values as TextMessage[]) {
        const entryKey = entry.key ?? (field.keyType === 'string' ? '' : 0);
        // A map key '__proto__' is stored like any other.
        setOwn(map, String(entryKey), entry.value ?? defaultValue(field));
      }
    } else if (field.repeated) {
      ((message[key] ??= []) as TextValue[]).push(...values);
    } else {
      if (key in message) throw this.lexer.error(nameToken, `field '${name}' is set more than once, but it is not repeated`);
      message[key] = values[0]!;
    }
  }

  private parseValue(field: protobuf.Field, name: string): TextValue {
    if (field instanceof protobuf.MapField) {
      const open = this.expectOpen(name);
      return this.parseMapEntry(field, name, open === '{' ? '}' : '>');
    }
    const resolved = field.resolvedType;
    if (resolved instanceof protobuf.Type) {
      const open = this.expectOpen(name);
      return this.parseMessage(resolved, open === '{' ? '}' : '>');
    }
    const token = this.lexer.next();
    if (resolved instanceof protobuf.Enum) return this.enumValue(resolved, token, name);
    return this.scalar(field.type, token, name);
  }

  private expectOpen(name: string): string {
    const open = this.lexer.next();
    if (!(open.kind === 'punct' && (open.text === '{' || open.text === '<'))) {
      throw this.lexer.error(open, `expected '{' to start the value of field '${name}'`);
    }
    return open.text;
  }

  private parseMapEntry(field: protobuf.MapField, name: string, end: string): TextMessage {
    const entry: TextMessage = {};
    for (;;) {
      const token = this.lexer.next();
      if (token.kind === 'punct' && token.text === end) return entry;
      if (token.kind !== 'ident' || (token.text !== 'key' && token.text !== 'value')) {
        throw this.lexer.error(token, `expected 'key' or 'value' in an entry of map field '${name}'`);
      }
      if (token.text in entry) throw this.lexer.error(token, `'${token.text}' set twice in an entry of map field '${name}'`);
      const valueType = token.text === 'value' ? field.resolvedType : null;
      const colon = this.lexer.peek();
      if (colon.kind === 'punct' && colon.text === ':') this.lexer.next();
      else if (!(valueType instanceof protobuf.Type)) throw this.lexer.error(colon, `expected ':' after '${token.text}'`);
      if (token.text === 'key') {
        entry.key = this.scalar(field.keyType, this.lexer.next(), `${name}.key`) as TextValue;
      } else if (valueType instanceof protobuf.Type) {
        const open = this.expectOpen(`${name}.value`);
        entry.value = this.parseMessage(valueType, open === '{' ? '}' : '>');
      } else if (valueType instanceof protobuf.Enum) {
        entry.value = this.enumValue(valueType, this.lexer.next(), `${name}.value`);
      } else {
        entry.value = this.scalar(field.type, this.lexer.next(), `${name}.value`);
      }
      const sep = this.lexer.peek();
      if (sep.kind === 'punct' && (sep.text === ',' || sep.text === ';')) this.lexer.next();
    }
  }

  private enumValue(type: protobuf.Enum, token: Token, name: string): string {
    if (token.kind === 'ident' && token.text in type.values) return token.text;
    if (token.kind === 'number' && /^-?\d+$/.test(token.text)) {
      const byNumber = type.valuesById[Number(token.text)];
      if (byNumber !== undefined) return byNumber;
    }
    throw this.lexer.error(token, `field '${name}': '${token.text}' is not a value of enum ${type.name} (values: ${Object.keys(type.values).join(', ')})`);
  }

  private scalar(protoType: string, token: Token, name: string): TextValue {
    const bad = (expected: string) => this.lexer.error(token, `field '${name}' expects ${expected}, got ${token.text ? `'${token.text}'` : 'end of input'}`);
    switch (protoType) {
      case 'string':
      case 'bytes': {
        if (token.kind !== 'string') throw bad(`a quoted ${protoType === 'string' ? 'string' : 'byte string'}`);
        const parts = [token.bytes!];
        // Adjacent string literals concatenate, as in C.
        while (this.lexer.peek().kind === 'string') parts.push(this.lexer.next().bytes!);
        const bytes = Buffer.concat(parts);
        return protoType === 'bytes' ? new Uint8Array(bytes) : bytes.toString('utf8');
      }
      case 'bool':
        if (token.kind === 'ident' && (token.text === 'true' || token.text === 't' || token.text === 'True')) return true;
        if (token.kind === 'ident' && (token.text === 'false' || token.text === 'f' || token.text === 'False')) return false;
        if (token.kind === 'number' && (token.text === '1' || token.text === '0')) return token.text === '1';
        throw bad('true or false');
      case 'float':
      case 'double': {
        if (token.kind === 'ident' && /^-?(inf|infinity|nan)$/i.test(token.text)) return parseFloatToken(token.text);
        if (token.kind !== 'number') throw bad('a number');
        return parseFloatToken(token.text);
      }
      default: {
        const dtype = INT_TYPE_DTYPES.get(protoType);
        const range = dtype && BIGINT_RANGES[dtype];
        if (!range) throw bad(`a value of type ${protoType}`);
        if (token.kind !== 'number' || !/^-?(0[xX][0-9a-fA-F]+|\d+)$/.test(token.text)) throw bad('an integer');
        const negative = token.text.startsWith('-');
        const magnitude = negative ? token.text.slice(1) : token.text;
        const digits = /^0\d/.test(magnitude) ? `0o${magnitude.slice(1)}` : magnitude;
        const value = (negative ? -1n : 1n) * BigInt(digits);
        if (value < range[0] || value > range[1]) throw bad(`a ${protoType} in [${range[0]}, ${range[1]}]`);
        return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
      }
    }
  }
}

function parseFloatToken(text: string): number {
  const lower = text.toLowerCase();
  if (/^-?inf(inity)?$/.test(lower)) return lower.startsWith('-') ? -Infinity : Infinity;
  if (/^-?nan$/.test(lower)) return NaN;
  return Number(text.replace(/[fF]$/, ''));
}

function snakeName(camel: string): string {
  return camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

function defaultValue(field: protobuf.MapField): TextValue {
  if (field.resolvedType instanceof protobuf.Type) return {};
  if (field.resolvedType instanceof protobuf.Enum) return field.resolvedType.valuesById[0] ?? 0;
  switch (field.type) {
    case 'string':
      return '';
    case 'bytes':
      return new Uint8Array(0);
    case 'bool':
      return false;
    default:
      return 0;
  }
}

/**
 * Parses `text` as a `type` message in protobuf text format. Errors are
 * INVALID_ARGUMENT TfServeErrors reading "<source>:<line>:<column>: ..." and
 * naming the field.
 */
export function parseTextFormat(text: string, type: protobuf.Type, source = '<text>'): TextMessage {
  const lexer = new Lexer(text, source);
  try {
    return new Parser(lexer).parseMessage(type, null);
  } catch (error) {
    // TF Serving's words first: scripts (and its own test suite) look for them.
    const wrapped = TfServeError.from(error);
    throw new TfServeError(wrapped.code, `Error parsing text-format ${type.fullName.replace(/^\./, '')}: ${wrapped.message}`);
  }
}
