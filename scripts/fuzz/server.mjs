// The tfserve server under fuzz: `node dist/src/cli.js` as a child process on
// free 127.0.0.1 ports, serving every fuzz model with batching on and a short
// REST timeout. It can be restarted on the same ports after a crash.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { freePortPair } from '../free-port.mjs';
import { REPO_ROOT } from '../paths.mjs';
import { BATCHING_TEXT, modelConfigText } from './models.mjs';

const CLI = path.join(REPO_ROOT, 'dist', 'src', 'cli.js');
const START_TIMEOUT_MS = 120_000;
const OUTPUT_TAIL_BYTES = 8192;

export class FuzzServer {
  constructor(models, { restTimeoutMs }) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfserve-fuzz-server-'));
    this.configFile = path.join(this.dir, 'models.config');
    this.batchingFile = path.join(this.dir, 'batching.config');
    fs.writeFileSync(this.configFile, modelConfigText(models));
    fs.writeFileSync(this.batchingFile, BATCHING_TEXT);
    this.restTimeoutMs = restTimeoutMs;
    this.modelCount = Object.keys(models).length;
    this.child = undefined;
    this.exit = undefined;
    this.output = '';
    this.starts = 0;
  }

  get alive() {
    return this.child !== undefined && this.exit === undefined;
  }

  /** The last lines the server printed (where an abort message lands). */
  tail(bytes = 1500) {
    return this.output.slice(-bytes);
  }

  args() {
    return [
      CLI,
      `--port=${this.grpcPort}`,
      `--rest_api_port=${this.restPort}`,
      '--bind_address=127.0.0.1',
      `--model_config_file=${this.configFile}`,
      '--enable_batching',
      `--batching_parameters_file=${this.batchingFile}`,
      `--rest_api_timeout_in_ms=${this.restTimeoutMs}`,
    ];
  }

  /** Starts (or restarts) the server; resolves once every model is AVAILABLE. */
  async start() {
    if (!this.grpcPort) {
      [this.grpcPort, this.restPort] = await freePortPair();
    }
    this.starts++;
    this.output = '';
    this.exit = undefined;
    const child = spawn(process.execPath, this.args(), { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    const keep = (chunk) => {
      this.output = (this.output + chunk).slice(-OUTPUT_TAIL_BYTES);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.once('exit', (code, signal) => {
      if (this.child === child) this.exit = { code, signal, at: Date.now() };
    });
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (this.exit) throw new Error(`tfserve exited while starting (${this.exitText()}):\n${this.tail()}`);
      if (/Exporting HTTP\/REST API/.test(this.output) && (await this.ready())) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`tfserve did not become ready in ${START_TIMEOUT_MS / 1000} s:\n${this.tail()}`);
  }

  /** GET /readyz: 200 once every configured model has an AVAILABLE version. */
  async ready() {
    try {
      const res = await fetch(`http://127.0.0.1:${this.restPort}/readyz`);
      await res.arrayBuffer();
      return res.status === 200;
    } catch {
      return false;
    }
  }

  exitText() {
    if (!this.exit) return 'running';
    return this.exit.signal ? `killed by ${this.exit.signal}` : `exit code ${this.exit.code}`;
  }

  async stop() {
    const child = this.child;
    if (!child || this.exit) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }

  cleanup() {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
