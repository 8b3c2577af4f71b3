// `node scripts/cuda-check.mjs`: shows that the CUDA variant of TensorFlow
// (TFSERVE_TF_VARIANT=cuda, docs/libtensorflow.md) provisions, links and
// answers correctly, on a machine with or without a GPU (without one, TF runs
// it on the CPU). It
//   1. runs the checks below with the current (CPU) build, as the reference;
//   2. provisions the CUDA variant (downloads about 3.4 GB the first time)
//      and builds the addon against it into build-cuda/;
//   3. runs the same checks with that addon (TFSERVE_ADDON_PATH): the seed
//      CNN (.fixtures/gaofei_cnn) must give the CPU build's answers, TF
//      Serving's saved_model_half_plus_two_gpu y = 0.5x + 2, and
//      tf_text_regression 3.0 for 2.0 (TF Text's ops under the CUDA build);
//   4. provisions the variant deps/ had before again (the CPU addon in
//      build/ is left as it was, so nothing is rebuilt).
// Do not run tests in this checkout meanwhile: deps/ points at the CUDA
// libraries during steps 2 and 3. `--keep` stays on the CUDA variant.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { buildNative } from './build-native.mjs';
import { DEFAULT_TF_VERSION, libtensorflowCacheDir, provisionLibtensorflow, readConfig } from './libtensorflow.mjs';
import { log, seconds } from './log.mjs';
import { FIXTURES_DIR, REPO_ROOT, SHARED_DIR } from './paths.mjs';

const SUITE_TESTDATA = path.join(SHARED_DIR, 'tf_serving_suite', 'tensorflow_serving', 'servables', 'tensorflow', 'testdata');
const CUDA_OUT = 'build-cuda';

// Run in a child process with the addon under test: loads each model, runs
// it, and prints JSON with the TF version, the devices the session sees
// (where the engine lists them) and the outputs.
const PROBE = `
const tfserve = require(${JSON.stringify(path.join(REPO_ROOT, 'dist', 'src', 'index.js'))});
const [cnnDir, gpuDir, textDir] = process.argv.slice(1);
async function run(dir, inputs) {
  const model = await tfserve.loadModel(dir);
  try {
    const outputs = await model.predict(inputs);
    const plain = Object.fromEntries(Object.entries(outputs).map(([k, t]) => [k, { shape: t.shape, data: Array.from(t.data, (v) => (typeof v === 'bigint' ? Number(v) : v)) }]));
    return { devices: model.devices ? model.devices.map((d) => d.name) : null, outputs: plain };
  } finally {
    await model.unload();
  }
}
(async () => {
  const image = Array.from({ length: 2 * 28 * 28 }, (_, i) => ((i * 37) % 256) / 255);
  const cnn = await tfserve.loadModel(cnnDir);
  const input = Object.keys(cnn.signatures.serving_default.inputs)[0];
  const shape = cnn.signatures.serving_default.inputs[input].shape.map((d, i) => (i === 0 ? 2 : d));
  await cnn.unload();
  const result = {
    tensorflow: tfserve.tensorflowVersion(),
    cnn: await run(cnnDir, { [input]: { dtype: 'float32', shape, data: image.slice(0, shape.reduce((a, b) => a * b, 1)) } }),
    halfPlusTwoGpu: await run(gpuDir, { x: { dtype: 'float32', shape: [3, 1], data: [1, 2, 5] } }),
    tfText: await run(textDir, { x: { dtype: 'float32', shape: [1], data: [2] } }),
    // Where the TF and CUDA libraries this process mapped really are.
    mapped: [...new Set(require('fs').readFileSync('/proc/self/maps', 'utf8').split('\\n')
      .map((line) => line.split(/\\s+/)[5] ?? '').filter((file) => /libtensorflow_cc|[/]nvidia[/]/.test(file)))],
  };
  process.stdout.write(JSON.stringify(result));
})().catch((error) => { console.error(error.message); process.exit(1); });
`;

function probe(addon) {
  const started = Date.now();
  const child = spawnSync(process.execPath, ['-e', PROBE, path.join(FIXTURES_DIR, 'gaofei_cnn'),
    path.join(SUITE_TESTDATA, 'saved_model_half_plus_two_gpu'), path.join(SUITE_TESTDATA, 'tf_text_regression')], {
    encoding: 'utf8', env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '1', ...(addon ? { TFSERVE_ADDON_PATH: addon } : {}) },
  });
  if (child.status !== 0) throw new Error(`the probe failed with ${addon ?? 'the CPU addon'}:\n${child.stderr}`);
  // What TF said about CUDA and GPUs (on a machine without one: no driver).
  const said = child.stderr.split('\n').filter((line) => /cuda|gpu/i.test(line) && !/Colocation|device_name_|\/device:GPU:0$/.test(line));
  return { ...JSON.parse(child.stdout), said: [...new Set(said)].slice(0, 8), seconds: seconds(started) };
}

