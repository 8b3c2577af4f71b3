// Unloading frees everything: a load/predict/unload loop keeps RSS flat.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { addon, loadModel } from '../src';
import { fixture } from './helpers';

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
  const grown = (process.memoryUsage().rss - settled) / 2 ** 20;
  assert.equal(addon.liveSessions(), 0);
  assert.ok(grown < 40, `RSS grew ${grown.toFixed(1)} MiB over 200 cycles`);
});
