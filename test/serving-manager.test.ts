// ModelManager with real SavedModels in temp dirs: policies, labels, hot
// transitions under load, broken versions, config reloads, warmup, leases.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';

import { loadModel } from '../src';
import type { Servable, ServableLoader } from '../src/engine/servable';
import type { ModelManager } from '../src/serving/model-manager';
import { predict } from '../src/serving/inference';
import { servingType } from '../src/serving/protos';
import { WARMUP_FILE, readTfRecords, runWarmup, writeTfRecords } from '../src/serving/warmup';
import { encodeTensorProto } from '../src/serving/tensor-proto';
import { needsTfServingData, tempDir, tfServingModel, waitUntil } from './helpers';
import { modelConfig, testManager } from './manager-helpers';

const skip = needsTfServingData();
const TWO_VERSIONS = 'saved_model_half_plus_two_2_versions';

/** Copies a version dir of the two-version model into base/<version>, atomically (copy, then rename). */
function addVersion(base: string, version: number, from = 123): void {
  const staging = path.join(base, `.staging-${version}`);
  fs.cpSync(path.join(tfServingModel(TWO_VERSIONS), String(from).padStart(8, '0')), staging, { recursive: true });
  fs.renameSync(staging, path.join(base, String(version)));
}

const x = { x: { dtype: 'float32' as const, shape: [2, 1], data: new Float32Array([2, 4]) } };

