// onnxruntime-node (set up by lib/ort-setup.mjs in bench/.ort) on the ONNX
// copy of the model that scripts/fixtures/onnx_models.py made with tf2onnx.
// Same adapter shape as contenders/tfserve.mjs; the same call in every
// scenario, with onnxruntime's default session options (intra-op threads: one
// per core, graph optimizations: all).
import fs from 'node:fs';
import path from 'node:path';

import { makeInputData } from '../lib/models.mjs';
import { requireOrt } from '../lib/ort-setup.mjs';
import { FIXTURES_DIR } from '../lib/paths.mjs';

export const name = 'onnxruntime-node';

const ONNX_DIR = path.join(FIXTURES_DIR, 'onnx_models');

export async function open(model) {
  if (!model.onnx) throw new Error(`${model.id} has no ONNX copy`);
  const manifest = JSON.parse(fs.readFileSync(path.join(ONNX_DIR, 'manifest.json'), 'utf8'))[model.onnx];
  if (!manifest) throw new Error(`${ONNX_DIR}/manifest.json has no '${model.onnx}'`);
  if (!manifest.inputs.includes(model.input)) throw new Error(`${manifest.file} takes ${manifest.inputs.join(', ')}, not '${model.input}'`);
  const ort = requireOrt();
  const session = await ort.InferenceSession.create(path.join(ONNX_DIR, manifest.file));
  const run = async (request) => {
    const out = await session.run({ [model.input]: new ort.Tensor('float32', request.data, request.shape) });
    return Object.values(out).map((t) => t.data);
  };
  return {
    runtime: {
      api: 'InferenceSession.create(model.onnx).run()',
      onnxruntimeNode: ort.env.versions?.node ?? null,
      onnx: manifest.file,
      batching: false,
    },
    prepare(batch) {
      return { data: makeInputData(model, batch), shape: [batch, ...model.exampleShape] };
    },
    runner() {
      return run;
    },
    async outputs(request) {
      const out = await session.run({ [model.input]: new ort.Tensor('float32', request.data, request.shape) });
      return Object.fromEntries(Object.entries(out).map(([alias, t]) => [alias, Array.from(t.data, Number)]));
    },
    async close() {
      await session.release();
    },
  };
}
