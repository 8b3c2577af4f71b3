// The Engine: predictions through a piscina pool over one shared session.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';

import { Engine, addon, loadModel } from '../src';
import { assertClose, fixture, rejectsWithCode } from './helpers';

const run = promisify(execFile);

describe('Engine', () => {
  test('predicts through workers like the model does directly; outputs are transferable', async () => {
    const engine = await Engine.create({ workers: 2 });
    const direct = await loadModel(fixture('multi_sig'));
    try {
      const model = await engine.load(fixture('multi_sig'));
      assert.equal(model.version, 2);
      assert.deepEqual(Object.keys(model.signatures).sort(), ['add', 'concat', 'serving_default']);
      const x = { x: { shape: [2, 2], data: [1, 2, 3, 4] } };
      const [viaPool, want] = await Promise.all([model.predict(x), direct.predict(x)]);
      assertClose(viaPool.y!.data as Float32Array, want.y!.data as Float32Array, 0, 'y');
      const joined = await model.predict({ a: { shape: [1], data: ['tf'] }, b: { shape: [1], data: ['serve'] } }, { signature: 'concat' });
      assert.equal(Buffer.from((joined.out!.data as Uint8Array[])[0]!).toString(), 'tfserve');
      await rejectsWithCode(model.predict({ x: { shape: [1, 3], data: [1, 2, 3] } }), 'INVALID_ARGUMENT', /input 'x' has shape \[1,3\]/);
      // transferInputs moves the input's buffer to the worker instead of copying it.
      const moved = new Float32Array([1, 2, 3, 4]);
      const out = await model.predict({ x: { shape: [2, 2], data: moved } }, { transferInputs: true });
      assert.equal(moved.byteLength, 0, 'the caller\'s array was detached');
      assertClose(out.y!.data as Float32Array, want.y!.data as Float32Array, 0, 'y after transfer');
      // One session for the model, however many threads use it.
      assert.equal(addon.liveSessions(), 1);
    } finally {
      await direct.unload();
      await engine.close();
    }
    assert.equal(addon.liveSessions(), 0);
  });

  test('workers: 0 runs the same API on the main thread', async () => {
    const engine = await Engine.create({ workers: 0 });
    try {
      const model = await engine.load(fixture('multi_sig'), { version: 1 });
      const out = await model.predict({ a: { shape: [2], data: [1, 2] }, b: { shape: [2], data: [3, 4] } }, { signature: 'add' });
      assert.deepEqual([...(out.out!.data as Int32Array)], [4, 6]);
    } finally {
      await engine.close();
    }
  });

  test('1,000 concurrent requests from 4 workers with batching: all answered, each with its own result', async () => {
    const engine = await Engine.create({ workers: 4 });
    try {
      const model = await engine.load(fixture('multi_sig'), { version: 1, batching: { maxBatchSize: 32, batchTimeoutMicros: 2000, maxEnqueuedBatches: 64 } });
      // y = x W + b with W = [[1,2,3],[4,5,6]], b = [0.5,-1,2]: distinct per request.
      const outs = await Promise.all(Array.from({ length: 1000 }, (_, i) => model.predict({ x: { shape: [1, 2], data: [i, 1000 - i] } })));
      outs.forEach((out, i) => {
        const y = out.y!.data as Float32Array;
        assert.deepEqual([...y], [i + 4 * (1000 - i) + 0.5, 2 * i + 5 * (1000 - i) - 1, 3 * i + 6 * (1000 - i) + 2], `request ${i}`);
      });
      const [stats] = model.batchingStats();
      // The main thread's handle sees the batcher every worker shares.
      assert.equal(stats!.requests, 1000);
      assert.ok(stats!.batches < 1000, `requests from the workers were merged (${stats!.batches} batches)`);
    } finally {
      await engine.close();
    }
  });

  test('a worker that dies fails its requests clearly and is replaced', async () => {
    const engine = await Engine.create({ workers: 2 });
    try {
      const model = await engine.load(fixture('gaofei_cnn'));
      const image = new Float32Array(64 * 784).fill(0.3);
      // Several rounds, terminating at different moments: runs finishing while
      // their worker's env is torn down must neither hang nor abort the process.
      let failures = 0;
      for (const delayMs of [20, 5, 60]) {
        const inFlight = Array.from({ length: 20 }, (_, i) =>
          model.predict({ image: { shape: [i % 2 === 0 ? 64 : 1, 28, 28], data: i % 2 === 0 ? image : image.subarray(0, 784) } }),
        );
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        await engine.threads[0]!.terminate();
        const settled = await Promise.allSettled(inFlight);
        assert.equal(settled.length, 20, 'every request was answered');
        for (const outcome of settled) {
          if (outcome.status === 'fulfilled') continue;
          failures += 1;
          assert.equal(outcome.reason.code, 'UNAVAILABLE');
          assert.match(outcome.reason.message, /worker thread running this request failed/);
        }
      }
      assert.ok(failures > 0, 'the terminated workers had requests in flight');
      const after = await Promise.all(Array.from({ length: 4 }, () => model.predict({ image: { shape: [1, 28, 28], data: image.subarray(0, 784) } })));
      assert.equal(after.length, 4);
    } finally {
      await engine.close();
    }
  });

  test('close() drains in-flight work, then refuses more', async () => {
    const engine = await Engine.create({ workers: 2 });
    const model = await engine.load(fixture('gaofei_cnn'));
    const image = new Float32Array(16 * 784).fill(0.7);
    const inFlight = Array.from({ length: 10 }, () => model.predict({ image: { shape: [16, 28, 28], data: image } }));
    await engine.close();
    const results = await Promise.all(inFlight);
    assert.equal(results.length, 10);
    results.forEach((r) => assert.deepEqual(r.prediction!.shape, [16]));
    await rejectsWithCode(model.predict({ image: { shape: [1, 28, 28], data: image.subarray(0, 784) } }), 'FAILED_PRECONDITION');
    await rejectsWithCode(engine.load(fixture('gaofei_cnn')), 'FAILED_PRECONDITION', /engine is closed/);
  });

  test('RSS with 4 workers stays within 15% of RSS with 1 worker (64 MiB of weights)', async () => {
    const probe = path.join(__dirname, 'workers', 'rss-probe.js');
    const measure = async (workers: number) => {
      const { stdout } = await run(process.execPath, [probe, String(workers), fixture('big_dense')]);
      return JSON.parse(stdout) as { rss: number; liveSessions: number; threads: number };
    };
    const one = await measure(1);
    const four = await measure(4);
    assert.equal(four.threads, 4);
    assert.equal(four.liveSessions, 1, 'one session shared by all workers');
    const ratio = four.rss / one.rss;
    assert.ok(ratio <= 1.15, `RSS 4 workers ${(four.rss / 2 ** 20).toFixed(0)} MiB vs 1 worker ${(one.rss / 2 ** 20).toFixed(0)} MiB (x${ratio.toFixed(3)})`);
  });
});
