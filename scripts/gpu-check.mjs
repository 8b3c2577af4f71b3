// npm run gpu-check: what a GPU user runs first. Prints the devices TensorFlow
// sees, runs the seed CNN and MobileNetV2 on the GPU and on the CPU, compares
// their outputs and times batch 1 and batch 64 on each. On a machine without
// a GPU (or with a CPU build of libtensorflow) it says so and times the CPU.
//
//   node scripts/gpu-check.mjs [--models gaofei_cnn,mobilenet_v2] [--batches 1,64]
//                              [--runs 10] [--max-seconds 20] [--json]
//
// "On the GPU" is a session with TF's defaults (TF places each op on GPU:0
// when it has a GPU kernel) plus allow_growth, so the check does not take all
// of the GPU's memory; "on the CPU" is a session with device_count { GPU: 0 },
// which creates no GPU device at all. Inputs are seeded pseudo-random floats,
// the same for both. Exit status 1 when the GPU's outputs differ from the
// CPU's beyond the tolerance (a relative 1e-2: cuDNN may pick other
// algorithms, and on Ampere and later TF runs float32 matmuls and convolutions
// in TF32 by default), or when a model cannot be loaded or run.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

import { configFile } from './libtensorflow.mjs';
import { FIXTURES_DIR, REPO_ROOT } from './paths.mjs';

const USAGE = `usage: node scripts/gpu-check.mjs [--models a,b] [--batches 1,64] [--runs N] [--max-seconds S] [--json]
  --models       fixture models to run (default gaofei_cnn,mobilenet_v2; made by scripts/make-fixtures.mjs when missing)
  --batches      batch sizes to time (default 1,64)
  --runs         timed runs per model, device and batch size (default 10; after 2 warm-up runs)
  --max-seconds  stop timing one cell after this long, whatever --runs says (default 20)
  --json         print one JSON summary instead of the report`;

const TOLERANCE = 1e-2;
const WARMUP_RUNS = 2;

function parseArgs(argv) {
  const options = { models: ['gaofei_cnn', 'mobilenet_v2'], batches: [1, 64], runs: 10, maxSeconds: 20, json: false };
  const positiveInts = (flag, text) => {
    const values = text.split(',').map((v) => Number(v));
    if (values.length === 0 || values.some((v) => !Number.isInteger(v) || v < 1)) throw new Error(`${flag} takes positive integers, got '${text}'`);
    return values;
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s, 2);
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    if (flag === '--models') options.models = value().split(',').filter(Boolean);
    else if (flag === '--batches') options.batches = positiveInts(flag, value());
    else if (flag === '--runs') options.runs = positiveInts(flag, value())[0];
    else if (flag === '--max-seconds') {
      options.maxSeconds = Number(value());
      if (!(options.maxSeconds > 0)) throw new Error(`--max-seconds takes a positive number`);
    } else if (flag === '--json') options.json = true;
    else if (flag === '--help' || flag === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else throw new Error(`unknown argument '${argv[i]}'\n${USAGE}`);
  }
  if (options.models.length === 0) throw new Error('--models names no model');
  return options;
}

/** The compiled package (npm install / npm run build:ts made dist/). */
function loadTfserve() {
  const entry = path.join(REPO_ROOT, 'dist', 'src', 'index.js');
  if (!fs.existsSync(entry)) throw new Error(`${entry} is missing: run 'npm install' (or 'npm run build') first`);
  return createRequire(import.meta.url)(entry);
}

/** Makes the fixtures that are missing (MobileNetV2 is not made by npm test). */
function ensureFixtures(models) {
  const missing = models.filter((m) => !fs.existsSync(path.join(FIXTURES_DIR, m)));
  if (missing.length === 0) return;
  const made = spawnSync(process.execPath, [path.join(REPO_ROOT, 'scripts', 'make-fixtures.mjs'), ...missing], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (made.status !== 0) throw new Error(`cannot make the fixtures ${missing.join(', ')}`);
}

/** deps/libtensorflow.json's account of the build: where it came from and its variant ('cpu' unless it says 'cuda'). */
function libtensorflowBuild() {
  try {
    const config = JSON.parse(fs.readFileSync(configFile, 'utf8'));
    return { source: config.source ?? 'unknown', variant: config.variant ?? 'cpu' };
  } catch {
    return { source: 'unknown (no deps/libtensorflow.json)', variant: 'unknown' };
  }
}

/** Seeded floats in [0, 1): the same inputs on every device and every run of the check. */
function pseudoRandom(count, seed) {
  const data = new Float32Array(count);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < count; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    data[i] = (state >>> 0) / 2 ** 32;
  }
  return data;
}

/** Inputs for the serving_default signature at this batch size: unknown dims other than the batch's are refused. */
function makeInputs(signature, batch) {
  const inputs = {};
  let seed = 1;
  for (const [alias, spec] of Object.entries(signature.inputs)) {
    if (spec.dtype !== 'float32') throw new Error(`input '${alias}' is ${spec.dtype}; gpu-check feeds float32 inputs only`);
    if (spec.shape === null || spec.shape.slice(1).some((d) => d < 0)) throw new Error(`input '${alias}' has unknown dims ${JSON.stringify(spec.shape)}`);
    const shape = [batch, ...spec.shape.slice(1)];
    inputs[alias] = { dtype: 'float32', shape, data: pseudoRandom(shape.reduce((a, b) => a * b, 1), seed++) };
  }
  return inputs;
}

