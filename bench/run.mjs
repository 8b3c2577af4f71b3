// npm run bench: tfserve vs @tensorflow/tfjs-node vs TF_SessionRun in C++, on
// the same SavedModels. See docs/benchmarks.md for the method and the latest
// full run; `npm run bench -- --help` for the options.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { configFile, readConfig } from '../scripts/libtensorflow.mjs';
import { makeFixtures } from '../scripts/make-fixtures.mjs';
import { NativeContender } from './contenders/native.mjs';
import { LATENCY_SESSION } from './contenders/tfserve.mjs';
import { TfPythonContender } from './contenders/tf-python.mjs';
import { compareOutputs } from './lib/agreement.mjs';
import { writeDocs } from './lib/docs.mjs';
import { fmtMs, fmtRate, fmtUs, textTable } from './lib/format.mjs';
import { JsContender } from './lib/js-contender.mjs';
import { describeMachine } from './lib/machine.mjs';
import { ensureOrtNode } from './lib/ort-setup.mjs';
import { selectModels, whyMissing } from './lib/models.mjs';
import { buildNativeLoop } from './lib/native-loop.mjs';
import { USAGE, parseOptions } from './lib/options.mjs';
import { BENCH_DIR, REPO_ROOT, RESULTS_DIR } from './lib/paths.mjs';
import { progress } from './lib/progress.mjs';
import { modelTables } from './lib/tables.mjs';
import { computeTargets } from './lib/targets.mjs';
import { ensureTfjsNode } from './lib/tfjs-node-setup.mjs';

function describeSignatures(models) {
  const result = spawnSync(process.execPath, [path.join(BENCH_DIR, 'lib', 'describe-child.mjs'), JSON.stringify(models)], {
    encoding: 'utf8',
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' },
  });
  if (result.status !== 0) throw new Error(`cannot read the models' signatures with tfserve:\n${result.stderr.trim()}`);
  return JSON.parse(result.stdout);
}

function cellSummary(cell) {
  const what =
    cell.scenario === 'latency' ? 'sequential batch 1' : cell.scenario === 'sweep' ? `${cell.concurrency} callers` : `batch ${cell.batch}`;
  if (cell.error) return `${what}: error: ${cell.error}`;
  const lag = cell.eventLoopLagMs ? `, loop lag max ${fmtMs(cell.eventLoopLagMs.max)}` : '';
  return `${what}: ${fmtRate(cell.examplesPerSecond)} ex/s, p50 ${fmtUs(cell.latencyUs.p50)}, p99 ${fmtUs(cell.latencyUs.p99)}${lag}`;
}

async function setUp(options, models, results) {
  const started = Date.now();
  const fixtures = models.map((m) => m.fixture).filter(Boolean);
  if (options.contenders.includes('onnxruntime-node') && models.some((m) => m.onnx)) fixtures.push('onnx_models');
  if (fixtures.length) await makeFixtures({ only: fixtures });
  const runnable = [];
  for (const model of models) {
    const reason = whyMissing(model);
    if (reason) {
      progress(`skipping ${model.id}: ${reason}`);
      results.skipped.push({ model: model.id, reason });
    } else {
      runnable.push(model);
    }
  }
  if (fs.existsSync(configFile)) results.setup.tfserve = { libtensorflow: readConfig().source };
  const contenders = [...options.contenders];
  if (contenders.includes('native')) results.setup.native = buildNativeLoop();
  if (contenders.includes('tfjs-node')) {
    try {
      results.setup.tfjsNode = ensureTfjsNode(options.tfjsLibtensorflow);
      if (results.setup.tfjsNode.cached) {
        progress(`tfjs-node ${results.setup.tfjsNode.tfjsNode} on TensorFlow ${results.setup.tfjsNode.tensorflow} (cached in bench/.tfjs)`);
      }
    } catch (error) {
      progress(`tfjs-node is not available, measuring without it: ${error.message}`);
      results.setup.tfjsNode = { error: error.message };
      contenders.splice(contenders.indexOf('tfjs-node'), 1);
    }
  }
  if (contenders.includes('onnxruntime-node')) {
    try {
      results.setup.onnxruntimeNode = ensureOrtNode();
    } catch (error) {
      progress(`onnxruntime-node is not available, measuring without it: ${error.message}`);
      results.setup.onnxruntimeNode = { error: error.message };
      contenders.splice(contenders.indexOf('onnxruntime-node'), 1);
    }
  }
  const signatures = runnable.length ? describeSignatures(runnable) : {};
  results.setup.seconds = Math.round((Date.now() - started) / 100) / 10;
  progress(`set up in ${results.setup.seconds} s`);
  return { runnable, contenders, signatures };
}

