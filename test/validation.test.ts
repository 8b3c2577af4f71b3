// Bad inputs and broken model directories: clear errors, TF never touched, process lives on.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { type Model, addon, loadModel } from '../src';
import { fixture, rejectsWithCode, tempDir } from './helpers';

describe('input validation', () => {
  let model: Model;
  before(async () => {
    model = await loadModel(fixture('multi_sig'));
  });
  after(async () => {
    await model.unload();
  });

  const good = { x: { dtype: 'float32' as const, shape: [1, 2], data: [1, 2] } };

  test('a good request works (baseline for the cases below)', async () => {
    const out = await model.predict(good);
    assert.equal(out.y!.shape[0], 1);
  });

  test('unknown input name', async () => {
    await rejectsWithCode(model.predict({ ...good, z: good.x }), 'INVALID_ARGUMENT', /unknown input 'z'.*its inputs: x/);
  });

  test('missing input', async () => {
    await rejectsWithCode(model.predict({}), 'INVALID_ARGUMENT', /missing input 'x'/);
    await rejectsWithCode(model.predict({ a: { shape: [1], data: [1] } }, { signature: 'add' }), 'INVALID_ARGUMENT', /missing input 'b'/);
  });

  test('dtype mismatch', async () => {
    await rejectsWithCode(model.predict({ x: { dtype: 'int32', shape: [1, 2], data: [1, 2] } }), 'INVALID_ARGUMENT', /input 'x' has dtype int32 but signature 'serving_default' expects float32/);
    await rejectsWithCode(model.predict({ x: { dtype: 'nope' as 'int32', shape: [1, 2], data: [1, 2] } }), 'INVALID_ARGUMENT', /dtype nope/);
  });

  test('typed array of the wrong kind', async () => {
    await rejectsWithCode(model.predict({ x: { shape: [1, 2], data: new Float64Array(2) } }), 'INVALID_ARGUMENT', /data is a Float64Array, but dtype float32 needs a Float32Array/);
  });

  test('shape incompatible with the signature', async () => {
    await rejectsWithCode(model.predict({ x: { shape: [1, 3], data: [1, 2, 3] } }), 'INVALID_ARGUMENT', /input 'x' has shape \[1,3\] but signature 'serving_default' expects \[-1,2\]/);
    await rejectsWithCode(model.predict({ x: { shape: [2], data: [1, 2] } }), 'INVALID_ARGUMENT', /has shape \[2\]/);
    await rejectsWithCode(model.predict({ x: { shape: [1, -2], data: [] } }), 'INVALID_ARGUMENT', /input 'x': shape\[1\] is -2; dimensions must be non-negative integers/);
    await rejectsWithCode(model.predict({ x: { shape: [1.5, 2], data: [1, 2] } }), 'INVALID_ARGUMENT', /non-negative integers/);
  });

  test('data length not matching the shape', async () => {
    await rejectsWithCode(model.predict({ x: { shape: [2, 2], data: [1, 2, 3] } }), 'INVALID_ARGUMENT', /input 'x' has 3 values but shape \[2,2\] needs 4/);
    await rejectsWithCode(model.predict({ x: { shape: [1, 2], data: new Float32Array(3) } }), 'INVALID_ARGUMENT', /has 3 values/);
  });

  test('values of the wrong type in a plain array', async () => {
    await rejectsWithCode(model.predict({ x: { shape: [1, 2], data: ['a', 'b'] } }), 'INVALID_ARGUMENT', /input 'x': element 0 is "a", expected a number/);
    await rejectsWithCode(model.predict({ a: { shape: [1], data: [1.5] }, b: { shape: [1], data: [1] } }, { signature: 'add' }), 'INVALID_ARGUMENT', /element 0 is 1.5, expected an integer/);
    await rejectsWithCode(model.predict({ a: { shape: [1], data: [2 ** 31] }, b: { shape: [1], data: [1] } }, { signature: 'add' }), 'INVALID_ARGUMENT', /expected an integer in \[-2147483648, 2147483647\]/);
    await rejectsWithCode(model.predict({ a: { shape: [1], data: [1] }, b: { shape: [1], data: [2] } }, { signature: 'concat' }), 'INVALID_ARGUMENT', /expected a string or Uint8Array/);
  });

  test('malformed inputs object', async () => {
    await rejectsWithCode(model.predict(null as never), 'INVALID_ARGUMENT', /inputs must be an object/);
    await rejectsWithCode(model.predict({ x: 5 as never }), 'INVALID_ARGUMENT', /input 'x' must be an object/);
  });

  test('unknown signature and unknown output alias', async () => {
    await rejectsWithCode(model.predict(good, { signature: 'nope' }), 'INVALID_ARGUMENT', /signature 'nope' not found.*add, concat, serving_default/);
    await rejectsWithCode(model.predict(good, { outputs: ['nope'] }), 'INVALID_ARGUMENT', /unknown output 'nope'.*its outputs: y/);
  });

  test('the model keeps serving after every bad request', async () => {
    const out = await model.predict(good, { outputs: ['y', 'y'] });
    assert.deepEqual(Object.keys(out), ['y']);
  });
});