describe('ModelManager', { skip }, () => {
  test('version policies: latest, latest 2, all, specific', async () => {
    const base = tfServingModel(TWO_VERSIONS);
    const m = testManager();
    try {
      await m.setConfig([
        modelConfig('latest', base),
        modelConfig('two', base, { versionPolicy: { kind: 'latest', numVersions: 2 } }),
        modelConfig('all', base, { versionPolicy: { kind: 'all' } }),
        modelConfig('specific', base, { versionPolicy: { kind: 'specific', versions: [123] } }),
      ]);
      const available = (name: string) => m.status(name).filter((s) => s.state === 'AVAILABLE').map((s) => s.version);
      assert.deepEqual(available('latest'), [124]);
      assert.deepEqual(available('two'), [124, 123]);
      assert.deepEqual(available('all'), [124, 123]);
      assert.deepEqual(available('specific'), [123]);
      assert.equal(m.isReady(), true);
      assert.deepEqual(m.modelNames(), ['all', 'latest', 'specific', 'two']);
      const lease = m.acquire({ name: 'all' });
      assert.equal(lease.version, 124);
      lease.release();
      const r = await predict(m, { modelSpec: { name: 'all', version: 123 }, inputs: x });
      assert.equal(r.modelSpec.version, 123);
      assert.deepEqual(Array.from(r.outputs.y!.data as Float32Array), [3, 4]);
      assert.throws(() => m.acquire({ name: 'specific', version: 124 }), { code: 'NOT_FOUND', message: /version 124 of 'specific' is not available \(available: 123\)/ });
      assert.throws(() => m.acquire({ name: 'nope' }), { code: 'NOT_FOUND', message: /no model named 'nope'/ });
      assert.throws(() => m.status('nope'), { code: 'NOT_FOUND' });
      assert.throws(() => m.status('latest', 7), { code: 'NOT_FOUND', message: /version 7 of model latest/ });
    } finally {
      await m.close();
    }
  });

  test('labels map to versions; labels on unavailable versions need the flag', async () => {
    const base = tfServingModel(TWO_VERSIONS);
    const m = testManager();
    try {
      await m.setConfig([modelConfig('hp', base, { versionPolicy: { kind: 'all' }, versionLabels: { stable: 123, canary: 124 } })]);
      const stable = m.acquire({ name: 'hp', versionLabel: 'stable' });
      const canary = m.acquire({ name: 'hp', versionLabel: 'canary' });
      assert.deepEqual([stable.version, canary.version], [123, 124]);
      stable.release();
      canary.release();
      assert.throws(() => m.acquire({ name: 'hp', versionLabel: 'beta' }), { code: 'INVALID_ARGUMENT', message: /Unrecognized servable version label: beta.*labels: stable, canary/ });
      await assert.rejects(m.setConfig([modelConfig('hp', base, { versionPolicy: { kind: 'all' }, versionLabels: { stable: 999 } })]), {
        code: 'FAILED_PRECONDITION',
        message: /label 'stable' to version 999 of model 'hp'.*allow_version_labels_for_unavailable_models/,
      });
      const kept = m.acquire({ name: 'hp', versionLabel: 'stable' });
      kept.release();
      assert.equal(kept.version, 123, 'a refused label change keeps the old labels');
    } finally {
      await m.close();
    }
    const lenient = testManager({ allowVersionLabelsForUnavailableModels: true });
    try {
      await lenient.setConfig([modelConfig('hp', base, { versionLabels: { next: 999 } })]);
      assert.throws(() => lenient.acquire({ name: 'hp', versionLabel: 'next' }), { code: 'NOT_FOUND', message: /version 999/ });
    } finally {
      await lenient.close();
    }
  });

  test('a new version replaces the old one under load with zero failed requests', async () => {
    const base = tempDir('transition');
    addVersion(base, 123);
    const m = testManager({ fileSystemPollWaitSeconds: 0.1 });
    const events: string[] = [];
    m.on('load', (e: { version: number }) => events.push(`load ${e.version}`));
    m.on('unload', (e: { version: number }) => events.push(`unload ${e.version}`));
    try {
      await m.setConfig([modelConfig('hp', base)]);
      let stop = false;
      let failures = 0;
      const seen: number[] = [];
      const clients = Array.from({ length: 4 }, async () => {
        for (let i = 0; i < 5000 && !stop; i++) {
          try {
            const r = await predict(m, { modelSpec: { name: 'hp' }, inputs: x });
            assert.deepEqual(Array.from(r.outputs.y!.data as Float32Array), [3, 4]);
            seen.push(r.modelSpec.version);
          } catch (error) {
            failures++;
            console.error(error);
          }
        }
      });
      await waitUntil('requests on 123', () => seen.includes(123));
      addVersion(base, 124, 124);
      await waitUntil('requests switching to 124', () => seen.slice(-20).length === 20 && seen.slice(-20).every((v) => v === 124));
      fs.rmSync(path.join(base, '123'), { recursive: true });
      await waitUntil('version 123 unloaded', () => m.status('hp').find((s) => s.version === 123)?.state === 'END');
      const before = seen.length;
      await waitUntil('more requests after the unload', () => seen.length > before + 20);
      stop = true;
      await Promise.all(clients);
      assert.equal(failures, 0);
      assert.equal(seen[0], 123);
      assert.equal(seen[seen.length - 1], 124);
      assert.ok(events.indexOf('load 124') < events.indexOf('unload 123'), `new version loads before the old one unloads: ${events.join(', ')}`);
    } finally {
      await m.close();
    }
  });

  test('a corrupt new version shows its error in status; the old one keeps serving; fixed in place, it loads on a retry', async () => {
    const base = tempDir('corrupt');
    addVersion(base, 123);
    const m = testManager({ fileSystemPollWaitSeconds: 0.1, loadRetryIntervalSeconds: 0.2 });
    try {
      await m.setConfig([modelConfig('hp', base)]);
      fs.mkdirSync(path.join(base, '.staging'));
      fs.writeFileSync(path.join(base, '.staging', 'saved_model.pb'), 'this is not a SavedModel');
      fs.renameSync(path.join(base, '.staging'), path.join(base, '125'));
      await waitUntil('version 125 to fail', () => m.status('hp').find((s) => s.version === 125)?.state === 'END');
      const [broken, old] = m.status('hp');
      assert.equal(broken!.version, 125);
      assert.notEqual(broken!.error.code, 'OK');
      assert.match(broken!.error.message, /125/);
      assert.deepEqual(old, { version: 123, state: 'AVAILABLE', error: { code: 'OK', message: '' } });
      for (let i = 0; i < 5; i++) {
        const r = await predict(m, { modelSpec: { name: 'hp' }, inputs: x });
        assert.equal(r.modelSpec.version, 123);
      }
      // The copy finishes in place: a retry loads it and it takes over.
      fs.cpSync(path.join(tfServingModel(TWO_VERSIONS), '00000123'), path.join(base, '125'), { recursive: true, force: true });
      await waitUntil('version 125 to load on a retry', () => m.status('hp').find((s) => s.version === 125)?.state === 'AVAILABLE');
      await waitUntil('version 123 to be unloaded', () => m.status('hp').find((s) => s.version === 123)?.state === 'END');
      const r = await predict(m, { modelSpec: { name: 'hp' }, inputs: x });
      assert.equal(r.modelSpec.version, 125);
    } finally {
      await m.close();
    }
  });

  test('a missing base path is reported; setConfig adds, changes and removes models', async () => {
    const m = testManager();
    try {
      await m.setConfig([modelConfig('ghost', path.join(tempDir('ghost'), 'nothing-here'))]);
      assert.equal(m.isReady(), false);
      assert.throws(() => m.acquire({ name: 'ghost' }), { code: 'NOT_FOUND', message: /does not exist/ });
      assert.throws(() => m.status('ghost'), { code: 'NOT_FOUND', message: /Could not find any versions of model ghost/ });

      const base = tfServingModel(TWO_VERSIONS);
      await m.setConfig([modelConfig('a', base), modelConfig('b', base, { versionPolicy: { kind: 'specific', versions: [123] } })]);
      assert.deepEqual(m.modelNames(), ['a', 'b']);
      const held = m.acquire({ name: 'a' });
      await m.setConfig([modelConfig('b', base, { versionPolicy: { kind: 'specific', versions: [124] } })]);
      assert.deepEqual(m.modelNames(), ['b']);
      assert.throws(() => m.acquire({ name: 'a' }), { code: 'NOT_FOUND' });
      // The removed model's version finishes its in-flight request before it goes away.
      const out = await held.servable.predict(x);
      assert.deepEqual(Array.from(out.y!.data as Float32Array), [3, 4]);
      held.release();
      await waitUntil('b 123 to end', () => m.status('b', 123)[0]!.state === 'END');
      assert.deepEqual(
        m.status('b').map((s) => [s.version, s.state]),
        [
          [124, 'AVAILABLE'],
          [123, 'END'],
        ],
      );
    } finally {
      await m.close();
    }
  });

  test('an unloading version waits for its leases', async () => {
    const base = tempDir('lease');
    addVersion(base, 123);
    const m = testManager();
    try {
      await m.setConfig([modelConfig('hp', base)]);
      const lease = m.acquire({ name: 'hp' });
      addVersion(base, 124, 124);
      await m.setConfig([modelConfig('hp', base)]); // rescans: 124 loads, 123 starts unloading
      assert.equal(m.status('hp', 123)[0]!.state, 'UNLOADING');
      const next = m.acquire({ name: 'hp' });
      next.release();
      assert.equal(next.version, 124);
      const out = await lease.servable.predict(x);
      assert.equal(out.y!.dtype, 'float32');
      lease.release();
      await waitUntil('123 to end', () => m.status('hp', 123)[0]!.state === 'END');
    } finally {
      await m.close();
    }
  });

  test('warmup replays assets.extra/tf_serving_warmup_requests before AVAILABLE; a bad or too costly record fails the load', async () => {
    const base = tempDir('warmup');
    addVersion(base, 123);
    const PredictionLog = servingType('tensorflow.serving.PredictionLog');
    const TensorProto = servingType('tensorflow.TensorProto');
    const tensor = (name: string) => ({
      [name]: TensorProto.decode(encodeTensorProto({ dtype: 'float32', shape: [1, 1], data: new Float32Array([1]) })),
    });
    const record = (input: string) =>
      PredictionLog.encode(PredictionLog.fromObject({ predictLog: { request: { modelSpec: { name: 'recorded' }, inputs: tensor(input) } } })).finish();
    const exampleRecord = PredictionLog.encode(
      PredictionLog.fromObject({
        regressLog: {
          request: {
            modelSpec: { name: 'hp', signatureName: 'regress_x_to_y' },
            input: { exampleList: { examples: [{ features: { feature: { x: { floatList: { value: [1] } } } } }] } },
          },
        },
      }),
    ).finish();
    const assets = path.join(base, '123', 'assets.extra');
    fs.mkdirSync(assets, { recursive: true });
    const file = writeTfRecords([record('x'), exampleRecord, record('x')]);
    assert.equal(readTfRecords(file, 'w').length, 3);
    fs.writeFileSync(path.join(base, '123', WARMUP_FILE), file);

    let predictions = 0;
    let availableDuringWarmup = false;
    let m: ModelManager | null = null;
    const counting: ServableLoader = async (basePath, options) => {
      const servable = await loadModel(basePath, options);
      const counted: Servable = Object.create(servable) as Servable;
      (counted as { predict: Servable['predict'] }).predict = (inputs, opts) => {
        predictions++;
        if (m && m.status('hp').some((s) => s.state === 'AVAILABLE')) availableDuringWarmup = true;
        return servable.predict(inputs, opts);
      };
      return counted;
    };
    m = testManager({ loader: counting, warmup: runWarmup });
    try {
      await m.setConfig([modelConfig('hp', base)]);
      assert.equal(predictions, 3);
      assert.equal(availableDuringWarmup, false);
      assert.equal(m.status('hp')[0]!.state, 'AVAILABLE');
    } finally {
      await m.close();
    }

    fs.writeFileSync(path.join(base, '123', WARMUP_FILE), writeTfRecords([record('x'), record('not_an_input')]));
    const bad = testManager({ warmup: runWarmup });
    try {
      await bad.setConfig([modelConfig('hp', base)]);
      const [status] = bad.status('hp');
      assert.equal(status!.state, 'END');
      assert.equal(status!.error.code, 'INVALID_ARGUMENT');
      assert.match(status!.error.message, /warmup of 'hp' version 123 failed on .*tf_serving_warmup_requests record 1: unknown input 'not_an_input'/);
    } finally {
      await bad.close();
    }

    // Records decode under a budget from their size and the manager's limits, as requests do.
    const broadcast = PredictionLog.encode(
      PredictionLog.fromObject({
        predictLog: { request: { modelSpec: { name: 'hp' }, inputs: { x: { dtype: 'DT_FLOAT', tensorShape: { dim: [{ size: 300 }, { size: 1 }] }, floatVal: [1] } } } },
      }),
    ).finish();
    fs.writeFileSync(path.join(base, '123', WARMUP_FILE), writeTfRecords([record('x'), broadcast]));
    const limited = testManager({ warmup: (servable, name) => runWarmup(servable, name, { decodeLimits: { factor: 1, floorBytes: 1024, maxBytes: 1024 } }) });
    try {
      await limited.setConfig([modelConfig('hp', base)]);
      const [status] = limited.status('hp');
      assert.equal(status!.state, 'END');
      assert.equal(status!.error.code, 'INVALID_ARGUMENT');
      assert.match(status!.error.message, /record 1: input 'x': decoding this request would take 1488 bytes, over its limit of 1024/);
    } finally {
      await limited.close();
    }

    const corrupt = Buffer.from(writeTfRecords([record('x')]));
    corrupt[corrupt.length - 1]! ^= 0xff;
    assert.throws(() => readTfRecords(corrupt, 'w'), { code: 'DATA_LOSS', message: /record 0 at byte 0: corrupt data \(CRC mismatch\)/ });
  });

  test('warmup replays meet --enable_signature_method_name_check as requests do', async () => {
    // TF2's half_plus_two has a predict-method regress_x_to_y, which serves Regress only with the check off.
    const base = tempDir('warmup-method');
    fs.cpSync(tfServingModel('saved_model_half_plus_two_tf2_cpu'), base, { recursive: true });
    const PredictionLog = servingType('tensorflow.serving.PredictionLog');
    const regressLog = PredictionLog.encode(
      PredictionLog.fromObject({
        regressLog: {
          request: {
            modelSpec: { name: 'tf2', signatureName: 'regress_x_to_y' },
            input: { exampleList: { examples: [{ features: { feature: { x: { floatList: { value: [1] } } } } }] } },
          },
        },
      }),
    ).finish();
    fs.mkdirSync(path.join(base, '00000123', 'assets.extra'), { recursive: true });
    fs.writeFileSync(path.join(base, '00000123', WARMUP_FILE), writeTfRecords([regressLog]));
    for (const methodNameCheck of [false, true]) {
      const m = testManager({ signatureMethodNameCheck: methodNameCheck, warmup: (servable, name) => runWarmup(servable, name, { methodNameCheck }) });
      try {
        await m.setConfig([modelConfig('tf2', base)]);
        const [status] = m.status('tf2');
        if (!methodNameCheck) {
          assert.equal(status!.state, 'AVAILABLE');
          continue;
        }
        assert.equal(status!.state, 'END');
        assert.equal(status!.error.code, 'INVALID_ARGUMENT');
        assert.match(status!.error.message, /record 0: Expected regression signature method_name to be tensorflow\/serving\/regress\. Was: tensorflow\/serving\/predict/);
      } finally {
        await m.close();
      }
    }
    fs.rmSync(base, { recursive: true, force: true });
  });
});
