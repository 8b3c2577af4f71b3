// The shape guard and the embedded API's edges: shapes TensorFlow would
// abort the process on, packed strings, SharedArrayBuffer data, names that
// collide with Object.prototype, and float range. Every bad request gets a
// clean INVALID_ARGUMENT and the model keeps answering good ones, whether
// it runs directly, batched, or through an Engine's workers; the addon's
// own guard is tested with the TypeScript validation bypassed.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { Engine, type EngineModel, type Model, addon, loadModel } from '../src';
import type { NativeFeed, NativeModel } from '../src/engine/native';
import { type PackedStrings, type TensorInput, packStrings } from '../src/engine/tensor';
import { fixture, rejectsWithCode } from './helpers';

type Predictor = Pick<Model, 'predict'>;

/** Shapes TF's TensorShape aborts on (rank, negative, overflow) or that overflow the guard's counts. */
const BAD_SHAPES: Array<{ label: string; shape: number[]; pattern: RegExp }> = [
  { label: 'rank 255', shape: new Array<number>(255).fill(1), pattern: /input 'x'.*rank 255.*at most 254/ },
  { label: '[2^40, 2^40, 0]', shape: [2 ** 40, 2 ** 40, 0], pattern: /input 'x'.*more than 2\^53 elements/ },
  { label: '[0, 2^40, 2^40]', shape: [0, 2 ** 40, 2 ** 40], pattern: /input 'x'.*more than 2\^53 elements/ },
  { label: 'huge product', shape: [2 ** 26, 2 ** 26, 2 ** 26], pattern: /input 'x'.*more than 2\^53 elements/ },
  { label: 'negative dim', shape: [-1, 3], pattern: /input 'x': shape\[0\] is -1/ },
  { label: 'fractional dim', shape: [1.5, 2], pattern: /input 'x': shape\[0\] is 1\.5/ },
  { label: 'dim past 2^53', shape: [2 ** 60, 1], pattern: /input 'x': shape\[0\]/ },
];

const GOOD = { x: { shape: [2, 2], data: [1, 2, 3, 4] } };

async function assertAnswersGood(model: Predictor): Promise<void> {
  const out = await model.predict(GOOD, { signature: 'variable' });
  assert.deepEqual(out.y!.shape, [2, 2]);
  assert.deepEqual([...(out.y!.data as Float32Array)], [2, 4, 6, 8]);
}

/** Every bad shape, with and without validation against the signature's [-1, -1]. */
async function refusesBadShapes(model: Predictor): Promise<void> {
  for (const validateShapes of [false, true]) {
    for (const { label, shape, pattern } of BAD_SHAPES) {
      await rejectsWithCode(model.predict({ x: { shape, data: [] } }, { signature: 'variable', validateShapes }), 'INVALID_ARGUMENT', pattern).catch((error: Error) => {
        throw new Error(`${label} (validateShapes ${validateShapes}): ${error.message}`);
      });
    }
    await assertAnswersGood(model);
  }
}

async function refusesPrototypeNames(model: Predictor): Promise<void> {
  for (const name of ['toString', '__proto__', 'constructor', 'hasOwnProperty', 'valueOf']) {
    await rejectsWithCode(model.predict(GOOD, { signature: name }), 'INVALID_ARGUMENT', new RegExp(`signature '${name}' not found`));
    await rejectsWithCode(model.predict(GOOD, { signature: 'variable', outputs: [name] }), 'INVALID_ARGUMENT', new RegExp(`unknown output '${name}'`));
    const inputs = { x: GOOD.x } as Record<string, TensorInput>;
    Object.defineProperty(inputs, name, { value: GOOD.x, enumerable: true });
    await rejectsWithCode(model.predict(inputs, { signature: 'variable' }), 'INVALID_ARGUMENT', new RegExp(`unknown input '${name}'`));
  }
  // Malformed options are INVALID_ARGUMENT too, not TypeErrors.
  await rejectsWithCode(model.predict(GOOD, null as never), 'INVALID_ARGUMENT', /options must be an object/);
  await rejectsWithCode(model.predict(GOOD, { signature: 7 as never }), 'INVALID_ARGUMENT', /signature must be a string/);
  await rejectsWithCode(model.predict(GOOD, { signature: 'variable', outputs: 'y' as never }), 'INVALID_ARGUMENT', /outputs must be an array/);
  // An input object parsed from JSON may carry '__proto__' as an own key.
  const parsed = JSON.parse('{"__proto__": {"shape": [1], "data": [1]}}') as Record<string, TensorInput>;
  await rejectsWithCode(model.predict(parsed, { signature: 'variable' }), 'INVALID_ARGUMENT', /unknown input '__proto__'/);
  await assertAnswersGood(model);
}

