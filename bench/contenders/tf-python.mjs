// TF's own Python session: bench/python/tf_session.py in the project venv,
// tf.compat.v1.Session + saved_model.loader.load + make_callable with TF's
// default ConfigProto, one process per model. Measures sequential batch-1
// latency and large batches (the numbers a Python user of TF gets); the
// concurrency sweep is left out (no batching in a plain session). Same
// start/runCell/outputs/stop shape as lib/js-contender.mjs.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';

import { ensurePythonEnv } from '../../scripts/python-env.mjs';
import { exportDir, makeInputData } from '../lib/models.mjs';
import { BENCH_DIR } from '../lib/paths.mjs';

const HARNESS = path.join(BENCH_DIR, 'python', 'tf_session.py');
// A cell (or the load) that takes longer than this is stuck.
const STEP_TIMEOUT_MS = 3 * 60 * 1000;

export class TfPythonContender {
  constructor(model, plan) {
    this.name = 'tf-python';
    this.model = model;
    this.plan = plan;
    this.child = null;
    this.waiting = [];
    this.stderr = '';
  }

  supports(spec) {
    return spec.scenario !== 'sweep';
  }

  async start() {
    const python = await ensurePythonEnv();
    this.child = spawn(python, [HARNESS, exportDir(this.model), this.model.input, this.model.exampleShape.join(',')], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2', PYTHONDONTWRITEBYTECODE: '1' },
    });
    this.child.stderr.on('data', (chunk) => {
      this.stderr = (this.stderr + chunk).slice(-4000);
    });
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      const waiter = this.waiting.shift();
      if (!waiter) return;
      clearTimeout(waiter.timer);
      try {
        waiter.resolve(JSON.parse(line));
      } catch {
        waiter.reject(new Error(`tf_session.py printed ${line.slice(0, 200)}`));
      }
    });
    this.child.on('exit', (code, signal) => {
      this.child = null;
      for (const waiter of this.waiting.splice(0)) {
        clearTimeout(waiter.timer);
        waiter.reject(new Error(`tf_session.py exited with ${signal ?? code}: ${this.stderr.trim().split('\n').slice(-3).join(' | ')}`));
      }
    });
    const ready = await this.next();
    return { api: 'tf.compat.v1.Session + saved_model.loader.load + make_callable (Python)', tensorflow: ready.tensorflow, numpy: ready.numpy, batching: false };
  }

  next() {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.child?.kill('SIGKILL');
        reject(new Error(`tf_session.py timed out after ${STEP_TIMEOUT_MS / 1000} s`));
      }, STEP_TIMEOUT_MS);
      this.waiting.push({ resolve, reject, timer });
    });
  }

  async ask(message) {
    if (!this.child) throw new Error('tf_session.py is not running');
    const answer = this.next();
    this.child.stdin.write(`${JSON.stringify(message)}\n`);
    const result = await answer;
    if (result.error) throw new Error(result.error);
    return result;
  }

  async runCell(spec) {
    const { scenario, batch } = spec;
    try {
      const report = await this.ask({
        cmd: 'cell',
        batch,
        seconds: this.plan.seconds,
        warmup: scenario === 'batch' ? 0 : this.plan.warmupSeconds,
        minCalls: scenario === 'batch' ? 2 : 3,
      });
      const round = (v) => Math.round(v * 10) / 10;
      return {
        ...spec,
        calls: report.calls,
        seconds: Math.round(report.seconds * 1000) / 1000,
        examplesPerSecond: round(report.examplesPerSecond),
        cpuUsPerExample: round(report.cpuUsPerExample),
        latencyUs: Object.fromEntries(Object.entries(report.latencyUs).map(([k, v]) => [k, round(v)])),
      };
    } catch (error) {
      return { ...spec, error: error.message };
    }
  }

  async outputs(batch) {
    const data = makeInputData(this.model, batch);
    try {
      const answer = await this.ask({ cmd: 'outputs', batch, data: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64') });
      return answer.outputs;
    } catch (error) {
      return { error: error.message };
    }
  }

  async stop() {
    const child = this.child;
    if (!child) return;
    await new Promise((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.stdin.end(`${JSON.stringify({ cmd: 'close' })}\n`);
    });
  }
}
