// The seed scenario: the MNIST CNN built TF1 style, exported with
// SavedModelBuilder, predicts through tfserve exactly as TF Python does.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';

import { loadModel } from '../src';
import { fixture, readJson } from './helpers';

interface Reference {
  accuracy: number;
  images: number[][];
  labels: number[];
  softmax: number[][];
  prediction: number[];
}

test('gaofei_cnn: tfserve equals TF Python, prediction == argmax(softmax), accuracy >= 0.9', async () => {
  const base = fixture('gaofei_cnn');
  const ref = readJson<Reference>(path.join(base, 'reference.json'));
  assert.ok(ref.accuracy >= 0.9, `held-out accuracy ${ref.accuracy}`);

  const model = await loadModel(base, { version: 0 });
  try {
    assert.deepEqual(model.versions, [0]);
    const signature = model.signatures.serving_default!;
    assert.equal(signature.methodName, 'tensorflow/serving/predict');
    assert.deepEqual(signature.inputs.image!.shape, [-1, 28, 28]);
    assert.equal(signature.inputs.image!.name, 'input_x_image:0');
    assert.deepEqual(Object.keys(signature.outputs), ['prediction', 'softmax']);

    const count = ref.images.length;
    const images = Float32Array.from(ref.images.flat());
    const out = await model.predict({ image: { dtype: 'float32', shape: [count, 28, 28], data: images } }, { outputs: ['softmax', 'prediction'] });
    const softmax = out.softmax!.data as Float32Array;
    const prediction = out.prediction!.data as BigInt64Array;
    assert.equal(out.prediction!.dtype, 'int64');
    assert.deepEqual(out.softmax!.shape, [count, 10]);

    let maxDiff = 0;
    let correct = 0;
    for (let i = 0; i < count; i++) {
      const row = softmax.subarray(i * 10, i * 10 + 10);
      row.forEach((p, k) => (maxDiff = Math.max(maxDiff, Math.abs(p - ref.softmax[i]![k]!))));
      const argmax = row.indexOf(Math.max(...row));
      assert.equal(Number(prediction[i]), argmax, `image ${i}: prediction is argmax(softmax)`);
      assert.equal(Number(prediction[i]), ref.prediction[i], `image ${i}: same prediction as TF Python`);
      if (argmax === ref.labels[i]) correct++;
    }
    assert.ok(maxDiff <= 1e-5, `max |softmax - TF Python| = ${maxDiff}`);
    assert.ok(correct / count >= 0.9, `accuracy on the reference images ${correct}/${count}`);

    // One image at a time gives the same answers as the batch.
    const single = await model.predict({ image: { shape: [1, 28, 28], data: images.subarray(0, 784) } });
    assert.equal(Number((single.prediction!.data as BigInt64Array)[0]), ref.prediction[0]);
  } finally {
    await model.unload();
  }
});