/** Largest |a - b| over the float outputs, relative to the largest |b|; mismatching elements of integer outputs. */
function compareOutputs(gpu, cpu) {
  let maxAbs = 0;
  let scale = 0;
  let integerMismatches = 0;
  for (const [alias, expected] of Object.entries(cpu)) {
    const actual = gpu[alias];
    if (!actual || actual.shape.join() !== expected.shape.join()) throw new Error(`output '${alias}': shape ${actual?.shape} on the GPU, ${expected.shape} on the CPU`);
    const floating = expected.data instanceof Float32Array || expected.data instanceof Float64Array;
    for (let i = 0; i < expected.data.length; i++) {
      if (floating) {
        maxAbs = Math.max(maxAbs, Math.abs(actual.data[i] - expected.data[i]));
        scale = Math.max(scale, Math.abs(expected.data[i]));
      } else if (actual.data[i] !== expected.data[i]) {
        integerMismatches++;
      }
    }
  }
  const relative = scale > 0 ? maxAbs / scale : maxAbs;
  return { maxAbsDiff: maxAbs, maxRelDiff: relative, integerMismatches, ok: relative <= TOLERANCE };
}

async function timeRuns(model, inputs, options) {
  for (let i = 0; i < WARMUP_RUNS; i++) await model.predict(inputs);
  const times = [];
  const deadline = performance.now() + options.maxSeconds * 1000;
  while (times.length < options.runs && (times.length === 0 || performance.now() < deadline)) {
    const start = performance.now();
    await model.predict(inputs);
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  const batch = Object.values(inputs)[0].shape[0];
  const p50 = times[Math.floor((times.length - 1) / 2)];
  return { batch, runs: times.length, p50Ms: p50, minMs: times[0], rowsPerSecond: (batch * 1000) / p50 };
}

const fmt = (ms) => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));

async function checkModel(tfserve, name, hasGpu, options, say) {
  const basePath = path.join(FIXTURES_DIR, name);
  const result = { model: name, timings: {} };
  const sessions = { cpu: { deviceCount: { GPU: 0 } } };
  if (hasGpu) sessions.gpu = { gpu: { allowGrowth: true } };
  const models = {};
  try {
    for (const [where, session] of Object.entries(sessions)) models[where] = await tfserve.loadModel(basePath, { session });
    const signature = models.cpu.signature();
    say(`\n${name}: inputs ${Object.entries(signature.inputs).map(([a, s]) => `${a} ${JSON.stringify(s.shape)}`).join(', ')}`);
    if (models.gpu) {
      const inputs = makeInputs(signature, Math.min(8, Math.max(...options.batches)));
      result.comparison = compareOutputs(await models.gpu.predict(inputs), await models.cpu.predict(inputs));
      const c = result.comparison;
      say(`  GPU vs CPU outputs: max |diff| ${c.maxAbsDiff.toExponential(2)}, relative ${c.maxRelDiff.toExponential(2)} (tolerance ${TOLERANCE})` +
        `${c.integerMismatches ? `, ${c.integerMismatches} integer elements differ` : ''}: ${c.ok ? 'match' : 'MISMATCH'}`);
    }
    for (const batch of options.batches) {
      const inputs = makeInputs(signature, batch);
      for (const where of Object.keys(models)) {
        const t = await timeRuns(models[where], inputs, options);
        (result.timings[where] ??= []).push(t);
        say(`  ${where.toUpperCase()} batch ${String(batch).padStart(3)}: p50 ${fmt(t.p50Ms)} ms, min ${fmt(t.minMs)} ms, ${t.rowsPerSecond.toFixed(0)} rows/s (${t.runs} runs)`);
      }
    }
  } finally {
    await Promise.all(Object.values(models).map((m) => m.unload()));
  }
  return result;
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
  const say = options.json ? () => undefined : (line) => console.log(line);
  const tfserve = loadTfserve();
  ensureFixtures(options.models);

  // A session with TF's defaults sees every device TF found.
  const probe = await tfserve.loadModel(path.join(FIXTURES_DIR, options.models[0]));
  const devices = probe.devices;
  await probe.unload();
  const gpus = devices.filter((d) => d.type === 'GPU');
  const build = libtensorflowBuild();
  const summary = { tensorflow: tfserve.tensorflowVersion(), libtensorflow: build.source, variant: build.variant, devices, gpu: gpus.length > 0, models: [] };
  say(`TensorFlow ${summary.tensorflow} (${build.source}, ${build.variant} variant)`);
  say('devices:');
  for (const d of devices) say(`  ${d.name}  ${d.type}  ${d.type === 'CPU' ? '' : `${(d.memoryBytes / 2 ** 30).toFixed(2)} GiB`}`);
  if (!summary.gpu) {
    const why =
      build.variant === 'cuda'
        ? "the CUDA build found no usable NVIDIA GPU and driver: TF's log above says why, e.g. 'failed call to cuInit'"
        : build.variant === 'cpu'
          ? 'this is the CPU build of libtensorflow: TFSERVE_TF_VARIANT=cuda npm install provisions the CUDA one'
          : 'a CPU build of libtensorflow, or no usable NVIDIA GPU and driver';
    say(`no GPU: TensorFlow sees no GPU device (${why}); timing the CPU only`);
  }
  let failed = false;
  for (const name of options.models) {
    try {
      const result = await checkModel(tfserve, name, summary.gpu, options, say);
      if (result.comparison && !result.comparison.ok) failed = true;
      summary.models.push(result);
    } catch (error) {
      failed = true;
      summary.models.push({ model: name, error: error.message });
      say(`\n${name}: ${error.message}`);
    }
  }
  summary.ok = !failed;
  if (options.json) console.log(JSON.stringify(summary));
  else say(`\n${failed ? 'gpu-check FAILED' : 'gpu-check passed'}${summary.gpu ? '' : ' (CPU only)'}`);
  process.exitCode = failed ? 1 : 0;
}

main().catch((error) => {
  console.error(`gpu-check: ${error.message}`);
  process.exitCode = 2;
});
