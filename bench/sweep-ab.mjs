// Side by side, in one process: 64 single-example callers on tfserve's
// micro-batching, under one or more batching settings, against tfserve's own
// batch-64 calls and (in a child process, between rounds) TF's C++ loop at
// batch 64. Rounds interleave the settings, so outside load on a shared
// machine falls on all of them alike. Reports examples/s and process CPU
// time per example per cell, the rows per batch, and the medians over rounds.
//
//   node bench/sweep-ab.mjs [--model cnn] [--rounds 3] [--seconds 2]
//        [--callers 64] [--variants '{"name":{batching...}}'] [--no-native]
//
// Each variant is `{ "batching": BatchingOptions, "session": SessionOptions }`
// (or just BatchingOptions). Default: the bench's own sweep settings.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { SWEEP_BATCHING, SWEEP_SESSION, describe } from './contenders/tfserve.mjs';
import { closedLoop } from './lib/closed-loop.mjs';
import { MODELS, exportDir, makeInputData } from './lib/models.mjs';
import { buildNativeLoop, runNativeLoop } from './lib/native-loop.mjs';
import { REPO_ROOT } from './lib/paths.mjs';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'cnn' },
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '2' },
    callers: { type: 'string', default: '64' },
    batch: { type: 'string', default: '64' },
    variants: { type: 'string' },
    native: { type: 'boolean', default: true },
    'no-native': { type: 'boolean' },
  },
});

const model = MODELS.find((m) => m.id === values.model);
if (!model) throw new Error(`--model: unknown ${values.model}`);
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
const callers = Number(values.callers);
const batch = Number(values.batch);
const variants = values.variants ? JSON.parse(values.variants) : { sweep: { batching: SWEEP_BATCHING, session: SWEEP_SESSION } };
const withNative = values.native && !values['no-native'];

// As in the bench: each session gets an intra-op pool of its own.
if (!process.env.TF_OVERRIDE_GLOBAL_THREADPOOL) {
  throw new Error('run with TF_OVERRIDE_GLOBAL_THREADPOOL=1 (as npm run bench runs tfserve), e.g. TF_OVERRIDE_GLOBAL_THREADPOOL=1 node bench/sweep-ab.mjs');
}

const require = createRequire(import.meta.url);
const tfserve = require(path.join(REPO_ROOT, 'dist', 'src', 'index.js'));

function request(rows) {
  return { [model.input]: { dtype: 'float32', shape: [rows, ...model.exampleShape], data: makeInputData(model, rows) } };
}

function rowsPerBatch(loaded, before) {
  const now = loaded.batchingStats?.() ?? [];
  const sum = (stats, key) => stats.reduce((a, s) => a + s[key], 0);
  const batches = sum(now, 'batches') - (before ? sum(before, 'batches') : 0);
  const rows = sum(now, 'rows') - (before ? sum(before, 'rows') : 0);
  return batches > 0 ? rows / batches : null;
}

const engine = await tfserve.Engine.create({ workers: 0 });
const plain = await engine.load(model.basePath, { version: model.version });
const loaded = {};
for (const [name, variant] of Object.entries(variants)) {
  const batching = variant.batching ?? variant;
  const session = variant.session ?? SWEEP_SESSION;
  loaded[name] = await engine.load(model.basePath, { version: model.version, session, batching });
}
const signature = withNative ? await describe(model) : null;
if (withNative) buildNativeLoop();

const one = request(1);
const many = request(batch);
// Warm every session (oneDNN primitives for each batch size seen).
for (let i = 0; i < 5; i++) await plain.predict(many);
for (const m of Object.values(loaded)) await Promise.all(Array.from({ length: callers }, () => m.predict(one)));

