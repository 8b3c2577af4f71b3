// TF Serving's own test models: TF1 and TF2 exports, two versions, a broken export.
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';

import { loadModel } from '../src';
import { needsTfServingData, readJson, rejectsWithCode, tfServingData, tfServingModel } from './helpers';

const skip = needsTfServingData();

describe('TF Serving test models', { skip }, () => {
  for (const name of ['saved_model_half_plus_two_cpu', 'saved_model_half_plus_two_tf2_cpu']) {
    test(`${name} computes y = 0.5x + 2`, async () => {
      const model = await loadModel(tfServingModel(name));
      try {
        assert.equal(model.version, 123);
        const spec = model.signatures.serving_default!.inputs.x!;
        // The TF2 export takes a single example of shape [1], the TF1 one a batch [-1,1].
        const batch = spec.shape!.length === 2 ? [1, 2, 5] : [5];
        const shape = spec.shape!.length === 2 ? [batch.length, 1] : [1];
        const out = await model.predict({ x: { dtype: 'float32', shape, data: batch } });
        assert.equal(out.y!.dtype, 'float32');
        assert.deepEqual(out.y!.shape, shape);
        assert.deepEqual([...(out.y!.data as Float32Array)], batch.map((x) => 0.5 * x + 2));
      } finally {
        await model.unload();
      }
    });
  }

  test('the README example predicts 2.5, 3.0, 4.5 for 1, 2, 5', async () => {
    const model = await loadModel(tfServingModel('saved_model_half_plus_two_cpu'));
    try {
      const out = await model.predict({ x: { dtype: 'float32', shape: [3, 1], data: [1, 2, 5] } });
      assert.deepEqual(Array.from(out.y!.data as Float32Array), [2.5, 3.0, 4.5]);
    } finally {
      await model.unload();
    }
  });

  test('the two-version model lists both versions and serves each', async () => {
    const base = tfServingModel('saved_model_half_plus_two_2_versions');
    const latest = await loadModel(base);
    try {
      const older = await loadModel(base, { version: 123 });
      try {
        assert.deepEqual(latest.versions, [123, 124]);
        assert.equal(latest.version, 124);
        assert.equal(older.version, 123);
        assert.equal(path.basename(older.exportDir), '00000123');
        for (const model of [latest, older]) {
          const out = await model.predict({ x: { shape: [2, 1], data: [4, 6] } });
          assert.deepEqual([...(out.y!.data as Float32Array)], [4, 5]);
        }
        await rejectsWithCode(loadModel(base, { version: 125 }), 'NOT_FOUND', /version 125 not found.*123, 124/);
      } finally {
        await older.unload();
      }
    } finally {
      await latest.unload();
    }
  });

  test('bad_half_plus_two is refused with a clear error, and the process lives on', async () => {
    await rejectsWithCode(loadModel(tfServingModel('bad_half_plus_two')), 'NOT_FOUND', /Could not find SavedModel .pb or .pbtxt/);
    const model = await loadModel(tfServingModel('saved_model_half_plus_two_cpu'));
    try {
      const out = await model.predict({ x: { shape: [1, 1], data: [2] } });
      assert.deepEqual([...(out.y!.data as Float32Array)], [3]);
    } finally {
      await model.unload();
    }
  });

  test('signatures match TF Serving\'s GetModelMetadata answer', async () => {
    type Info = { dtype: string; name: string; tensor_shape: { dim: Array<{ size: string }>; unknown_rank: boolean } };
    type Def = { inputs: Record<string, Info>; outputs: Record<string, Info>; method_name: string };
    const golden = readJson<{ metadata: { signature_def: { signature_def: Record<string, Def> } } }>(
      path.join(tfServingData, 'half_plus_two_model_metadata.json'),
    ).metadata.signature_def.signature_def;
    const model = await loadModel(tfServingModel('saved_model_half_plus_two_cpu'));
    try {
      assert.deepEqual(Object.keys(model.signatures).sort(), Object.keys(golden).sort());
      for (const [key, def] of Object.entries(golden)) {
        const signature = model.signatures[key]!;
        assert.equal(signature.methodName, def.method_name, key);
        for (const side of ['inputs', 'outputs'] as const) {
          assert.deepEqual(Object.keys(signature[side]).sort(), Object.keys(def[side]).sort(), `${key} ${side}`);
          for (const [alias, info] of Object.entries(def[side])) {
            const spec = signature[side][alias]!;
            assert.equal(spec.name, info.name, `${key}.${alias} name`);
            assert.equal(spec.tfDtype, info.dtype, `${key}.${alias} dtype`);
            const shape = info.tensor_shape.unknown_rank ? null : info.tensor_shape.dim.map((d) => Number(d.size));
            assert.deepEqual(spec.shape, shape, `${key}.${alias} shape`);
          }
        }
      }
    } finally {
      await model.unload();
    }
  });
});