function sharedFloats(values: number[]): Float32Array {
  const array = new Float32Array(new SharedArrayBuffer(values.length * 4));
  array.set(values);
  return array;
}

async function acceptsSharedMemory(model: Predictor): Promise<void> {
  const out = await model.predict({ x: { shape: [2, 2], data: sharedFloats([1, 2, 3, 4]) } }, { signature: 'variable' });
  assert.deepEqual([...(out.y!.data as Float32Array)], [2, 4, 6, 8]);
}

describe('shape guard: embedded predict()', () => {
  let model: Model;
  before(async () => {
    model = await loadModel(fixture('shapes'));
  });
  after(() => model.unload());

  test('shapes TF would abort on are INVALID_ARGUMENT naming the input, and the model keeps answering', () => refusesBadShapes(model));

  test('signature, input and output names that are Object.prototype members are clean errors', () => refusesPrototypeNames(model));

  test('SharedArrayBuffer-backed typed arrays are accepted (copied)', async () => {
    await acceptsSharedMemory(model);
    // The copy is taken at the call: writing the shared memory afterwards changes nothing.
    const data = sharedFloats([1, 1, 1, 1]);
    const answer = model.predict({ x: { shape: [2, 2], data } }, { signature: 'variable' });
    data.fill(100);
    assert.deepEqual([...((await answer).y!.data as Float32Array)], [2, 2, 2, 2]);
  });
});

describe('shape guard: batching (merge, padding, splitting)', () => {
  test('bad shapes are refused on a batched model, which keeps answering', async () => {
    const model = await loadModel(fixture('shapes'), { batching: { maxBatchSize: 4, batchTimeoutMicros: 1000, enableLargeBatchSplitting: true } });
    try {
      await refusesBadShapes(model);
      // A split request (6 rows, pieces of 4 + 2) still works.
      const out = await model.predict({ x: { shape: [6, 1], data: [1, 2, 3, 4, 5, 6] } }, { signature: 'variable' });
      assert.deepEqual([...(out.y!.data as Float32Array)], [2, 4, 6, 8, 10, 12]);
      await acceptsSharedMemory(model);
    } finally {
      await model.unload();
    }
  });

  test('ragged requests whose padded merge would overflow int64 run one by one instead of aborting', async () => {
    // Each is empty and valid on its own; padded to the widest of every dim
    // they would make [2, 2^32, 2^32], a shape TF aborts the process on.
    const model = await loadModel(fixture('shapes'), { batching: { maxBatchSize: 8, batchTimeoutMicros: 100_000, padVariableLengthInputs: true } });
    try {
      const [a, b] = await Promise.all([
        model.predict({ x: { shape: [1, 2 ** 32, 0], data: [] } }, { signature: 'variable', validateShapes: false }),
        model.predict({ x: { shape: [1, 0, 2 ** 32], data: [] } }, { signature: 'variable', validateShapes: false }),
      ]);
      assert.deepEqual(a.y!.shape, [1, 2 ** 32, 0]);
      assert.deepEqual(b.y!.shape, [1, 0, 2 ** 32]);
      assert.equal(model.batchingStats()[0]!.batches, 1, 'the two met in one batch');
      await assertAnswersGood(model);
    } finally {
      await model.unload();
    }
  });

  test('ragged requests whose padded merge would be huge run one by one', async () => {
    // 4 MiB each; padded together they would be [2, 2^20, 2^20] floats (8 TiB).
    const n = 2 ** 20;
    const model = await loadModel(fixture('shapes'), { batching: { maxBatchSize: 8, batchTimeoutMicros: 100_000, padVariableLengthInputs: true } });
    try {
      const [wide, tall] = await Promise.all([
        model.predict({ x: { shape: [1, 1, n], data: new Float32Array(n).fill(1) } }, { signature: 'variable', validateShapes: false }),
        model.predict({ x: { shape: [1, n, 1], data: new Float32Array(n).fill(3) } }, { signature: 'variable', validateShapes: false }),
      ]);
      assert.deepEqual(wide.y!.shape, [1, 1, n]);
      assert.deepEqual(tall.y!.shape, [1, n, 1]);
      assert.equal((wide.y!.data as Float32Array)[n - 1], 2);
      assert.equal((tall.y!.data as Float32Array)[n - 1], 6);
    } finally {
      await model.unload();
    }
  });

  test('a split that needs more batches than the queue holds is refused before slicing', async () => {
    // [2^40, 0] holds no element, so it passes the guard; split into pieces
    // of 4 it would be 2^38 tasks (the process died of std::bad_alloc).
    const model = await loadModel(fixture('shapes'), { batching: { maxBatchSize: 4, batchTimeoutMicros: 1000, maxEnqueuedBatches: 10, enableLargeBatchSplitting: true } });
    try {
      for (const rows of [2 ** 40, 41]) {
        const started = Date.now();
        await rejectsWithCode(model.predict({ x: { shape: [rows, 0], data: [] } }, { signature: 'variable', validateShapes: false }), 'UNAVAILABLE', /needs \d+ batches, and at most 10/);
        assert.ok(Date.now() - started < 1000, `refused in ${Date.now() - started} ms`);
      }
      // 40 rows are 10 pieces: they fit.
      const out = await model.predict({ x: { shape: [40, 0], data: [] } }, { signature: 'variable', validateShapes: false });
      assert.deepEqual(out.y!.shape, [40, 0]);
      await assertAnswersGood(model);
    } finally {
      await model.unload();
    }
  });
});

