// Reads the one FlexBuffer shape TF Serving writes into a TFLite model's
// "signature_defs_metadata" entry: a map from signature key to a serialized
// tensorflow.SignatureDef (tensorflow/lite/tools/signature/signature_def_util).
// FlexBuffers are read from the end: the last byte is the root's byte width,
// the one before it the root's packed type, and offsets point backwards.
// Every read is bounds-checked: the bytes come from a model file.

const TYPE_KEY = 4;
const TYPE_STRING = 5;
const TYPE_MAP = 9;
const TYPE_BLOB = 25;

class FlexReader {
  constructor(private readonly bytes: Uint8Array) {}

  fail(what: string): never {
    throw new Error(`malformed FlexBuffer: ${what}`);
  }

  /** An unsigned little-endian integer of `width` bytes at `at`. */
  uint(at: number, width: number): number {
    if (![1, 2, 4, 8].includes(width) || at < 0 || at + width > this.bytes.length) this.fail(`read of ${width} bytes at ${at}`);
    let value = 0;
    for (let i = width - 1; i >= 0; i--) value = value * 256 + this.bytes[at + i]!;
    if (!Number.isSafeInteger(value)) this.fail(`offset ${value} at ${at}`);
    return value;
  }

  /** The position an offset stored at `at` points to (offsets go backwards). */
  indirect(at: number, width: number): number {
    const target = at - this.uint(at, width);
    if (target < 0) this.fail(`offset before the buffer at ${at}`);
    return target;
  }

  /** A NUL-terminated key at `at`. */
  key(at: number): string {
    const end = this.bytes.indexOf(0, at);
    if (end < 0) this.fail(`unterminated key at ${at}`);
    return Buffer.from(this.bytes.buffer, this.bytes.byteOffset + at, end - at).toString('utf8');
  }

  /** A string or blob at `at`: its size is stored just before it, at the element width. */
  sized(at: number, width: number): Uint8Array {
    const size = this.uint(at - width, width);
    if (at + size > this.bytes.length) this.fail(`value of ${size} bytes at ${at}`);
    return this.bytes.subarray(at, at + size);
  }
}

/** The map of string/blob values at the root of `bytes`, by key. Throws on anything else. */
export function readFlexStringMap(bytes: Uint8Array): Map<string, Uint8Array> {
  const r = new FlexReader(bytes);
  if (bytes.length < 3) r.fail('too short');
  const rootWidth = bytes[bytes.length - 1]!;
  const rootType = bytes[bytes.length - 2]!;
  if (rootType >> 2 !== TYPE_MAP) r.fail(`the root is of type ${rootType >> 2}, not a map`);
  const width = 1 << (rootType & 3);
  const rootAt = bytes.length - 2 - rootWidth;
  const values = r.indirect(rootAt, rootWidth);
  // Before a map's values: its keys vector's offset and byte width, then its size.
  const size = r.uint(values - width, width);
  const keysAt = r.indirect(values - 3 * width, width);
  const keysWidth = r.uint(values - 2 * width, width);
  if (r.uint(keysAt - keysWidth, keysWidth) !== size) r.fail('keys and values differ in count');
  const result = new Map<string, Uint8Array>();
  for (let i = 0; i < size; i++) {
    const key = r.key(r.indirect(keysAt + i * keysWidth, keysWidth));
    const packed = r.uint(values + size * width + i, 1);
    const type = packed >> 2;
    if (type !== TYPE_STRING && type !== TYPE_BLOB && type !== TYPE_KEY) r.fail(`value of '${key}' is of type ${type}, not a string`);
    const at = r.indirect(values + i * width, width);
    result.set(key, type === TYPE_KEY ? Buffer.from(r.key(at)) : r.sized(at, 1 << (packed & 3)));
  }
  return result;
}
