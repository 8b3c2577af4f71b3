// The models the fuzzing server serves and what their signatures take: the
// valid requests that mutations start from. TF Serving's half_plus_two (with
// classify/regress signatures) sits beside the checkout in ../shared, the
// others are the generated fixtures (scripts/fixtures/*.py).
import fs from 'node:fs';
import path from 'node:path';

import { FIXTURES_DIR, TF_SERVING_TESTDATA } from '../paths.mjs';

const DTYPE_NAMES = [
  'float16', 'float32', 'float64', 'bfloat16', 'int8', 'int16', 'int32', 'int64',
  'uint8', 'uint16', 'uint32', 'uint64', 'bool', 'string', 'complex64', 'complex128',
];

/** The generated fixtures (scripts/fixtures/<name>.py) the fuzz models use. */
export const FIXTURE_NAMES = ['dtypes', 'multi_sig', 'shapes', 'counter'];

const f32 = (name, shape) => ({ name, dtype: 'float32', shape });

/**
 * name -> { basePath, labels?, signatures: { sig: { inputs: [{name, dtype, shape}], method } } }.
 * shape uses -1 for unknown dimensions; method is 'predict', 'classify' or 'regress'.
 */
export function fuzzModels() {
  const models = {
    half_plus_two: {
      basePath: path.join(TF_SERVING_TESTDATA, 'saved_model_half_plus_two_cpu'),
      signatures: {
        serving_default: { method: 'predict', inputs: [f32('x', [-1, 1])] },
        classify_x_to_y: { method: 'classify', inputs: [{ name: 'inputs', dtype: 'string', shape: [-1] }] },
        regress_x_to_y: { method: 'regress', inputs: [{ name: 'inputs', dtype: 'string', shape: [-1] }] },
        regress_x_to_y2: { method: 'regress', inputs: [{ name: 'inputs', dtype: 'string', shape: [-1] }] },
        // Marked regress but takes a float tensor: Regress must refuse it cleanly.
        regress_x2_to_y3: { method: 'regress', inputs: [f32('inputs', [-1, 1])] },
      },
      features: ['x', 'x2'],
    },
    dtypes: {
      basePath: path.join(FIXTURES_DIR, 'dtypes'),
      signatures: Object.fromEntries(DTYPE_NAMES.map((d) => [d, { method: 'predict', inputs: [{ name: 'x', dtype: d, shape: [-1, 3] }] }])),
    },
    multi_sig: {
      basePath: path.join(FIXTURES_DIR, 'multi_sig'),
      labels: { stable: 1, canary: 2 },
      signatures: {
        serving_default: { method: 'predict', inputs: [f32('x', [-1, 2])] },
        add: { method: 'predict', inputs: [{ name: 'a', dtype: 'int32', shape: [-1] }, { name: 'b', dtype: 'int32', shape: [-1] }] },
        concat: { method: 'predict', inputs: [{ name: 'a', dtype: 'string', shape: [-1] }, { name: 'b', dtype: 'string', shape: [-1] }] },
      },
    },
    shapes: {
      basePath: path.join(FIXTURES_DIR, 'shapes'),
      signatures: {
        fixed: { method: 'predict', inputs: [f32('x', [2, 3])] },
        variable: { method: 'predict', inputs: [f32('x', [-1, -1])] },
        scalar: { method: 'predict', inputs: [f32('x', [-1, 3])] },
        scalar_in: { method: 'predict', inputs: [f32('s', [])] },
        multi_out: { method: 'predict', inputs: [f32('a', [-1]), f32('b', [-1])] },
      },
    },
    counter: {
      basePath: path.join(FIXTURES_DIR, 'counter'),
      signatures: { serving_default: { method: 'predict', inputs: [f32('x', [-1, 1])] } },
    },
  };
  const missing = Object.values(models).map((m) => m.basePath).filter((p) => !fs.existsSync(p));
  if (missing.length) throw new Error(`fuzz models missing: ${missing.join(', ')} (TF Serving's test data is expected in ../shared beside the repository)`);
  return models;
}

/** TF Serving's model_config_list text for `models` (every version served, labels where given). */
export function modelConfigText(models) {
  const entries = Object.entries(models).map(([name, m]) => {
    const labels = Object.entries(m.labels ?? {}).map(([k, v]) => ` version_labels { key: "${k}" value: ${v} }`).join('');
    const policy = m.labels ? ' model_version_policy { all {} }' : '';
    return `  config { name: "${name}" base_path: "${m.basePath}" model_platform: "tensorflow"${policy}${labels} }`;
  });
  return `model_config_list {\n${entries.join('\n')}\n}\n`;
}

/** Small batches with padding so that merges, splits and padding all run. */
export const BATCHING_TEXT = [
  'max_batch_size { value: 8 }',
  'batch_timeout_micros { value: 500 }',
  'max_enqueued_batches { value: 100 }',
  'num_batch_threads { value: 2 }',
  'allowed_batch_sizes: 2',
  'allowed_batch_sizes: 4',
  'allowed_batch_sizes: 8',
  'pad_variable_length_inputs: true',
  'enable_large_batch_splitting: true',
  '',
].join('\n');

export { DTYPE_NAMES };