describe('shape guard: Engine with workers', () => {
  let engine: Engine;
  let model: EngineModel;
  before(async () => {
    engine = await Engine.create({ workers: 2 });
    model = await engine.load(fixture('shapes'), { batching: { maxBatchSize: 8, batchTimeoutMicros: 500 } });
  });
  after(() => engine.close());

  test('bad shapes are INVALID_ARGUMENT through the pool', () => refusesBadShapes(model));
  test('prototype names are clean errors through the pool', () => refusesPrototypeNames(model));
  test('SharedArrayBuffer data works through the pool', () => acceptsSharedMemory(model));
  test('inputs that cannot be cloned to a worker are INVALID_ARGUMENT', async () => {
    const inputs = { x: { shape: [1, 1], data: [1], extra: () => 1 } } as unknown as Record<string, TensorInput>;
    await rejectsWithCode(model.predict(inputs, { signature: 'variable' }), 'INVALID_ARGUMENT', /cannot be sent to a worker/);
    await assertAnswersGood(model);
  });
});

const WORDS = ['abc', 'Hello', '', 'tf serve ✓', 'x', 'MiXeD'];

function text(data: unknown): string[] {
  return (data as Uint8Array[]).map((b) => Buffer.from(b).toString());
}

describe('PackedStrings inputs', () => {
  test('embedded and through workers (buffers transferred), same answers as string[]', async () => {
    const direct = await loadModel(fixture('dtypes'));
    const engine = await Engine.create({ workers: 2 });
    try {
      const pooled = await engine.load(fixture('dtypes'));
      const want = await direct.predict({ x: { shape: [2, 3], data: WORDS } }, { signature: 'string' });
      assert.deepEqual(text(want.upper!.data), WORDS.map((w) => w.toUpperCase()));
      for (const target of [direct, pooled]) {
        const out = await target.predict({ x: { shape: [2, 3], data: packStrings(WORDS) } }, { signature: 'string' });
        assert.deepEqual(text(out.y!.data), WORDS);
        assert.deepEqual(text(out.upper!.data), text(want.upper!.data));
        assert.deepEqual([...(out.length!.data as Int32Array)], [...(want.length!.data as Int32Array)]);
      }
      const moved = packStrings(WORDS);
      const out = await pooled.predict({ x: { shape: [2, 3], data: moved } }, { signature: 'string', transferInputs: true });
      assert.equal(moved.bytes.byteLength, 0, 'bytes moved to the worker');
      assert.equal(moved.offsets.byteLength, 0, 'offsets moved to the worker');
      assert.deepEqual(text(out.y!.data), WORDS);
      // Packed strings on shared memory, and an empty tensor.
      const shared: PackedStrings = {
        bytes: new Uint8Array(new SharedArrayBuffer(3)).fill(0x61),
        offsets: new Uint32Array(new SharedArrayBuffer(16)),
      };
      shared.offsets.set([0, 1, 3, 3]);
      for (const target of [direct, pooled]) {
        const sharedOut = await target.predict({ x: { shape: [1, 3], data: shared } }, { signature: 'string' });
        assert.deepEqual(text(sharedOut.y!.data), ['a', 'aa', '']);
        const empty = await target.predict({ x: { shape: [0, 3], data: packStrings([]) } }, { signature: 'string' });
        assert.deepEqual(empty.y!.shape, [0, 3]);
        await rejectsWithCode(target.predict({ x: { shape: [2, 3], data: packStrings(['a']) } }, { signature: 'string' }), 'INVALID_ARGUMENT', /input 'x' has 1 packed strings/);
        const badOffsets: PackedStrings = { bytes: new Uint8Array(2), offsets: Uint32Array.from([0, 1, 5, 5]) };
        await rejectsWithCode(target.predict({ x: { shape: [1, 3], data: badOffsets } }, { signature: 'string' }), 'INVALID_ARGUMENT', /offsets\[2\] is 5, past the end of bytes \(2\)/);
      }
    } finally {
      await direct.unload();
      await engine.close();
    }
  });

  test('string outputs: Buffers over one buffer from Model.predict, Uint8Array views on one buffer through workers', async () => {
    const direct = await loadModel(fixture('dtypes'));
    const engine = await Engine.create({ workers: 1 });
    try {
      const pooled = await engine.load(fixture('dtypes'));
      for (const [target, buffers] of [[direct, 'Buffer'], [pooled, 'Uint8Array']] as const) {
        const out = await target.predict({ x: { shape: [2, 3], data: WORDS } }, { signature: 'string' });
        for (const name of ['y', 'upper']) {
          const items = out[name]!.data as Uint8Array[];
          assert.equal(items.length, WORDS.length);
          // The addon returns each string tensor packed: its elements share one ArrayBuffer.
          assert.ok(items.every((item) => item.buffer === items[0]!.buffer), `${name}: one buffer`);
          if (buffers === 'Buffer') assert.ok(items.every((item) => Buffer.isBuffer(item)), `${name}: Buffers`);
        }
        assert.notEqual((out.y!.data as Uint8Array[])[0]!.buffer, (out.upper!.data as Uint8Array[])[0]!.buffer);
        assert.deepEqual(text(out.upper!.data), WORDS.map((w) => w.toUpperCase()));
      }
      // All strings empty: a zero-byte buffer, still one per tensor.
      const empty = await pooled.predict({ x: { shape: [1, 3], data: ['', '', ''] } }, { signature: 'string' });
      assert.deepEqual(text(empty.y!.data), ['', '', '']);
    } finally {
      await direct.unload();
      await engine.close();
    }
  });

  test('plain arrays mixing strings, Buffers and shared-memory bytes give the same strings', async () => {
    const model = await loadModel(fixture('dtypes'));
    try {
      const shared = new Uint8Array(new SharedArrayBuffer(2));
      shared.set([0x68, 0x69]);
      const items = ['', '✓ ünï', Buffer.from('bytes'), shared, '\ud800', 'x'.repeat(1000)];
      const out = await model.predict({ x: { shape: [2, 3], data: items } }, { signature: 'string' });
      const want = items.map((item) => Buffer.from(item as string | Uint8Array));
      assert.deepEqual((out.y!.data as Uint8Array[]).map((b) => Buffer.from(b)), want);
      const empty = await model.predict({ x: { shape: [0, 3], data: [] } }, { signature: 'string' });
      assert.deepEqual(empty.y!.shape, [0, 3]);
    } finally {
      await model.unload();
    }
  });

  test('a string signature with two inputs takes packed and plain strings together', async () => {
    const model = await loadModel(fixture('multi_sig'));
    try {
      const out = await model.predict({ a: { shape: [2], data: packStrings(['tf', '']) }, b: { shape: [2], data: ['serve', 'x'] } }, { signature: 'concat' });
      assert.deepEqual(text(out.out!.data), ['tfserve', 'x']);
    } finally {
      await model.unload();
    }
  });
});

