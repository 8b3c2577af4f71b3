// scripts/gpu-check.mjs (npm run gpu-check) runs on this machine: it lists
// the devices, says whether there is a GPU, compares GPU and CPU outputs
// when there is one, and times the CPU whatever the machine.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';

import { loadModel, tensorflowVersion } from '../src';
import { fixture, repoRoot } from './helpers';

const run = promisify(execFile);
const SCRIPT = path.join(repoRoot, 'scripts', 'gpu-check.mjs');

interface Timing {
  batch: number;
  runs: number;
  p50Ms: number;
  minMs: number;
  rowsPerSecond: number;
}
interface Summary {
  tensorflow: string;
  devices: Array<{ name: string; type: string; memoryBytes: number }>;
  gpu: boolean;
  ok: boolean;
  models: Array<{ model: string; error?: string; comparison?: { ok: boolean; maxRelDiff: number }; timings: Record<string, Timing[]> }>;
}

test('gpu-check --json: devices as a session sees them, GPU verdict, CPU timings per batch size', { timeout: 120_000 }, async () => {
  const { stdout } = await run(process.execPath, [SCRIPT, '--models', 'gaofei_cnn', '--batches', '1,4', '--runs', '3', '--max-seconds', '10', '--json'], { timeout: 110_000 });
  const summary = JSON.parse(stdout.trim().split('\n').pop()!) as Summary;
  assert.equal(summary.tensorflow, tensorflowVersion());
  const model = await loadModel(fixture('gaofei_cnn'));
  const expected = model.devices;
  await model.unload();
  assert.deepEqual(summary.devices, expected, 'the devices a default session of this process sees');
  assert.equal(summary.gpu, expected.some((d) => d.type === 'GPU'));
  assert.equal(summary.ok, true);
  const [cnn] = summary.models;
  assert.equal(cnn!.model, 'gaofei_cnn');
  assert.equal(cnn!.error, undefined);
  assert.deepEqual(cnn!.timings.cpu!.map((t) => t.batch), [1, 4]);
  for (const t of cnn!.timings.cpu!) {
    assert.equal(t.runs, 3);
    assert.ok(t.minMs > 0 && t.minMs <= t.p50Ms, JSON.stringify(t));
    assert.ok(Math.abs(t.rowsPerSecond - (t.batch * 1000) / t.p50Ms) < 1e-6 * t.rowsPerSecond);
  }
  if (summary.gpu) {
    assert.deepEqual(cnn!.timings.gpu!.map((t) => t.batch), [1, 4]);
    assert.equal(cnn!.comparison!.ok, true);
  } else {
    assert.equal(cnn!.timings.gpu, undefined, 'nothing is timed on a GPU that is not there');
    assert.equal(cnn!.comparison, undefined);
  }
});

test('gpu-check report says when there is no GPU, and refuses bad arguments', { timeout: 120_000 }, async () => {
  const { stdout } = await run(process.execPath, [SCRIPT, '--models=gaofei_cnn', '--batches=2', '--runs=2'], { timeout: 110_000 });
  assert.match(stdout, /^devices:$/m);
  assert.match(stdout, /device:CPU:0 {2}CPU/);
  assert.match(stdout, /CPU batch {3}2: p50 [\d.]+ ms, min [\d.]+ ms, \d+ rows\/s \(2 runs\)/);
  const hasGpu = /device:GPU:\d+ {2}GPU/.test(stdout);
  if (hasGpu) assert.match(stdout, /GPU vs CPU outputs: .*: match/);
  else assert.match(stdout, /^no GPU: /m);
  assert.match(stdout, /gpu-check passed/);

  await assert.rejects(run(process.execPath, [SCRIPT, '--batches', '0']), (error: { code: number; stderr: string }) => error.code === 2 && /--batches takes positive integers, got '0'/.test(error.stderr));
  await assert.rejects(run(process.execPath, [SCRIPT, '--gpu']), (error: { code: number; stderr: string }) => error.code === 2 && /unknown argument '--gpu'/.test(error.stderr));
});
