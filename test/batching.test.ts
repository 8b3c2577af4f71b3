// Native micro-batching: same answers as unbatched runs, TF Serving's
// BatchingParameters semantics, deadlines and cancellation.
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';

import { type BatchingOptions, type Model, loadModel } from '../src';
import { assertClose, fixture, readJson, rejectsWithCode } from './helpers';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Relative closeness: |a-b| <= tol * max(1, |b|). */
function assertRelClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < expected.length; i++) {
    const scale = Math.max(1, Math.abs(expected[i]!));
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= tol * scale, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

describe('batched results equal unbatched results', () => {
  test('the seed CNN, 64 concurrent single-image requests', async () => {
    const base = fixture('gaofei_cnn');
    const ref = readJson<{ images: number[][] }>(path.join(base, 'reference.json'));
    const plain = await loadModel(base);
    // Full batches of 16 close at once; the long timeout only keeps the
    // composition deterministic (requests are queued in submission order).
    const batched = await loadModel(base, { batching: { maxBatchSize: 16, batchTimeoutMicros: 1_000_000 } });
    try {
      const image = (i: number) => Float32Array.from(ref.images[i]!);
      const singles = await Promise.all(ref.images.map((_, i) => batched.predict({ image: { shape: [1, 28, 28], data: image(i) } })));
      const [stats] = batched.batchingStats();
      assert.equal(stats!.requests, 64);
      assert.equal(stats!.batches, 4);
      for (let b = 0; b < 4; b++) {
        // Batching adds no error of its own: each answer is bit-identical to
        // the same 16 images run as one batch directly.
        const direct = await plain.predict({ image: { shape: [16, 28, 28], data: Float32Array.from(ref.images.slice(16 * b, 16 * b + 16).flat()) } });
        for (let k = 0; k < 16; k++) {
          assert.deepEqual(singles[16 * b + k]!.softmax!.data, (direct.softmax!.data as Float32Array).slice(10 * k, 10 * k + 10));
        }
      }
      // And it matches unbatched single-image runs within TF's own variance
      // across batch sizes (oneDNN picks other conv kernels for batch 16 than
      // for batch 1: up to ~1.1e-6 on these images, with or without tfserve).
      for (let i = 0; i < 64; i++) {
        const alone = await plain.predict({ image: { shape: [1, 28, 28], data: image(i) } });
        assertRelClose(singles[i]!.softmax!.data as Float32Array, alone.softmax!.data as Float32Array, 2e-6, `softmax ${i}`);
        assert.deepEqual(singles[i]!.prediction!.data, alone.prediction!.data);
      }
    } finally {
      await Promise.all([plain.unload(), batched.unload()]);
    }
  });

  test('the Keras model and every dtype', async () => {
    const batching: BatchingOptions = { maxBatchSize: 8, batchTimeoutMicros: 2000 };
    const keras = fixture('keras_mlp');
    const ref = readJson<{ inputs: number[][]; outputs: number[][] }>(path.join(keras, 'reference.json'));
    const model = await loadModel(keras, { batching });
    try {
      const outs = await Promise.all(ref.inputs.map((row) => model.predict({ features: { shape: [1, 8], data: row } })));
      outs.forEach((out, i) => assertClose(out.probs!.data as Float32Array, ref.outputs[i]!, 1e-6, `row ${i}`));
    } finally {
      await model.unload();
    }
    const dtypes = await loadModel(fixture('dtypes'), { batching });
    try {
      const rows = [['a', 'bb', 'ccc'], ['', 'x'.repeat(40), 'é']];
      const outs = await Promise.all(rows.map((row) => dtypes.predict({ x: { shape: [1, 3], data: row } }, { signature: 'string' })));
      // tf.strings.upper changes ASCII letters only.
      outs.forEach((out, i) => assert.deepEqual((out.upper!.data as Uint8Array[]).map((b) => Buffer.from(b).toString()), rows[i]!.map((s) => s.replace(/[a-z]/g, (c) => c.toUpperCase()))));
      const ints = await Promise.all([1n, 2n, 3n].map((v) => dtypes.predict({ x: { shape: [1, 3], data: [v, -v, v * 1000n] } }, { signature: 'int64' })));
      ints.forEach((out, i) => assert.deepEqual([...(out.doubled!.data as BigInt64Array)], [2n, -2n, 2000n].map((d) => d * BigInt(i + 1))));
    } finally {
      await dtypes.unload();
    }
  });
});

describe('batching parameters', () => {
  test('requests with different non-batch dims are never merged', async () => {
    const model = await loadModel(fixture('shapes'), { batching: { maxBatchSize: 32, batchTimeoutMicros: 20000 } });
    try {
      const widths = [2, 3, 2, 5, 3, 2];
      const outs = await Promise.all(widths.map((w, i) => model.predict({ x: { shape: [1, w], data: new Array(w).fill(i) } }, { signature: 'variable' })));
      outs.forEach((out, i) => {
        assert.deepEqual(out.y!.shape, [1, widths[i]]);
        assert.ok([...(out.y!.data as Float32Array)].every((v) => v === 2 * i));
      });
      const [stats] = model.batchingStats();
      assert.equal(stats!.requests, 6);
      assert.ok(stats!.batches >= 3, 'one batch per distinct width at least');
    } finally {
      await model.unload();
    }
  });

  test('pad_variable_length_inputs merges different widths, padding with zeros', async () => {
    const model = await loadModel(fixture('shapes'), { batching: { maxBatchSize: 32, batchTimeoutMicros: 20000, padVariableLengthInputs: true } });
    try {
      const outs = await Promise.all([
        model.predict({ x: { shape: [1, 2], data: [1, 2] } }, { signature: 'variable' }),
        model.predict({ x: { shape: [2, 3], data: [3, 4, 5, 6, 7, 8] } }, { signature: 'variable' }),
      ]);
      // Outputs have the padded width, as in TF Serving.
      assert.deepEqual(outs[0].y!.shape, [1, 3]);
      assert.deepEqual([...(outs[0].y!.data as Float32Array)], [2, 4, 0]);
      assert.deepEqual([...(outs[1].y!.data as Float32Array)], [6, 8, 10, 12, 14, 16]);
      assert.equal(model.batchingStats()[0]!.batches, 1);
    } finally {
      await model.unload();
    }
  });

  test('a split request whose pieces ran in batches of different widths is reassembled at the widest', async () => {
    const model = await loadModel(fixture('shapes'), {
      batching: { maxBatchSize: 4, batchTimeoutMicros: 50000, padVariableLengthInputs: true, enableLargeBatchSplitting: true },
    });
    try {
      // Five rows of width 2 split 4 + 1; the last piece shares a batch with a
      // width-6 request, so its output comes back 6 wide.
      const narrow = Array.from({ length: 10 }, (_, i) => i + 1);
      const [split, wide] = await Promise.all([
        model.predict({ x: { shape: [5, 2], data: narrow } }, { signature: 'variable' }),
        model.predict({ x: { shape: [1, 6], data: [1, 1, 1, 1, 1, 1] } }, { signature: 'variable' }),
      ]);
      assert.deepEqual(split.y!.shape, [5, 6]);
      const want = Array.from({ length: 5 }, (_, r) => [2 * narrow[2 * r]!, 2 * narrow[2 * r + 1]!, 0, 0, 0, 0]).flat();
      assert.deepEqual([...(split.y!.data as Float32Array)], want);
      assert.deepEqual([...(wide.y!.data as Float32Array)], [2, 2, 2, 2, 2, 2]);
    } finally {
      await model.unload();
    }
  });

  test('allowed_batch_sizes pads batches up; padded rows never reach a caller', async () => {
    const model = await loadModel(fixture('multi_sig'), { batching: { maxBatchSize: 8, allowedBatchSizes: [4, 8], batchTimeoutMicros: 20000 } });
    const plain = await loadModel(fixture('multi_sig'));
    try {
      const xs = [[1, 2], [3, 4], [5, 6]];
      const outs = await Promise.all(xs.map((x) => model.predict({ x: { shape: [1, 2], data: x } })));
      const want = await plain.predict({ x: { shape: [3, 2], data: xs.flat() } });
      outs.forEach((out, i) => {
        assert.deepEqual(out.y!.shape, [1, 3]);
        assertClose(out.y!.data as Float32Array, (want.y!.data as Float32Array).subarray(i * 3, i * 3 + 3), 1e-6, `row ${i}`);
      });
      const [stats] = model.batchingStats();
      assert.equal(stats!.rows, 3);
      assert.equal(stats!.paddedRows, 1);
      await rejectsWithCode(loadModel(fixture('multi_sig'), { batching: { maxBatchSize: 8, allowedBatchSizes: [4, 6] } }), 'INVALID_ARGUMENT', /must equal batching.maxBatchSize/);
    } finally {
      await Promise.all([model.unload(), plain.unload()]);
    }
  });

  test('a request larger than max_batch_size: INVALID_ARGUMENT, or split when enabled', async () => {
    const rows = Array.from({ length: 10 }, (_, i) => [i, -i]);
    const strict = await loadModel(fixture('multi_sig'), { batching: { maxBatchSize: 4 } });
    const splitting = await loadModel(fixture('multi_sig'), { batching: { maxBatchSize: 4, enableLargeBatchSplitting: true } });
    const plain = await loadModel(fixture('multi_sig'));
    try {
      await rejectsWithCode(strict.predict({ x: { shape: [10, 2], data: rows.flat() } }), 'INVALID_ARGUMENT', /Task size 10 is larger than maximum batch size 4/);
      const out = await splitting.predict({ x: { shape: [10, 2], data: rows.flat() } });
      const want = await plain.predict({ x: { shape: [10, 2], data: rows.flat() } });
      assert.deepEqual(out.y!.shape, [10, 3]);
      assertClose(out.y!.data as Float32Array, want.y!.data as Float32Array, 1e-6, 'split');
      assert.ok(splitting.batchingStats()[0]!.batches >= 3);
    } finally {
      await Promise.all([strict.unload(), splitting.unload(), plain.unload()]);
    }
  });

  test('a full queue answers UNAVAILABLE at once; the others are served', async () => {
    const base = fixture('gaofei_cnn');
    const model = await loadModel(base, { batching: { maxBatchSize: 1, maxEnqueuedBatches: 2, numBatchThreads: 1 } });
    try {
      const image = new Float32Array(784).fill(0.5);
      const results = await Promise.allSettled(Array.from({ length: 40 }, () => model.predict({ image: { shape: [1, 28, 28], data: image } })));
      const rejected = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
      const served = results.filter((r) => r.status === 'fulfilled');
      assert.ok(rejected.length > 0, 'some requests overflowed the queue');
      assert.ok(served.length > 0, 'the queue kept serving');
      for (const r of rejected) {
        assert.equal(r.reason.code, 'UNAVAILABLE');
        assert.match(r.reason.message, /batch scheduling queue .* is full/);
      }
      const after = await model.predict({ image: { shape: [1, 28, 28], data: image } });
      assert.equal(after.prediction!.shape[0], 1);
    } finally {
      await model.unload();
    }
  });

  test('busyBatchTimeoutMicros: an idle model runs a request at once; a busy one fills the next batch', async () => {
    const base = fixture('gaofei_cnn');
    // A busy wait of a minute: were it applied to an idle model, the lone
    // request below would not come back within the test's bound.
    const batching: BatchingOptions = { maxBatchSize: 512, batchTimeoutMicros: 0, busyBatchTimeoutMicros: 60_000_000, numBatchThreads: 2, maxEnqueuedBatches: 8 };
    const model = await loadModel(base, { batching });
    try {
      const one = { image: { shape: [1, 28, 28], data: new Float32Array(784).fill(0.25) } };
      const started = Date.now();
      await model.predict(one);
      assert.ok(Date.now() - started < 10_000, 'a request to an idle model runs at once');
      const before = model.batchingStats()[0]!;
      // A full batch of 512 rows starts on one batch thread at once (tens of
      // ms of CNN); the 7 single rows queued right behind it wait for it, with
      // the second batch thread free, and then run as one batch, not as
      // whatever had arrived when that thread looked.
      const t0 = Date.now();
      const order: string[] = [];
      const full = model.predict({ image: { shape: [512, 28, 28], data: new Float32Array(512 * 784).fill(0.5) } }).finally(() => order.push('full'));
      const singles = Array.from({ length: 7 }, () => model.predict(one).finally(() => order.push('single')));
      const [big, ...small] = await Promise.all([full, ...singles]);
      // Without the busy wait, the free thread runs the first single (~1 ms)
      // long before the 512 rows are done.
      assert.equal(order[0], 'full', `answer order: ${order.join(', ')}`);
      assert.ok(Date.now() - t0 < 10_000, 'the waiting batch ran when the running one ended, not after the busy timeout');
      assert.equal(big!.prediction!.shape[0], 512);
      for (const out of small) assert.equal(out.prediction!.shape[0], 1);
      const after = model.batchingStats()[0]!;
      assert.equal(after.batches - before.batches, 2, 'the full batch, then one batch of the 7 rows');
      assert.equal(after.rows - before.rows, 519);
    } finally {
      await model.unload();
    }
    await assert.rejects(loadModel(base, { batching: { busyBatchTimeoutMicros: -1 } }), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'INVALID_ARGUMENT');
      assert.match(error.message, /batching\.busyBatchTimeoutMicros must be an integer >= 0/);
      return true;
    });
  });

  test('a busy timeout shorter than the idle one: a waiting batch runs as soon as another batch starts', async () => {
    // Idle: a batch may wait 10 s to fill; while another batch runs, not at all.
    const batching: BatchingOptions = { maxBatchSize: 4, batchTimeoutMicros: 10_000_000, busyBatchTimeoutMicros: 0, numBatchThreads: 2 };
    const model = await loadModel(fixture('shapes'), { batching });
    try {
      const t0 = Date.now();
      // One row of width 3 opens a batch that waits on the idle timeout...
      const small = model.predict({ x: { shape: [1, 3], data: [1, 2, 3] } }, { signature: 'variable' });
      await sleep(200);
      // ...then a full batch of another width (its own batch) starts on the
      // other thread, for tens of ms: the waiting batch is due from then on,
      // and its sleeping thread must notice rather than sleep out the 10 s.
      const width = 4_000_000;
      const big = model.predict({ x: { shape: [4, width], data: new Float32Array(4 * width).fill(1) } }, { signature: 'variable' });
      const [one, four] = await Promise.all([small, big]);
      assert.ok(Date.now() - t0 < 5000, `the waiting batch ran after ${Date.now() - t0} ms, not when the other batch started`);
      assert.deepEqual([...(one.y!.data as Float32Array)], [2, 4, 6]);
      assert.deepEqual(four.y!.shape, [4, width]);
      assert.equal(model.batchingStats()[0]!.batches, 2);
    } finally {
      await model.unload();
    }
  });

  test('an output without a batch dim fails the batch with FAILED_PRECONDITION naming it', async () => {
    const model = await loadModel(fixture('counter'), { batching: { maxBatchSize: 8 } });
    try {
      await rejectsWithCode(model.predict({ x: { shape: [1, 1], data: [1] } }), 'FAILED_PRECONDITION', /output 'count' .*not the batch size 1.*turn batching off/);
      await rejectsWithCode(model.predict({ s: { shape: [], data: [1] } } as never), 'INVALID_ARGUMENT', /unknown input 's'/);
    } finally {
      await model.unload();
    }
    const scalarIn = await loadModel(fixture('shapes'), { batching: { maxBatchSize: 8 } });
    try {
      await rejectsWithCode(scalarIn.predict({ s: { shape: [], data: [1] } }, { signature: 'scalar_in' }), 'INVALID_ARGUMENT', /batching needs a batch dimension/);
    } finally {
      await scalarIn.unload();
    }
  });
});

