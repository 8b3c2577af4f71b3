// tfserve's embedded API, from the compiled package (dist/src).
//
// Every JS contender exports the same adapter: `open(model, { batching })`
// loads the model and returns a session with
//   runtime            what ran (versions), for the report
//   prepare(batch)     builds one request of `batch` examples, outside the timing
//   run(request)       one prediction, resolved once the outputs are JS arrays
//   close()
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

import { makeInputData } from '../lib/models.mjs';
import { REPO_ROOT } from '../lib/paths.mjs';

const require = createRequire(import.meta.url);
const PACKAGE = path.join(REPO_ROOT, 'dist', 'src', 'index.js');

export const name = 'tfserve';
export const label = 'tfserve predict()';

function loadPackage() {
  if (!fs.existsSync(PACKAGE)) throw new Error(`${PACKAGE} is missing: build tfserve first (npm run build)`);
  return require(PACKAGE);
}

/** Graph tensor names of the serving signature, which the native loop feeds and fetches. */
export async function describe(model) {
  const tfserve = loadPackage();
  const loaded = await tfserve.loadModel(model.basePath, { version: model.version });
  try {
    const signature = loaded.signatures.serving_default;
    const input = signature.inputs[model.input];
    if (!input) throw new Error(`${model.id}: serving_default has no input '${model.input}'`);
    return {
      inputTensor: input.name,
      outputs: Object.keys(signature.outputs).sort(),
      outputTensors: Object.keys(signature.outputs).sort().map((alias) => signature.outputs[alias].name),
    };
  } finally {
    await loaded.unload();
  }
}

// Micro-batching arrives with the Engine API; until then every request runs
// on its own and `batching` is recorded as unavailable.
export const supportsBatching = false;

export async function open(model) {
  const tfserve = loadPackage();
  const loaded = await tfserve.loadModel(model.basePath, { version: model.version });
  return {
    runtime: {
      api: 'loadModel().predict()',
      tensorflow: tfserve.tensorflowVersion(),
      batching: false,
      uvThreadpoolSize: Number(process.env.UV_THREADPOOL_SIZE ?? 4),
    },
    prepare(batch) {
      return {
        [model.input]: { dtype: 'float32', shape: [batch, ...model.exampleShape], data: makeInputData(model, batch) },
      };
    },
    run(request) {
      return loaded.predict(request);
    },
    close() {
      return loaded.unload();
    },
  };
}
