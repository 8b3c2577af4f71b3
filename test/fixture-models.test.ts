// Shapes, several signatures and versions, a Keras model, a stateful model.
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';

import { loadModel } from '../src';
import { assertClose, fixture, readJson, rejectsWithCode } from './helpers';

describe('shapes', () => {
  test('fixed, variable and scalar shapes', async () => {
    const model = await loadModel(fixture('shapes'));
    try {
      const fixed = await model.predict({ x: { shape: [2, 3], data: [0, 1, 2, 3, 4, 5] } }, { signature: 'fixed' });
      assert.deepEqual([...(fixed.y!.data as Float32Array)], [0, 2, 4, 6, 8, 10]);
      await rejectsWithCode(model.predict({ x: { shape: [3, 3], data: new Array(9).fill(0) } }, { signature: 'fixed' }), 'INVALID_ARGUMENT', /expects \[2,3\]/);

      const variable = await model.predict({ x: { shape: [4, 5], data: new Array(20).fill(1.5) } }, { signature: 'variable' });
      assert.deepEqual(variable.y!.shape, [4, 5]);
      assert.ok([...(variable.y!.data as Float32Array)].every((v) => v === 3));

      const scalar = await model.predict({ x: { shape: [2, 3], data: [0, 1, 2, 3, 4, 5] } }, { signature: 'scalar' });
      assert.deepEqual(scalar.total!.shape, []);
      assert.deepEqual([...(scalar.total!.data as Float32Array)], [15]);

      const scalarIn = await model.predict({ s: { shape: [], data: [41] } }, { signature: 'scalar_in' });
      assert.deepEqual(scalarIn.y!.shape, []);
      assert.deepEqual([...(scalarIn.y!.data as Float32Array)], [42]);

      const multi = await model.predict(
        { a: { shape: [3], data: [1, 2, 3.5] }, b: { shape: [3], data: [4, -5, 0.5] } },
        { signature: 'multi_out', outputs: ['product', 'sum'] },
      );
      assert.deepEqual(Object.keys(multi).sort(), ['product', 'sum']);
      assert.deepEqual([...(multi.sum!.data as Float32Array)], [5, -3, 4]);
      assert.deepEqual([...(multi.product!.data as Float32Array)], [4, -10, 1.75]);
    } finally {
      await model.unload();
    }
  });
});

describe('several signatures and versions', () => {
  test('signatures are listed with their method, inputs and outputs', async () => {
    const model = await loadModel(fixture('multi_sig'));
    try {
      assert.deepEqual(Object.keys(model.signatures).sort(), ['add', 'concat', 'serving_default']);
      const add = model.signatures.add!;
      assert.equal(add.methodName, 'tensorflow/serving/predict');
      assert.deepEqual(Object.keys(add.inputs), ['a', 'b']);
      assert.equal(add.inputs.a!.dtype, 'int32');
      assert.deepEqual(add.inputs.a!.shape, [-1]);

      const sum = await model.predict({ a: { shape: [3], data: [1, 2, 3] }, b: { shape: [3], data: [10, 20, 30] } }, { signature: 'add' });
      assert.deepEqual([...(sum.out!.data as Int32Array)], [11, 22, 33]);
      const joined = await model.predict({ a: { shape: [2], data: ['foo', 'tf'] }, b: { shape: [2], data: ['bar', 'serve'] } }, { signature: 'concat' });
      assert.deepEqual((joined.out!.data as Uint8Array[]).map((b) => Buffer.from(b).toString()), ['foobar', 'tfserve']);
    } finally {
      await model.unload();
    }
  });

  test('versions side by side: the highest by default, any by number', async () => {
    const base = fixture('multi_sig');
    const v2 = await loadModel(base);
    const v1 = await loadModel(base, { version: 1 });
    try {
      assert.deepEqual(v2.versions, [1, 2]);
      assert.equal(v2.version, 2);
      const x = { x: { shape: [1, 2], data: [0, 0] } };
      // With x = 0 the output is the bias, which version 2 doubles.
      const [y1, y2] = await Promise.all([v1.predict(x), v2.predict(x)]);
      const b1 = [...(y1.y!.data as Float32Array)];
      assertClose(y2.y!.data as Float32Array, b1.map((b) => 2 * b), 1e-6, 'bias');
      assert.ok(b1.some((b) => b !== 0));
    } finally {
      await Promise.all([v1.unload(), v2.unload()]);
    }
  });
});

test('a Keras model saved with tf.saved_model.save matches TF Python', async () => {
  const base = fixture('keras_mlp');
  const ref = readJson<{ signature: string; input_name: string; output_name: string; inputs: number[][]; outputs: number[][] }>(path.join(base, 'reference.json'));
  const model = await loadModel(base);
  try {
    const rows = ref.inputs.length;
    const out = await model.predict(
      { [ref.input_name]: { dtype: 'float32', shape: [rows, ref.inputs[0]!.length], data: ref.inputs.flat() } },
      { signature: ref.signature },
    );
    const probs = out[ref.output_name]!;
    assert.deepEqual(probs.shape, [rows, ref.outputs[0]!.length]);
    assertClose(probs.data as Float32Array, ref.outputs.flat(), 1e-6, 'probs');
  } finally {
    await model.unload();
  }
});

test('a stateful model increments once per call', async () => {
  const model = await loadModel(fixture('counter'));
  try {
    const counts: bigint[] = [];
    for (let i = 0; i < 5; i++) {
      const out = await model.predict({ x: { shape: [1, 1], data: [i] } });
      assert.equal(out.count!.dtype, 'int64');
      counts.push((out.count!.data as BigInt64Array)[0]!);
    }
    assert.deepEqual(counts, [1n, 2n, 3n, 4n, 5n]);
  } finally {
    await model.unload();
  }
});

test('session options: thread pools and GPU options load on a CPU build (soft placement); bad values are refused', async () => {
  const model = await loadModel(fixture('multi_sig'), {
    session: { intraOpThreads: 1, interOpThreads: 2, gpu: { visibleDevices: '0', allowGrowth: true, memoryFraction: 0.5 } },
  });
  try {
    const out = await model.predict({ x: { shape: [1, 2], data: [0, 0] } });
    assert.deepEqual(out.y!.shape, [1, 3]);
  } finally {
    await model.unload();
  }
  await assert.rejects(loadModel(fixture('multi_sig'), { session: { intraOpThreads: -1 } }), /session.intraOpThreads must be an integer >= 0/);
  await assert.rejects(loadModel(fixture('multi_sig'), { session: { gpu: { memoryFraction: 1.5 } } }), /memoryFraction must be in \(0, 1\]/);
});