function cellSpecs(options, model) {
  const specs = [];
  if (options.scenarios.includes('latency')) specs.push({ scenario: 'latency', batch: 1, concurrency: 1 });
  if (options.scenarios.includes('sweep')) for (const concurrency of options.concurrency) specs.push({ scenario: 'sweep', batch: 1, concurrency });
  if (options.scenarios.includes('batch')) for (const batch of model.batchSizes) specs.push({ scenario: 'batch', batch, concurrency: 1 });
  return specs;
}

// Cells are interleaved: each cell runs for every contender back to back, the
// first one rotating, so load from elsewhere on the machine that comes and
// goes weighs on all contenders alike.
async function measure(options, runnable, contenders, signatures, results) {
  const plan = {
    scenarios: options.scenarios,
    concurrency: options.concurrency,
    seconds: options.seconds,
    warmupSeconds: options.warmupSeconds,
    tfserveWorkers: options.tfserveWorkers,
    tfserveSession: options.tfserveSession ?? null,
    latencySession: options.tfserveSession ?? LATENCY_SESSION,
  };
  for (const model of runnable) {
    const sessions = [];
    for (const name of contenders) {
      if (name === 'onnxruntime-node' && !model.onnx) continue;
      const run = { model: model.id, contender: name, runtime: null, cells: [] };
      results.runs.push(run);
      const session =
        name === 'native'
          ? new NativeContender(model, signatures[model.id], plan, results.setup.native.tensorflow)
          : name === 'tf-python'
            ? new TfPythonContender(model, plan)
            : new JsContender(name, model, plan);
      progress(`${model.id} · ${name}: loading`);
      try {
        run.runtime = await session.start();
        sessions.push({ run, session });
      } catch (error) {
        run.error = error.message;
        progress(`  ${model.id} · ${name} failed to start: ${error.message}`);
      }
    }
    results.agreement.push(...(await compareOutputs(model, sessions)));
    const specs = cellSpecs(options, model);
    for (const [i, spec] of specs.entries()) {
      for (let k = 0; k < sessions.length; k++) {
        const { run, session } = sessions[(i + k) % sessions.length];
        if (session.supports && !session.supports(spec)) continue;
        const cell = await session.runCell(spec);
        run.cells.push(cell);
        progress(`  ${model.id} · ${run.contender} · ${cellSummary(cell)}`);
      }
    }
    for (const { session } of sessions) await session.stop();
  }
}

function printReport(results, models) {
  const out = [];
  for (const model of models) {
    if (results.skipped.some((s) => s.model === model.id)) continue;
    out.push('', `== ${model.id}: ${model.title}`);
    for (const table of modelTables(results, model)) out.push('', table.title, textTable(table.headers, table.rows));
  }
  const targets = computeTargets(results);
  if (targets.length) {
    out.push('', '== Targets (issues 3 and 10)');
    out.push(textTable(['measure', 'target', 'this run', 'met'], targets.map((t) => [t.name, t.target, t.display, t.met ? 'yes' : 'NO'])));
  }
  process.stdout.write(`${out.join('\n')}\n`);
}

async function main() {
  const options = parseOptions(process.argv.slice(2));
  if (options.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (options.report) {
    const results = JSON.parse(fs.readFileSync(options.report, 'utf8'));
    const models = selectModels(results.options.models);
    printReport(results, models);
    if (options.docs) {
      const written = writeDocs(results, models);
      progress(`wrote ${written.doc} and ${written.chart} from ${options.report}`);
    }
    return;
  }
  const started = new Date();
  const machine = describeMachine();
  progress(`${machine.cores} cores, ${machine.cpuModel}, Node.js ${machine.node}`);
  const models = selectModels(options.models);
  const results = { startedAt: started.toISOString(), options, machine, setup: {}, runs: [], skipped: [], agreement: [] };

  const { runnable, contenders, signatures } = await setUp(options, models, results);
  await measure(options, runnable, contenders, signatures, results);
  results.wallSeconds = Math.round((Date.now() - started.getTime()) / 100) / 10;
  results.targets = computeTargets(results);

  printReport(results, models);
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  results.file = `bench-${started.toISOString().replace(/[:.]/g, '-')}.json`;
  fs.writeFileSync(path.join(RESULTS_DIR, results.file), `${JSON.stringify(results, null, 2)}\n`);
  progress(`results: ${path.relative(REPO_ROOT, path.join(RESULTS_DIR, results.file))}`);
  if (options.docs) {
    const written = writeDocs(results, models);
    progress(`wrote ${written.doc} and ${written.chart}`);
  }
  progress(`done in ${results.wallSeconds} s`);
}

main().catch((error) => {
  progress(`error: ${error.message}`);
  process.exitCode = 1;
});
