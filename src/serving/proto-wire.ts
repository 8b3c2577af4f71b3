// Reading protobuf wire format by hand, strictly: the hand-written decoders
// (tensor-proto.ts, wire.ts, example.ts) and checkMessage(), which every
// message decoded with protobufjs passes first. protobufjs alone reads a
// known field whatever its wire type and lets invalid UTF-8 through; the
// proto3 rules refuse both, and tfserve answers them INVALID_ARGUMENT.
import protobuf from 'protobufjs';

import { TfServeError, invalidArgument } from '../engine/errors';

/** Wire types. */
export const VARINT = 0;
export const FIXED64 = 1;
export const LEN = 2;
export const FIXED32 = 5;

/** protobuf's default recursion limit for nested messages. */
const MAX_DEPTH = 100;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A proto3 string: valid UTF-8, or INVALID_ARGUMENT naming the field. */
export function decodeUtf8(bytes: Uint8Array, what: string): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw invalidArgument(`${what} is not valid UTF-8`);
  }
}

/** The next tag, with field number 0 (which no message has) refused. */
export function readTag(reader: protobuf.Reader): { field: number; wire: number } {
  const tag = reader.uint32();
  const field = tag >>> 3;
  if (field === 0) throw new Error(`invalid field number 0 at offset ${reader.pos}`);
  return { field, wire: tag & 7 };
}

/** The span [start, end) of the length-delimited value the reader is at; the reader moves past it. */
export function readSpan(reader: protobuf.Reader): { start: number; end: number } {
  const length = reader.uint32();
  const start = reader.pos;
  reader.skip(length);
  return { start, end: start + length };
}

/**
 * Runs a hand-written decoding step, turning what the wire reader throws
 * (truncation, bad wire types) into INVALID_ARGUMENT "malformed <what>".
 */
export function readingWire<T>(what: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof TfServeError) throw error;
    throw invalidArgument(`malformed ${what}: ${(error as Error).message}`);
  }
}

const SCALAR_WIRE: Readonly<Record<string, number>> = {
  double: FIXED64,
  float: FIXED32,
  int32: VARINT,
  uint32: VARINT,
  sint32: VARINT,
  fixed32: FIXED32,
  sfixed32: FIXED32,
  int64: VARINT,
  uint64: VARINT,
  sint64: VARINT,
  fixed64: FIXED64,
  sfixed64: FIXED64,
  bool: VARINT,
  string: LEN,
  bytes: LEN,
};

const WIRE_NAMES = ['varint', 'fixed64', 'length-delimited', 'group start', 'group end', 'fixed32'];

/** The fields of a protobufjs type by number (cached). */
const FIELDS_BY_ID = new WeakMap<protobuf.Type, Map<number, protobuf.Field>>();

function fieldsById(type: protobuf.Type): Map<number, protobuf.Field> {
  let fields = FIELDS_BY_ID.get(type);
  if (!fields) {
    fields = new Map(type.fieldsArray.map((field) => [field.id, field.resolve()]));
    FIELDS_BY_ID.set(type, fields);
  }
  return fields;
}

/**
 * Checks a serialized message against its type before protobufjs decodes
 * it: known fields have their wire type (packed or not for repeated
 * scalars), strings and map keys are UTF-8, nesting stays under protobuf's
 * limit, nothing is truncated. Throws INVALID_ARGUMENT naming the field.
 * Returns how many values (field occurrences, packed values) it holds.
 */
export function checkMessage(type: protobuf.Type, bytes: Uint8Array, what: string): number {
  const count = { values: 0 };
  readingWire(what, () => checkFields(type, bytes, 0, bytes.length, `${what}`, 0, count));
  return count.values;
}

/** Counted by checkMessage: field occurrences and packed values, each a JS value once decoded. */
interface ValueCount {
  values: number;
}

