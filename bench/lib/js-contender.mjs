// A JS contender's session in a child process (lib/js-child.mjs): start()
// loads the model there, runCell() measures one cell, stop() ends it.
import { fork } from 'node:child_process';
import path from 'node:path';

import { BENCH_DIR } from './paths.mjs';

const CHILD = path.join(BENCH_DIR, 'lib', 'js-child.mjs');
// A cell (or a load) that takes longer than this is stuck.
const STEP_TIMEOUT_MS = 3 * 60 * 1000;

export class JsContender {
  constructor(contender, model, plan) {
    this.name = contender;
    this.job = { contender, model, plan };
    this.plan = plan;
    this.child = null;
    this.pending = null;
    this.stderr = '';
  }

  /** Forks the child and waits until it has loaded and warmed up the model; resolves to its runtime. */
  start() {
    const { plan } = this;
    this.child = fork(CHILD, [JSON.stringify(this.job)], {
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
      // TF 2.9 logs an error line for every attribute a newer TF added to the
      // graph, which it then ignores; keep the progress readable.
      env: {
        ...process.env,
        TF_CPP_MIN_LOG_LEVEL: this.name === 'tfjs-node' ? '3' : '2',
        ...(plan.tfserveWorkers === null ? {} : { TFSERVE_BENCH_WORKERS: String(plan.tfserveWorkers) }),
        ...(plan.tfserveSession ? { TFSERVE_BENCH_SESSION: JSON.stringify(plan.tfserveSession) } : {}),
        // TF sizes its intra-op pool once per process, from the first session
        // created, and every later session shares it; tfserve loads each model
        // three times with different intraOpThreads, so each gets a pool of
        // its own (README: session.intraOpThreads).
        ...(this.name === 'tfserve' ? { TF_OVERRIDE_GLOBAL_THREADPOOL: process.env.TF_OVERRIDE_GLOBAL_THREADPOOL ?? '1' } : {}),
      },
    });
    this.child.stderr.on('data', (chunk) => {
      this.stderr = (this.stderr + chunk).slice(-4000);
    });
    this.child.on('message', (message) => {
      const pending = this.pending;
      if (!pending) return;
      this.pending = null;
      clearTimeout(pending.timer);
      if (message.type === 'fatal') pending.reject(new Error(message.error));
      else pending.resolve(message.type === 'ready' ? message.runtime : message.type === 'outputs' ? message.outputs : message.cell);
    });
    this.child.on('exit', (code, signal) => {
      this.child = null;
      if (this.pending) {
        const why = `${this.name} exited with ${signal ?? code}: ${this.stderr.trim().split('\n').slice(-4).join(' | ')}`;
        this.pending.reject(new Error(why));
        clearTimeout(this.pending.timer);
        this.pending = null;
      }
    });
    return this.wait();
  }

  wait() {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending = null;
        this.child?.kill('SIGKILL');
        reject(new Error(`${this.name} timed out after ${STEP_TIMEOUT_MS / 1000} s`));
      }, STEP_TIMEOUT_MS);
      this.pending = { resolve, reject, timer };
    });
  }

  async runCell(spec) {
    if (!this.child) return { ...spec, error: `${this.name} is not running` };
    const answer = this.wait();
    this.child.send({ type: 'cell', ...spec });
    try {
      return await answer;
    } catch (error) {
      return { ...spec, error: error.message };
    }
  }

  /** The outputs by alias for a request of `batch` examples (lib/models.mjs makeInputData), or { error }. */
  async outputs(batch) {
    if (!this.child) return { error: `${this.name} is not running` };
    const answer = this.wait();
    this.child.send({ type: 'outputs', batch });
    try {
      return await answer;
    } catch (error) {
      return { error: error.message };
    }
  }

  stop() {
    const child = this.child;
    if (!child) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.send({ type: 'close' });
    });
  }
}