describe('float range of plain numbers', () => {
  test('finite values past a float dtype are refused; Infinity stays Infinity', async () => {
    const model = await loadModel(fixture('dtypes'));
    try {
      const refused: Array<[string, number]> = [
        ['float16', 1e10],
        ['float16', -65520],
        ['bfloat16', 1e39],
        ['float32', 3.5e38],
        ['float32', -1e39],
        ['complex64', 3.5e38],
      ];
      for (const [dtype, value] of refused) {
        const data = dtype === 'complex64' ? [0, 0, 0, 0, 0, value] : [0, 0, value];
        await rejectsWithCode(model.predict({ x: { shape: [1, 3], data } }, { signature: dtype }), 'INVALID_ARGUMENT', new RegExp(`input 'x': element ${data.length - 1} is .*out of range for dtype ${dtype}`));
      }
      // 1e400 is Infinity in JS: a legitimate Infinity for every float dtype.
      for (const dtype of ['float16', 'bfloat16', 'float32']) {
        const out = await model.predict({ x: { shape: [1, 3], data: [1e400, -Infinity, 65504] } }, { signature: dtype });
        assert.equal(out.y!.shape.join(), '1,3');
      }
      const f32 = await model.predict({ x: { shape: [1, 3], data: [1e400, 3.4e38, -1] } }, { signature: 'float32' });
      assert.deepEqual([...(f32.y!.data as Float32Array)].slice(0, 1), [Infinity]);
      const f64 = await model.predict({ x: { shape: [1, 3], data: [1e300, -1e300, 0] } }, { signature: 'float64' });
      assert.equal((f64.y!.data as Float64Array)[0], 1e300);
    } finally {
      await model.unload();
    }
  });
});