// CPU time by thread name (/proc/self/task/*/stat): where a cell's CPU went.
const TICK_US = 1e6 / 100;
function threadCpu() {
  const byName = {};
  for (const tid of fs.readdirSync('/proc/self/task')) {
    try {
      const stat = fs.readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const name = Number(tid) === process.pid ? 'main' : stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      byName[name] = (byName[name] ?? 0) + (Number(fields[11]) + Number(fields[12])) * TICK_US;
    } catch {
      // the thread ended
    }
  }
  return byName;
}
function threadCpuPerExample(before, after, examples) {
  return Object.entries(after)
    .map(([name, us]) => [name, (us - (before[name] ?? 0)) / examples])
    .filter(([, us]) => us >= 1)
    .sort((a, b) => b[1] - a[1])
    .map(([name, us]) => `${name} ${us.toFixed(0)}`)
    .join(', ');
}

const results = {};
function record(cell, value) {
  (results[cell] ??= []).push(value);
  const rows = value.rows ? `, ${value.rows.toFixed(1)} rows/batch` : '';
  const cpu = value.cpu ? `, ${value.cpu.toFixed(0)} µs CPU/ex` : '';
  console.log(`  ${cell}: ${Math.round(value.exps)} ex/s${cpu}, p50 ${(value.p50 / 1000).toFixed(2)} ms${rows}`);
}

for (let round = 1; round <= rounds; round++) {
  console.log(`round ${round}/${rounds}`);
  const own = await closedLoop({ concurrency: 1, batch, seconds, warmupSeconds: 0.2, minCalls: 2, call: () => plain.predict(many) });
  record(`tfserve batch ${batch}`, { exps: own.examplesPerSecond, cpu: own.cpuUsPerExample, p50: own.latencyUs.p50 });
  for (const [name, m] of Object.entries(loaded)) {
    const before = m.batchingStats();
    const cpuBefore = threadCpu();
    const cell = await closedLoop({ concurrency: callers, batch: 1, seconds, warmupSeconds: 0.3, call: () => m.predict(one) });
    record(`${callers} callers ${name}`, { exps: cell.examplesPerSecond, cpu: cell.cpuUsPerExample, p50: cell.latencyUs.p50, rows: rowsPerBatch(m, before) });
    if (process.env.SWEEP_AB_THREADS) console.log(`    µs/example by thread (warm-up included): ${threadCpuPerExample(cpuBefore, threadCpu(), cell.examplesPerSecond * (cell.seconds + 0.3))}`);
  }
  if (withNative) {
    const report = await runNativeLoop({
      exportDir: exportDir(model),
      inputTensor: signature.inputTensor,
      exampleShape: model.exampleShape,
      outputTensors: signature.outputTensors,
      batch,
      threads: 1,
      seconds,
      warmupSeconds: 0.3,
      minCalls: 2,
    });
    record(`native batch ${batch}`, { exps: report.examplesPerSecond, p50: report.latencyUs.p50 });
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ownKey = `tfserve batch ${batch}`;
const nativeKey = `native batch ${batch}`;
console.log(`\nmedians over ${rounds} rounds (${seconds} s cells):`);
for (const [cell, values] of Object.entries(results)) {
  const exps = median(values.map((v) => v.exps));
  const cpus = values.map((v) => v.cpu).filter(Boolean);
  const cpu = cpus.length ? median(cpus) : null;
  let line = `  ${cell.padEnd(28)} ${String(Math.round(exps)).padStart(6)} ex/s`;
  if (cpu) line += `  ${cpu.toFixed(0).padStart(4)} µs CPU/ex`;
  if (cell.includes('callers')) {
    // Per round, then the median: both sides of each ratio met the same load.
    const ratio = (key, pick) => median(values.map((v, i) => pick(results[key][i]) / pick(v)));
    line += `  vs own batch: ${(100 * median(values.map((v, i) => v.exps / results[ownKey][i].exps))).toFixed(1)}% ex/s, ${(100 * ratio(ownKey, (v) => v.cpu)).toFixed(1)}% by CPU`;
    if (results[nativeKey]) line += `; vs native: ${(100 * median(values.map((v, i) => v.exps / results[nativeKey][i].exps))).toFixed(1)}% ex/s`;
    const rows = values.map((v) => v.rows).filter(Boolean);
    if (rows.length) line += `; ${median(rows).toFixed(1)} rows/batch`;
  }
  console.log(line);
}
await engine.close();
