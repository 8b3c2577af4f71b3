// @tensorflow/tfjs-node, as set up by lib/tfjs-node-setup.mjs in bench/.tfjs:
// tf.node.loadSavedModel(dir, tags, signature).predict(). Same adapter shape
// as contenders/tfserve.mjs; the same call in every scenario.
import { createRequire } from 'node:module';
import path from 'node:path';

import { exportDir, makeInputData } from '../lib/models.mjs';
import { TFJS_DIR } from '../lib/paths.mjs';

export const name = 'tfjs-node';

export async function open(model) {
  const require = createRequire(path.join(TFJS_DIR, 'package.json'));
  const tf = require('@tensorflow/tfjs-node');
  const loaded = await tf.node.loadSavedModel(exportDir(model), ['serve'], 'serving_default');
  return {
    runtime: {
      api: 'tf.node.loadSavedModel().predict()',
      tfjsNode: tf.version['tfjs-node'],
      tensorflow: tf.backend().binding.TF_Version,
      batching: false,
    },
    prepare(batch) {
      return { data: makeInputData(model, batch), shape: [batch, ...model.exampleShape] };
    },
    runner() {
      return run;
    },
    async outputs(request) {
      const input = tf.tensor(request.data, request.shape, 'float32');
      const out = loaded.predict({ [model.input]: input });
      const entries = out instanceof tf.Tensor ? [['output', out]] : Object.entries(out);
      try {
        return Object.fromEntries(await Promise.all(entries.map(async ([alias, t]) => [alias, Array.from(await t.data(), Number)])));
      } finally {
        tf.dispose([input, ...entries.map(([, t]) => t)]);
      }
    },
    async close() {
      loaded.dispose();
    },
  };

  // tfjs-node's predict runs the session on the calling thread; only reading
  // the outputs back is asynchronous.
  async function run(request) {
    const input = tf.tensor(request.data, request.shape, 'float32');
    const out = loaded.predict({ [model.input]: input });
    const outputs = out instanceof tf.Tensor ? [out] : Object.values(out);
    try {
      return await Promise.all(outputs.map((t) => t.data()));
    } finally {
      tf.dispose([input, ...outputs]);
    }
  }
}