function check(what, ok, detail) {
  log(`${ok ? 'ok' : 'FAILED'}: ${what}${detail ? ` (${detail})` : ''}`);
  if (!ok) process.exitCode = 1;
}

// `ownDir: false` hides TFSERVE_LIBTENSORFLOW_DIR, whose route would
// otherwise win over the CUDA wheel and relink the same build.
function withVariant(variant, version, fn, { ownDir = true } = {}) {
  const names = ['TFSERVE_TF_VARIANT', 'TFSERVE_TF_VERSION', 'TFSERVE_LIBTENSORFLOW_DIR'];
  const saved = Object.fromEntries(names.map((name) => [name, process.env[name]]));
  process.env.TFSERVE_TF_VARIANT = variant;
  if (version) process.env.TFSERVE_TF_VERSION = version;
  if (!ownDir) delete process.env.TFSERVE_LIBTENSORFLOW_DIR;
  try {
    return fn();
  } finally {
    for (const name of names) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
  }
}

const before = readConfig();
if (!fs.existsSync(path.join(FIXTURES_DIR, 'gaofei_cnn'))) throw new Error('run `npm run fixtures` first (the seed CNN fixture is missing)');
log(`reference run with the current build (TensorFlow ${before.version}, ${before.variant ?? 'cpu'}) ...`);
const reference = probe(null);

const version = before.version !== 'unknown' ? before.version : undefined;
const cacheBefore = fs.existsSync(libtensorflowCacheDir({ version: version ?? DEFAULT_TF_VERSION, variant: 'cuda' }));
let started = Date.now();
try {
  const cuda = withVariant('cuda', version, () => provisionLibtensorflow(), { ownDir: false });
  log(`CUDA variant ${cacheBefore ? 'was cached' : 'provisioned'} in ${seconds(started)}`);
  started = Date.now();
  buildNative('cmake-js', { outDir: CUDA_OUT });
  const addon = path.join(REPO_ROOT, CUDA_OUT, 'Release', 'tfserve.node');
  const result = probe(addon);
  const cudaLibrary = fs.realpathSync(path.join(cuda.libDir, 'libtensorflow_cc.so.2'));
  check('the CUDA addon ran the CUDA build of libtensorflow_cc.so.2', result.mapped.includes(cudaLibrary), result.mapped.filter((f) => f.includes('libtensorflow_cc')).join(', '));
  const nvidia = result.mapped.filter((file) => file.includes('/nvidia/'));
  log(`CUDA build ${result.tensorflow}: devices ${JSON.stringify(result.cnn.devices)}; probe took ${result.seconds}`);
  log(`nvidia libraries mapped: ${nvidia.length ? nvidia.map((f) => path.relative(cuda.nvidiaDir, f)).join(', ') : 'none'}`);
  for (const line of result.said) log(`TF said: ${line.slice(0, 240)}`);
  check('the CPU build does not map the CUDA build', !reference.mapped.includes(cudaLibrary));
  const [ref, got] = [reference.cnn.outputs, result.cnn.outputs];
  let worst = 0;
  for (const key of Object.keys(ref)) {
    ref[key].data.forEach((value, i) => (worst = Math.max(worst, Math.abs(value - (got[key]?.data[i] ?? Infinity)))));
  }
  check('seed CNN: the CUDA build answers as the CPU build', worst < 1e-4, `largest difference ${worst.toExponential(2)}`);
  const y = result.halfPlusTwoGpu.outputs.y?.data ?? [];
  check('saved_model_half_plus_two_gpu: y = 0.5x + 2 for 1, 2, 5', JSON.stringify(y) === JSON.stringify([2.5, 3, 4.5]), `y = ${JSON.stringify(y)}`);
  const text = result.tfText.outputs.y?.data ?? [];
  check('tf_text_regression: 3.0 for 2.0 with TF Text ops under the CUDA build', JSON.stringify(text) === '[3]', `y = ${JSON.stringify(text)}`);
} finally {
  if (!process.argv.includes('--keep')) {
    log(`switching deps/ back to TensorFlow ${before.version} (${before.variant ?? 'cpu'}) ...`);
    withVariant(before.variant && before.variant !== 'unknown' ? before.variant : 'cpu', version, () => provisionLibtensorflow());
  }
}