function checkFields(type: protobuf.Type, buf: Uint8Array, start: number, end: number, path: string, depth: number, count: ValueCount): void {
  if (depth > MAX_DEPTH) throw invalidArgument(`malformed ${path}: messages nested more than ${MAX_DEPTH} deep`);
  const reader = protobuf.Reader.create(buf.subarray(start, end));
  const fields = fieldsById(type);
  while (reader.pos < reader.len) {
    const { field: id, wire } = readTag(reader);
    const field = fields.get(id);
    if (!field) {
      reader.skipType(wire);
      continue;
    }
    count.values++;
    const where = `${path}.${field.name}`;
    if (field instanceof protobuf.MapField) {
      if (wire !== LEN) throw wrongWire(where, wire, LEN);
      const span = readSpan(reader);
      checkMapEntry(field, buf.subarray(start + span.start, start + span.end), where, depth + 1, count);
      continue;
    }
    const resolved = field.resolvedType;
    if (resolved instanceof protobuf.Type) {
      if (wire !== LEN) throw wrongWire(where, wire, LEN);
      const span = readSpan(reader);
      checkFields(resolved, buf, start + span.start, start + span.end, where, depth + 1, count);
      continue;
    }
    const expected = resolved instanceof protobuf.Enum ? VARINT : SCALAR_WIRE[field.type];
    if (expected === undefined) {
      reader.skipType(wire);
      continue;
    }
    if (wire === expected) {
      if (field.type === 'string') {
        const span = readSpan(reader);
        decodeUtf8(buf.subarray(start + span.start, start + span.end), where);
      } else {
        reader.skipType(wire);
      }
    } else if (wire === LEN && field.repeated && expected !== LEN) {
      // A packed run: whole values only.
      const span = readSpan(reader);
      count.values += checkPacked(buf.subarray(start + span.start, start + span.end), expected, where);
    } else {
      throw wrongWire(where, wire, expected);
    }
  }
}

function checkMapEntry(field: protobuf.MapField, entry: Uint8Array, where: string, depth: number, count: ValueCount): void {
  const reader = protobuf.Reader.create(entry);
  while (reader.pos < reader.len) {
    const { field: id, wire } = readTag(reader);
    if (id === 1) {
      const expected = SCALAR_WIRE[field.keyType]!;
      if (wire !== expected) throw wrongWire(`${where} key`, wire, expected);
      if (field.keyType === 'string') {
        const span = readSpan(reader);
        decodeUtf8(entry.subarray(span.start, span.end), `${where} key`);
      } else {
        reader.skipType(wire);
      }
    } else if (id === 2) {
      const resolved = field.resolvedType;
      const expected = resolved instanceof protobuf.Type ? LEN : resolved instanceof protobuf.Enum ? VARINT : SCALAR_WIRE[field.type];
      if (expected !== undefined && wire !== expected) throw wrongWire(`${where} value`, wire, expected);
      if (resolved instanceof protobuf.Type) {
        const span = readSpan(reader);
        checkFields(resolved, entry, span.start, span.end, `${where} value`, depth + 1, count);
      } else if (field.type === 'string') {
        const span = readSpan(reader);
        decodeUtf8(entry.subarray(span.start, span.end), `${where} value`);
      } else {
        reader.skipType(wire);
      }
    } else {
      reader.skipType(wire);
    }
  }
}

/** Checks a packed run; returns the number of values in it. */
function checkPacked(run: Uint8Array, wire: number, where: string): number {
  if (wire === FIXED32 || wire === FIXED64) {
    const width = wire === FIXED32 ? 4 : 8;
    if (run.length % width !== 0) throw invalidArgument(`malformed ${where}: packed run of ${run.length} bytes is not a whole number of ${width}-byte values`);
    return run.length / width;
  }
  if (!endsVarints(run)) throw invalidArgument(`malformed ${where}: truncated varint`);
  return countVarints(run, 0, run.length);
}

/** The varints in buf[start, end), a run checked with endsVarints(): one per byte without a continuation bit. */
export function countVarints(buf: Uint8Array, start: number, end: number): number {
  let count = 0;
  for (let i = start; i < end; i++) if (buf[i]! < 0x80) count++;
  return count;
}