describe('the addon guard itself (TypeScript validation bypassed)', () => {
  test('refuses bad shapes and malformed string data in hand-made feeds, then runs a good one', async () => {
    const model = await loadModel(fixture('shapes'));
    const strings = await loadModel(fixture('dtypes'));
    const { model: raw } = await addon.loadSavedModel(model.exportDir, ['serve'], new Uint8Array(0));
    const { model: rawStrings } = await addon.loadSavedModel(strings.exportDir, ['serve'], new Uint8Array(0));
    const sig = model.signature('variable');
    const input = sig.inputs.x!.name;
    const fetch = [sig.outputs.y!.name];
    // The addon throws synchronously on a malformed feed: async turns that into a rejection.
    const run = async (m: NativeModel, feed: Omit<NativeFeed, 'name'>, name = input, fetches = fetch) => m.run([{ name, ...feed }], fetches);
    try {
      const f32 = (shape: number[], data: ArrayBufferView = new Float32Array(0)) => run(raw, { dtype: 1, shape, data });
      await rejectsWithCode(f32(new Array<number>(255).fill(1)), 'INVALID_ARGUMENT', /rank 255; TensorFlow accepts at most 254/);
      await rejectsWithCode(f32(new Array<number>(100_000).fill(1)), 'INVALID_ARGUMENT', /rank 100000/);
      await rejectsWithCode(f32([2 ** 40, 2 ** 40, 0]), 'INVALID_ARGUMENT', /\[1099511627776,1099511627776,0\] overflows/);
      await rejectsWithCode(f32([0, 2 ** 40, 2 ** 40]), 'INVALID_ARGUMENT', /overflows/);
      await rejectsWithCode(f32([2 ** 52, 2 ** 52]), 'INVALID_ARGUMENT', /overflows/);
      // Fits int64 as elements, but not as bytes (2^62 float32s).
      await rejectsWithCode(f32([2 ** 31, 2 ** 31]), 'INVALID_ARGUMENT', /holds 4611686018427387904 elements of 4 bytes: more bytes than 64 bits can count/);
      // Fits as bytes too: refused on the data's length, before anything is allocated.
      await rejectsWithCode(f32([2 ** 30, 2 ** 30]), 'INVALID_ARGUMENT', /data has 0 bytes but its dtype and shape need 4611686018427387904/);
      await rejectsWithCode(f32([-1, 2]), 'INVALID_ARGUMENT', /shape\[0\] must be a non-negative integer/);
      await rejectsWithCode(f32([2 ** 60]), 'INVALID_ARGUMENT', /shape\[0\] must be a non-negative integer below 2\^53/);
      await rejectsWithCode(f32([0.5]), 'INVALID_ARGUMENT', /shape\[0\]/);
      await rejectsWithCode(run(raw, { dtype: 1, shape: ['1' as unknown as number], data: new Float32Array(1) }), 'INVALID_ARGUMENT', /shape\[0\]/);
      await rejectsWithCode(f32([2, 2], new Float32Array(3)), 'INVALID_ARGUMENT', /data has 12 bytes but its dtype and shape need 16/);

      // Strings: the count is checked before a tensor of the shape's size is allocated.
      const sSig = strings.signature('string');
      const sRun = (shape: number[], data: NativeFeed['data']) => run(rawStrings, { dtype: 7, shape, data }, sSig.inputs.x!.name, [sSig.outputs.y!.name]);
      await rejectsWithCode(sRun([2 ** 40, 3], []), 'INVALID_ARGUMENT', /has 0 strings but its shape \[1099511627776,3\] holds 3298534883328/);
      await rejectsWithCode(sRun([2 ** 40, 3], packStrings([])), 'INVALID_ARGUMENT', /has 1 packed string offsets/);
      await rejectsWithCode(sRun([1, 3], { bytes: new Uint8Array(4), offsets: Uint32Array.from([1, 2, 3, 4]) }), 'INVALID_ARGUMENT', /offsets\[0\] is 1, not 0/);
      await rejectsWithCode(sRun([1, 3], { bytes: new Uint8Array(4), offsets: Uint32Array.from([0, 3, 2, 4]) }), 'INVALID_ARGUMENT', /offsets\[2\] is 2, below offsets\[1\] \(3\)/);
      await rejectsWithCode(sRun([1, 3], { bytes: new Uint8Array(4), offsets: Uint32Array.from([0, 1, 2, 5]) }), 'INVALID_ARGUMENT', /offsets\[3\] is 5, past the end of bytes \(4\)/);
      await rejectsWithCode(sRun([1, 3], { bytes: new Uint8Array(4), offsets: new Int32Array(4) } as unknown as PackedStrings), 'INVALID_ARGUMENT', /packed strings must be/);
      await rejectsWithCode(sRun([1, 3], ['a', 2 as unknown as string, 'c']), 'INVALID_ARGUMENT', /string element 1/);
      const packed = await sRun([1, 3], { bytes: Buffer.from('abcdef'), offsets: Uint32Array.from([0, 1, 3, 6]) });
      // The addon answers strings packed too: their bytes back to back, and offsets.
      assert.equal(Buffer.from(packed[0]!.data).toString(), 'abcdef');
      assert.deepEqual([...packed[0]!.offsets!], [0, 1, 3, 6]);

      // SharedArrayBuffer-backed data and a DataView, copied.
      const shared = sharedFloats([1, 2, 3, 4]);
      const [viaShared] = await f32([2, 2], shared);
      assert.deepEqual([...new Float32Array(viaShared!.data as ArrayBuffer)], [2, 4, 6, 8]);
      const [viaView] = await f32([1, 4], new DataView(shared.buffer));
      assert.deepEqual([...new Float32Array(viaView!.data as ArrayBuffer)], [2, 4, 6, 8]);
      // A malformed tensor name is refused, not wrapped into a negative output index.
      await rejectsWithCode(run(raw, { dtype: 1, shape: [1, 1], data: new Float32Array(1) }, input, [`${fetch[0]!.split(':')[0]}:2147483648`]), 'INVALID_ARGUMENT', /malformed tensor name/);
      const [good] = await f32([1, 2], Float32Array.from([5, 6]));
      assert.deepEqual([...new Float32Array(good!.data as ArrayBuffer)], [10, 12]);
    } finally {
      await raw.release();
      await rawStrings.release();
      await model.unload();
      await strings.unload();
    }
  });
});
