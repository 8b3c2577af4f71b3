// Raw byte mutations of a valid message or body: what a broken or hostile
// client sends once the structure is gone. Returns [bytes, description].

const INTERESTING = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x0a, 0x12, 0x1a, 0x22, 0x5b, 0x5d, 0x7b, 0x7d, 0x22, 0x5c];

export function mutateBytes(rng, input) {
  const bytes = Buffer.from(input);
  const n = bytes.length;
  switch (rng.int(7)) {
    case 0: {
      const flips = rng.range(1, 8);
      for (let i = 0; i < flips && n; i++) bytes[rng.int(n)] ^= 1 << rng.int(8);
      return [bytes, `${flips} bit flips`];
    }
    case 1: {
      const at = rng.int(n + 1);
      return [bytes.subarray(0, at), `truncated at ${at}/${n}`];
    }
    case 2: {
      // Splice: a slice of the message inserted elsewhere in it.
      const from = rng.int(n + 1);
      const to = Math.min(n, from + rng.int(64));
      const at = rng.int(n + 1);
      return [Buffer.concat([bytes.subarray(0, at), bytes.subarray(from, to), bytes.subarray(at)]), `spliced ${to - from} bytes at ${at}`];
    }
    case 3: {
      const count = rng.range(1, 6);
      for (let i = 0; i < count && n; i++) bytes[rng.int(n)] = rng.pick(INTERESTING);
      return [bytes, `${count} interesting bytes`];
    }
    case 4: {
      const at = rng.int(n + 1);
      return [Buffer.concat([bytes.subarray(0, at), rng.bytes(rng.range(1, 32)), bytes.subarray(at)]), `random bytes inserted at ${at}`];
    }
    case 5: {
      // Varint-ish runs: 0xff... makes lengths and tags enormous.
      const at = rng.int(n + 1);
      return [Buffer.concat([bytes.subarray(0, at), Buffer.alloc(rng.range(1, 11), 0xff), bytes.subarray(at)]), `0xff run at ${at}`];
    }
    default:
      return [rng.bytes(rng.int(200)), 'random garbage'];
  }
}
