// The models every contender runs. Each is one SavedModel directory, fed
// float32 examples of `exampleShape` under the serving_default input `input`.
import fs from 'node:fs';
import path from 'node:path';

import { FIXTURES_DIR, TF_SERVING_TESTDATA } from './paths.mjs';

export const MODELS = [
  {
    id: 'half_plus_two',
    title: "TF Serving's half_plus_two (pure overhead)",
    basePath: path.join(TF_SERVING_TESTDATA, 'saved_model_half_plus_two_cpu'),
    version: 123,
    versionDir: '00000123',
    input: 'x',
    exampleShape: [1],
    batchSizes: [64, 256],
    missingHint: 'TF Serving test data not found beside the repository (../shared/testdata/tf_serving)',
  },
  {
    id: 'cnn',
    title: 'seed MNIST CNN (gaofei_cnn)',
    fixture: 'gaofei_cnn',
    basePath: path.join(FIXTURES_DIR, 'gaofei_cnn'),
    version: 0,
    versionDir: '0',
    input: 'image',
    exampleShape: [28, 28],
    // Its ONNX copy in .fixtures/onnx_models (scripts/fixtures/onnx_models.py).
    onnx: 'cnn',
    batchSizes: [64, 256],
  },
  {
    id: 'mobilenet',
    title: 'MobileNetV2 224x224, random weights (compute-bound)',
    fixture: 'mobilenet_v2',
    basePath: path.join(FIXTURES_DIR, 'mobilenet_v2'),
    version: 1,
    versionDir: '1',
    input: 'images',
    exampleShape: [224, 224, 3],
    onnx: 'mobilenet',
    batchSizes: [64],
  },
];

export function exportDir(model) {
  return path.join(model.basePath, model.versionDir);
}

export function selectModels(ids) {
  if (!ids) return MODELS;
  return ids.map((id) => {
    const model = MODELS.find((m) => m.id === id || m.fixture === id);
    if (!model) throw new Error(`--models: unknown model '${id}' (choose from ${MODELS.map((m) => m.id).join(', ')})`);
    return model;
  });
}

/** Null when the model can be run, else why not. */
export function whyMissing(model) {
  if (fs.existsSync(path.join(exportDir(model), 'saved_model.pb'))) return null;
  return model.missingHint ?? `${exportDir(model)} has no saved_model.pb`;
}

/** Deterministic float32 inputs in [0, 1) for `batch` examples. */
export function makeInputData(model, batch, seed = 1) {
  const size = batch * model.exampleShape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(size);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    data[i] = (state >>> 0) / 4294967296;
  }
  return data;
}
