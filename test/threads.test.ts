// The addon is context-aware: worker threads load and predict concurrently,
// sharing one session; TensorFlow never blocks the main thread's event loop.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';

import { addon, loadModel } from '../src';
import { fixture } from './helpers';

interface WorkerReport {
  results?: number[][];
  liveWhileLoaded?: number;
  error?: string;
}

function runWorker(basePath: string, offset: number, rounds: number): Promise<WorkerReport> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(path.join(__dirname, 'workers', 'predict-worker.js'), { workerData: { basePath, rounds, offset } });
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`worker exited with ${code}`));
    });
  });
}

test('two worker threads load and predict on the same model concurrently', async () => {
  const basePath = fixture('shapes');
  const rounds = 50;
  const [a, b] = await Promise.all([runWorker(basePath, 0, rounds), runWorker(basePath, 1000, rounds)]);
  for (const [report, offset] of [[a, 0], [b, 1000]] as const) {
    assert.equal(report.error, undefined, report.error);
    assert.equal(report.results!.length, rounds);
    report.results!.forEach((y, i) => assert.deepEqual(y, [(offset + i) * 2, (offset + i + 0.5) * 2]));
  }
  // Both workers held the model at once at some point or not; either way one
  // session per model is all the process ever had for it.
  assert.ok(a.liveWhileLoaded! >= 1 && b.liveWhileLoaded! >= 1);
  assert.equal(addon.liveSessions(), 0);
});

test('workers and the main thread share one session per model', async () => {
  const basePath = fixture('shapes');
  const main = await loadModel(basePath);
  assert.equal(addon.liveSessions(), 1);
  const report = await runWorker(basePath, 7, 3);
  assert.equal(report.error, undefined, report.error);
  assert.equal(report.liveWhileLoaded, 1, 'the worker reused the main thread\'s session');
  await main.unload();
  assert.equal(addon.liveSessions(), 0);
});

async function maxEventLoopGap(work: () => Promise<unknown>): Promise<number> {
  let last = performance.now();
  let maxGap = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    maxGap = Math.max(maxGap, now - last);
    last = now;
  }, 1);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return maxGap;
}

test('the event loop keeps ticking while a model loads and predicts', async () => {
  const basePath = fixture('gaofei_cnn');
  let model: Awaited<ReturnType<typeof loadModel>> | undefined;
  const loadGap = await maxEventLoopGap(async () => {
    model = await loadModel(basePath);
  });
  const images = new Float32Array(64 * 28 * 28).fill(0.5);
  const predictGap = await maxEventLoopGap(async () => {
    for (let i = 0; i < 10; i++) await model!.predict({ image: { shape: [64, 28, 28], data: images } });
  });
  await model!.unload();
  // Generous bounds: loading and running take far longer than this on the
  // pool threads; the point is that none of it happens on this thread.
  assert.ok(loadGap < 250, `event loop stalled ${loadGap.toFixed(1)} ms during load`);
  assert.ok(predictGap < 250, `event loop stalled ${predictGap.toFixed(1)} ms during predict`);
});

test('a tight sequential predict loop on a tiny model still lets the event loop turn', async () => {
  // Short runs are waited for on the JS thread, but their promises still
  // settle from the event loop, so an `await` loop cannot starve timers.
  const model = await loadModel(fixture('multi_sig'));
  try {
    const a = { a: { shape: [1], data: [1] }, b: { shape: [1], data: [2] } };
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const gap = await maxEventLoopGap(async () => {
      const end = performance.now() + 300;
      while (performance.now() < end) await model.predict(a, { signature: 'add' });
    });
    clearInterval(timer);
    assert.ok(ticks >= 50, `a 1 ms interval fired only ${ticks} times in 300 ms`);
    assert.ok(gap < 100, `event loop stalled ${gap.toFixed(1)} ms`);
  } finally {
    await model.unload();
  }
});
