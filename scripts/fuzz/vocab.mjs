// The hostile values mutations draw from: names, dimensions, number literals.

/** Names that hit built-in properties of plain objects, or that are odd in other ways. */
export const EVIL_NAMES = [
  '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'prototype', '__defineGetter__',
  '', ' ', '\u0000', '名字', 'x\u0301', '\ud83d\ude00', '\ud800', '../../etc/passwd', '%2F', 'a/b', 'a:b', 'x'.repeat(10000),
];

/** Dimensions TF refuses or that overflow: negative, huge, past int64 when multiplied. */
export const EVIL_DIMS = [-1, -2, -(2 ** 40), 0, 1, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 40, 2 ** 53 - 1, 2 ** 62, 2 ** 63];

/** Whole shapes known to be interesting. */
export const EVIL_SHAPES = [
  [2 ** 40, 2 ** 40, 0],
  [0, 2 ** 62, 2 ** 62],
  [5592405, 3],
  [2 ** 31, 2 ** 31],
  [-1, 3],
  [3, -1],
  [0],
  [],
  [1, 0, 2 ** 53 - 1],
];

/** JSON number literals (as text) for float/int fields. */
export const NUMBER_LITERALS = [
  '1e400', '-1e400', '3.5e38', '-3.5e38', '3.4028235e38', '1e-400', '4.9e-324', '-0', '0', '1', '65504', '65520', '1e10',
  '2147483647', '2147483648', '-2147483649', '4294967296', '9007199254740993', '9223372036854775807', '9223372036854775808',
  '18446744073709551616', '-9223372036854775809', '1.5', '0.1', '1E5', '1e+5',
];

/** Tokens that are not JSON numbers though some parsers accept them. */
export const BAD_NUMBER_TOKENS = ['NaN', 'Infinity', '-Infinity', 'nan', 'inf', '+1', '01', '.5', '5.', '0x10', '1e', '--1', '1_000'];

/** rank-`rank` shape of small dims (1 mostly) so the element count stays small. */
export function smallShape(rng, rank) {
  const shape = new Array(rank);
  for (let i = 0; i < rank; i++) shape[i] = rng.chance(0.9) ? 1 : rng.range(0, 3);
  return shape;
}

/** A mutated shape: long rank, an evil dim, or an evil whole shape. */
export function evilShape(rng, base) {
  switch (rng.int(5)) {
    case 0: return smallShape(rng, rng.pick([253, 254, 255, 256, 300, rng.range(1, 300)]));
    case 1: {
      const shape = base.length ? [...base] : [1];
      shape[rng.int(shape.length)] = rng.pick(EVIL_DIMS);
      return shape;
    }
    case 2: return [...rng.pick(EVIL_SHAPES)];
    case 3: return smallShape(rng, rng.range(0, 6));
    default: {
      const shape = base.length ? [...base] : [1];
      shape.push(rng.pick(EVIL_DIMS));
      return shape;
    }
  }
}

export function evilName(rng) {
  return rng.pick(EVIL_NAMES);
}
