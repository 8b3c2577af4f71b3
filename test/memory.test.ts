// Unloading frees everything: load/predict/unload loops keep RSS flat, one at
// a time and in concurrent rounds.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';

import { addon, loadModel } from '../src';
import { fixture } from './helpers';

// A full collection before each reading, so that the figures measure what is
// held rather than what V8 has not collected yet (the metaGraphDef buffers of
// a round of loads are garbage of several MB).
v8.setFlagsFromString('--expose-gc');
const collect = vm.runInNewContext('gc') as () => void;
v8.setFlagsFromString('--no-expose-gc');

const MiB = 2 ** 20;

function threadCount(): number {
  const match = /^Threads:\s+(\d+)/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return match ? Number(match[1]) : 0;
}

test('200 load/predict/unload cycles keep RSS flat', async () => {
  const basePath = fixture('gaofei_cnn'); // ~13 MB of weights: a leak would show at once
  const image = new Float32Array(28 * 28).fill(0.25);
  const cycle = async () => {
    const model = await loadModel(basePath);
    await model.predict({ image: { shape: [1, 28, 28], data: image } });
    await model.unload();
  };
  for (let i = 0; i < 20; i++) await cycle(); // let allocator pools and TF's caches settle
  const settled = process.memoryUsage().rss;
  for (let i = 0; i < 200; i++) await cycle();
  const grown = (process.memoryUsage().rss - settled) / MiB;
  assert.equal(addon.liveSessions(), 0);
  assert.ok(grown < 40, `RSS grew ${grown.toFixed(1)} MiB over 200 cycles`);
});

// Issue 7: rounds of concurrent loads of one model crept up by ~45 MB over
// 100 rounds. The loads share one session (the registry), each on a loader
// thread of its own, so the session is built and freed in a different malloc
// arena each round; closing a session now trims the arenas. A leaked session
// (13 MB of weights) or a leaked metaGraphDef copy per load (50 x 80 KB a
// round) fails this within the 40 rounds.
test('rounds of 50 concurrent loads and unloads return every session and thread', async () => {
  const basePath = fixture('gaofei_cnn');
  const image = new Float32Array(28 * 28).fill(0.5);
  const round = async () => {
    const models = await Promise.all(Array.from({ length: 50 }, () => loadModel(basePath)));
    assert.equal(addon.liveSessions(), 1, 'concurrent loads of one model share one session');
    await Promise.all(models.slice(0, 5).map((model) => model.predict({ image: { shape: [1, 28, 28], data: image } })));
    await Promise.all(models.map((model) => model.unload()));
    assert.equal(addon.liveSessions(), 0, 'every session closed once its last handle is unloaded');
  };
  for (let i = 0; i < 10; i++) await round(); // arenas, TF's caches and V8's heap settle
  collect();
  const settled = process.memoryUsage().rss;
  const threads = threadCount();
  const readings: number[] = [];
  const started = Date.now();
  for (let i = 0; i < 40 && Date.now() - started < 60_000; i++) {
    await round();
    collect();
    readings.push((process.memoryUsage().rss - settled) / MiB);
  }
  assert.ok(readings.length >= 10, `only ${readings.length} rounds ran in 60 s`);
  assert.equal(threadCount(), threads, 'loader threads are joined');
  const grown = readings[readings.length - 1];
  const summary = readings.map((mb) => mb.toFixed(0)).join(' ');
  assert.ok(grown < 30, `RSS grew ${grown.toFixed(1)} MiB over ${readings.length} concurrent rounds (per round: ${summary})`);
});
