// The session knobs of issue 10 (xla, usePerSessionThreads, graphOptimizer,
// --xla_cpu_compilation_enabled): each reaches the ConfigProto TF gets, and
// the seed CNN still answers as its reference says under each of them.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';

import { loadModel, type SessionOptions } from '../src';
import { protoType } from '../src/engine/proto';
import { encodeConfigProto } from '../src/engine/session-options';
import { inertFlagNotices, parseCommandLine } from '../src/server/flags';
import { sessionOptions } from '../src/server/server';
import { assertClose, fixture, readJson, repoRoot } from './helpers';

interface Reference {
  images: number[][];
  softmax: number[][];
  prediction: number[];
}

function decode(options: SessionOptions): Record<string, unknown> {
  const ConfigProto = protoType('tensorflow.ConfigProto');
  return ConfigProto.toObject(ConfigProto.decode(encodeConfigProto(options)), { enums: String, defaults: true }) as Record<string, unknown>;
}

test('session options: xla, usePerSessionThreads and graphOptimizer reach the ConfigProto', () => {
  const plain = decode({}) as { usePerSessionThreads: boolean; graphOptions: { optimizerOptions: { globalJitLevel: string; cpuGlobalJit: boolean }; rewriteOptions: { disableMetaOptimizer: boolean } } };
  assert.equal(plain.usePerSessionThreads, false);
  assert.equal(plain.graphOptions.optimizerOptions.globalJitLevel, 'DEFAULT');
  assert.equal(plain.graphOptions.optimizerOptions.cpuGlobalJit, false);
  assert.equal(plain.graphOptions.rewriteOptions.disableMetaOptimizer, false);

  const tuned = decode({ xla: true, usePerSessionThreads: true, graphOptimizer: false }) as typeof plain;
  assert.equal(tuned.usePerSessionThreads, true);
  assert.equal(tuned.graphOptions.optimizerOptions.globalJitLevel, 'ON_1');
  assert.equal(tuned.graphOptions.optimizerOptions.cpuGlobalJit, true);
  assert.equal(tuned.graphOptions.rewriteOptions.disableMetaOptimizer, true);

  assert.throws(() => encodeConfigProto({ xla: 'yes' as unknown as boolean }), /session.xla must be a boolean, got "yes"/);
  assert.throws(() => encodeConfigProto({ graphOptimizer: 0 as unknown as boolean }), /session.graphOptimizer must be a boolean, got 0/);
});

test('session options: the CNN answers its reference with XLA, without Grappler, with per-session threads', async () => {
  const reference = readJson<Reference>(path.join(fixture('gaofei_cnn'), 'reference.json'));
  const count = 8;
  const image = new Float32Array(reference.images.slice(0, count).flat());
  for (const session of [{ xla: true }, { xla: true, intraOpThreads: 1 }, { graphOptimizer: false, usePerSessionThreads: true }] satisfies SessionOptions[]) {
    const model = await loadModel(fixture('gaofei_cnn'), { session });
    try {
      // Batch 8 then batch 1: XLA compiles once per input shape.
      for (const n of [count, 1]) {
        const out = await model.predict({ image: { shape: [n, 28, 28], data: image.subarray(0, n * 784) } });
        assertClose(out.softmax!.data as Float32Array, reference.softmax.slice(0, n).flat(), 1e-5, `${JSON.stringify(session)} softmax (batch ${n})`);
        assert.deepEqual([...(out.prediction!.data as BigInt64Array)].map(Number), reference.prediction.slice(0, n));
      }
    } finally {
      await model.unload();
    }
  }
});

test('session options: with xla, TensorFlow compiles a cluster of the graph with XLA', () => {
  // TF logs its first XLA compilation once per process at INFO level, so a
  // fresh process with INFO logging on tells whether the knob took effect.
  const script = `
    const { loadModel } = require(${JSON.stringify(path.join(repoRoot, 'dist', 'src'))});
    (async () => {
      const model = await loadModel(${JSON.stringify(fixture('gaofei_cnn'))}, { session: { xla: process.argv[1] === 'on' } });
      await model.predict({ image: { shape: [1, 28, 28], data: new Float32Array(784) } });
      await model.unload();
    })();`;
  const run = (xla: string) => spawnSync(process.execPath, ['-e', script, xla], { encoding: 'utf8', env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '0' }, timeout: 60_000 });
  const on = run('on');
  assert.equal(on.status, 0, on.stderr);
  assert.match(on.stderr, /Compiled cluster using XLA/);
  const off = run('off');
  assert.equal(off.status, 0, off.stderr);
  assert.doesNotMatch(off.stderr, /Compiled cluster using XLA/);
});

test('--xla_cpu_compilation_enabled: no longer inert, turns on the session option xla', () => {
  const parsed = parseCommandLine(['--model_base_path=/m', '--xla_cpu_compilation_enabled=true']);
  assert.ok(!parsed.help);
  assert.equal(parsed.flags.xlaCpuCompilationEnabled, true);
  assert.deepEqual(inertFlagNotices(parsed.given), []);
  assert.equal(sessionOptions(parsed.flags).xla, true);
  const plain = parseCommandLine(['--model_base_path=/m']);
  assert.ok(!plain.help);
  assert.equal(sessionOptions(plain.flags).xla, undefined);
});
