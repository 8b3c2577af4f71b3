// How much memory decoding one request may take. A request's decoded tensors
// may take `factor` times its size on the wire, at least `floorBytes` (so a
// small request may still broadcast one value over a modest shape) and never
// more than `maxBytes`. Decoders count elements and bytes from the wire
// before they allocate, charge them to the request's budget, and refuse with
// INVALID_ARGUMENT naming the input and the flag once it is spent.
import { invalidArgument } from '../engine/errors';

export interface DecodeLimits {
  /** Decoded bytes allowed per byte of request (--request_decode_factor). */
  factor: number;
  /** Decoded bytes any request may take whatever its size (--request_decode_floor_bytes). */
  floorBytes: number;
  /** Decoded bytes no request may pass (--request_decode_max_bytes). */
  maxBytes: number;
}

export const DEFAULT_DECODE_LIMITS: Readonly<DecodeLimits> = Object.freeze({
  factor: 16,
  floorBytes: 16 * 1024 * 1024,
  maxBytes: 1024 * 1024 * 1024,
});

/**
 * What one string element costs beside its bytes: TensorFlow's TF_TString
 * (24 bytes) plus its offset in the packed JS form (4 bytes), rounded up.
 */
export const STRING_ELEMENT_COST = 32;

/** The decoded bytes of `elements` of a fixed-size dtype, or of strings with `stringBytes` of content. */
export function tensorCost(elements: number, bytesPerElement: number | 'string', stringBytes = 0): number {
  return bytesPerElement === 'string' ? elements * STRING_ELEMENT_COST + stringBytes : elements * bytesPerElement;
}

/** One request's budget: charge() every tensor before allocating it. */
export class DecodeBudget {
  readonly limit: number;
  private spent = 0;

  constructor(wireBytes: number, limits: Readonly<DecodeLimits> = DEFAULT_DECODE_LIMITS) {
    this.limit = Math.min(limits.maxBytes, Math.max(limits.floorBytes, wireBytes * limits.factor));
  }

  /** Adds `bytes` for `what` (e.g. "input 'x'"); throws INVALID_ARGUMENT past the limit. */
  charge(bytes: number, what: string): void {
    this.spent += bytes;
    if (!(this.spent <= this.limit)) {
      throw invalidArgument(
        `${what}: decoding this request would take ${Math.ceil(this.spent)} bytes, over its limit of ${this.limit} ` +
          '(--request_decode_factor x request size, at least --request_decode_floor_bytes, at most --request_decode_max_bytes)',
      );
    }
  }

  get spentBytes(): number {
    return this.spent;
  }
}