/** The varint at buf[pos] (before end) as an unsigned 64-bit bigint, and the position after it. */
export function readVarint64(buf: Uint8Array, pos: number, end: number): [bigint, number] {
  let result = 0n;
  let shift = 0n;
  for (;;) {
    if (pos >= end) throw new Error('truncated varint');
    const byte = buf[pos++]!;
    result |= BigInt(byte & 0x7f) << shift;
    if (byte < 0x80) return [BigInt.asUintN(64, result), pos];
    shift += 7n;
    if (shift > 63n) throw new Error('varint longer than 10 bytes');
  }
}

/** A packed varint run ends on a whole varint (its last byte has no continuation bit). */
export function endsVarints(run: Uint8Array): boolean {
  return run.length === 0 || run[run.length - 1]! < 0x80;
}

/** INVALID_ARGUMENT for a field of the wrong wire type, as checkMessage() words it. */
export function wrongWire(where: string, wire: number, expected: number): TfServeError {
  return invalidArgument(`malformed ${where}: wire type ${WIRE_NAMES[wire] ?? wire}, expected ${WIRE_NAMES[expected]}`);
}

/**
 * A position in a serialized message, read without allocating: the hot
 * loops over millions of repeated values (string_val, unpacked *_val,
 * examples) use this rather than protobufjs's Reader and span objects.
 * Errors are plain Errors; readingWire() turns them into INVALID_ARGUMENT.
 */
export class Cursor {
  pos: number;
  /** Field number and wire type of the last tag read. */
  field = 0;
  wire = 0;
  /** Start of the last length-delimited value skipped by value(). */
  start = 0;

  constructor(
    readonly buf: Uint8Array,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  /** A varint of up to 32 bits (longer ones are read and truncated, as protobuf's uint32). */
  varint32(): number {
    const { buf, end } = this;
    // One byte: the common case (tags, short lengths), kept small to inline.
    if (this.pos < end && buf[this.pos]! < 0x80) return buf[this.pos++]!;
    let value = 0;
    for (let shift = 0; shift < 70; shift += 7) {
      if (this.pos >= end) throw new Error(`truncated varint at offset ${this.pos}`);
      const byte = buf[this.pos++]!;
      if (shift < 32) value |= (byte & 0x7f) << shift;
      if (byte < 0x80) return value >>> 0;
    }
    throw new Error(`varint longer than 10 bytes at offset ${this.pos}`);
  }

  /** Reads a tag into field and wire. */
  tag(): void {
    const tag = this.varint32();
    this.field = tag >>> 3;
    this.wire = tag & 7;
    if (this.field === 0) throw new Error(`invalid field number 0 at offset ${this.pos}`);
  }

  /** Skips a length-delimited value: its bytes are buf[start, pos). */
  value(): void {
    const length = this.varint32();
    this.start = this.pos;
    if (length > this.end - this.pos) throw new Error(`length ${length} past the end of the message at offset ${this.pos}`);
    this.pos += length;
  }

  /** Skips a value of the current wire type (groups included). */
  skip(): void {
    switch (this.wire) {
      case VARINT:
        this.varint32();
        return;
      case FIXED64:
        this.advance(8);
        return;
      case LEN:
        this.value();
        return;
      case FIXED32:
        this.advance(4);
        return;
      case 3: {
        // A group: skip to its end tag.
        const group = this.field;
        for (;;) {
          if (this.done) throw new Error(`unterminated group ${group}`);
          this.tag();
          if ((this.wire as number) === 4) {
            if (this.field !== group) throw new Error(`group ${group} ended by tag of group ${this.field}`);
            return;
          }
          this.skip();
        }
      }
      default:
        throw new Error(`invalid wire type ${this.wire} at offset ${this.pos}`);
    }
  }

  private advance(bytes: number): void {
    if (bytes > this.end - this.pos) throw new Error(`truncated value at offset ${this.pos}`);
    this.pos += bytes;
  }
}