describe('model directories', () => {
  const copyVersion = (into: string): string => {
    const base = path.join(into, 'model');
    const source = fixture('multi_sig');
    fs.cpSync(path.join(source, '1'), path.join(base, '1'), { recursive: true });
    return base;
  };

  test('a missing path', async () => {
    await rejectsWithCode(loadModel('/nonexistent/tfserve/model'), 'NOT_FOUND', /model base path \/nonexistent\/tfserve\/model does not exist/);
  });

  test('an empty directory', async () => {
    await rejectsWithCode(loadModel(tempDir('empty')), 'NOT_FOUND', /no versions of the model under .*expected numeric version directories/);
  });

  test('a directory with no numeric version', async () => {
    const dir = tempDir('nonnumeric');
    fs.mkdirSync(path.join(dir, 'v1'));
    fs.mkdirSync(path.join(dir, 'latest'));
    fs.writeFileSync(path.join(dir, '7'), 'a file, not a directory');
    await rejectsWithCode(loadModel(dir), 'NOT_FOUND', /no versions of the model/);
  });

  test('a truncated saved_model.pb', async () => {
    const base = copyVersion(tempDir('truncated'));
    const pb = path.join(base, '1', 'saved_model.pb');
    const bytes = fs.readFileSync(pb);
    fs.writeFileSync(pb, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const error = await loadModel(base).then(
      () => null,
      (e: Error & { code?: string }) => e,
    );
    assert.ok(error, 'loading a truncated saved_model.pb must fail');
    // TF reports the short read as OUT_OF_RANGE (or DATA_LOSS when it fails to parse).
    assert.ok(['OUT_OF_RANGE', 'DATA_LOSS'].includes(error.code!), `${error.code}: ${error.message}`);
    assert.match(error.message, /cannot load .*model\/1: /);
  });

  test('missing variables', async () => {
    const base = copyVersion(tempDir('novars'));
    fs.rmSync(path.join(base, '1', 'variables'), { recursive: true });
    await rejectsWithCode(loadModel(base), 'NOT_FOUND', /has 2 variables but no variables\/variables.index/);
  });

  test('predict after unload, and unload twice', async () => {
    const model = await loadModel(fixture('multi_sig'));
    await model.unload();
    await model.unload();
    assert.equal(model.loaded, false);
    await rejectsWithCode(model.predict({ x: { shape: [1, 2], data: [1, 2] } }), 'FAILED_PRECONDITION', /multi_sig version 2 was unloaded/);
  });

  test('tags that match no MetaGraphDef', async () => {
    await rejectsWithCode(loadModel(fixture('multi_sig'), { tags: ['gpu', 'train'] }), 'NOT_FOUND', /Could not find meta graph def matching supplied tags/);
  });

  test('a failed load leaves no session behind', async () => {
    const before = addon.liveSessions();
    await loadModel('/nonexistent').catch(() => undefined);
    await loadModel(copyVersion(tempDir('leak')), { tags: ['no-such-tag'] }).catch(() => undefined);
    assert.equal(addon.liveSessions(), before);
  });
});