describe('deadlines, cancellation and state', () => {
  // The counter increments once per run of its signature; batched runs fetch
  // only `y` (which has a batch dim) and still increment it.
  const counterBatching: BatchingOptions = { maxBatchSize: 64, batchTimeoutMicros: 300_000 };
  const count = async (model: Model) => ((await model.predict({ x: { shape: [1, 1], data: [0] } })).count!.data as BigInt64Array)[0]!;

  test('a request cancelled or expired while queued never runs', async () => {
    const plain = await loadModel(fixture('counter'));
    const batched = await loadModel(fixture('counter'), { batching: counterBatching });
    try {
      const before = await count(plain);
      const controller = new AbortController();
      const cancelled = batched.predict({ x: { shape: [1, 1], data: [1] } }, { outputs: ['y'], signal: controller.signal });
      const expired = batched.predict({ x: { shape: [1, 1], data: [2] } }, { outputs: ['y'], timeoutMs: 20 });
      setTimeout(() => controller.abort(), 10);
      await rejectsWithCode(cancelled, 'CANCELLED');
      await rejectsWithCode(expired, 'DEADLINE_EXCEEDED');
      await sleep(400); // past the batch timeout: the batch would have run by now
      assert.equal(await count(plain), before + 1n, 'only the counting call itself ran');

      // A request already aborted is answered without being queued.
      const aborted = new AbortController();
      aborted.abort();
      await rejectsWithCode(batched.predict({ x: { shape: [1, 1], data: [3] } }, { outputs: ['y'], signal: aborted.signal }), 'CANCELLED');
      // Others in the same batch are unaffected.
      const controller2 = new AbortController();
      const [gone, kept] = await Promise.allSettled([
        batched.predict({ x: { shape: [1, 1], data: [4] } }, { outputs: ['y'], signal: controller2.signal }),
        batched.predict({ x: { shape: [1, 1], data: [5] } }, { outputs: ['y'] }),
        sleep(5).then(() => controller2.abort()),
      ]);
      assert.equal(gone.status, 'rejected');
      assert.equal(kept.status, 'fulfilled');
      assert.deepEqual([...((kept as PromiseFulfilledResult<Record<string, { data: Float32Array }>>).value.y!.data)], [5]);
      assert.equal(await count(plain), before + 3n, 'one batch ran for the kept request');
    } finally {
      await Promise.all([plain.unload(), batched.unload()]);
    }
  });

  test('one AbortSignal shared by many requests cancels them all, with one listener', async () => {
    const batched = await loadModel(fixture('counter'), { batching: counterBatching });
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on('warning', onWarning);
    try {
      const controller = new AbortController();
      const requests = Array.from({ length: 32 }, (_, i) => batched.predict({ x: { shape: [1, 1], data: [i] } }, { outputs: ['y'], signal: controller.signal }));
      controller.abort();
      const settled = await Promise.allSettled(requests);
      assert.ok(settled.every((r) => r.status === 'rejected' && (r.reason as { code: string }).code === 'CANCELLED'));
      await sleep(10);
      assert.deepEqual(warnings, [], 'no MaxListenersExceededWarning');
    } finally {
      process.off('warning', onWarning);
      await batched.unload();
    }
  });

  test('a stateful model without batching counts exactly one per request', async () => {
    const model = await loadModel(fixture('counter'));
    try {
      const start = await count(model);
      const counts = await Promise.all(Array.from({ length: 100 }, () => count(model)));
      // Each run adds one; the count a run reads back may already include a
      // concurrent run's add (TF reads the variable in a separate op), so the
      // check is the total, and that every read is within it.
      assert.equal(await count(model), start + 101n, 'exactly one increment per request');
      assert.ok(counts.every((c) => c > start && c <= start + 100n));
    } finally {
      await model.unload();
    }
  });

  test('timeoutMs must be a non-negative number', async () => {
    const model = await loadModel(fixture('multi_sig'));
    try {
      await rejectsWithCode(model.predict({ x: { shape: [1, 2], data: [1, 2] } }, { timeoutMs: -1 }), 'INVALID_ARGUMENT', /timeoutMs/);
    } finally {
      await model.unload();
    }
  });
});
