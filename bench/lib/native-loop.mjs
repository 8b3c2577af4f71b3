// Builds and runs bench/native/tf_loop, TF_SessionRun in a C++ loop, against
// the libtensorflow tfserve is built with (deps/libtensorflow).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { depsDir, readConfig } from '../../scripts/libtensorflow.mjs';
import { seconds } from '../../scripts/log.mjs';
import { BENCH_DIR, BUILD_DIR, REPO_ROOT } from './paths.mjs';
import { progress } from './progress.mjs';

const SOURCE = path.join(BENCH_DIR, 'native', 'tf_loop.cc');
export const BINARY = path.join(BUILD_DIR, 'tf_loop');
const STAMP = path.join(BUILD_DIR, 'tf_loop.stamp.json');

/** Compiles tf_loop unless the binary is newer than its source and was built against the same libtensorflow. */
export function buildNativeLoop() {
  const config = readConfig();
  const key = JSON.stringify({ source: fs.readFileSync(SOURCE, 'utf8').length + fs.statSync(SOURCE).mtimeMs, libDir: config.libDir, version: config.version });
  if (fs.existsSync(BINARY) && fs.existsSync(STAMP) && fs.readFileSync(STAMP, 'utf8') === key) {
    return { cached: true, tensorflow: config.version };
  }
  const started = Date.now();
  progress(`compiling bench/native/tf_loop.cc against libtensorflow ${config.version} ...`);
  fs.mkdirSync(BUILD_DIR, { recursive: true });
  const libDir = path.join(depsDir, 'lib');
  const args = [
    '-std=c++17', '-O2', '-Wall', '-Wextra', '-pthread',
    '-o', BINARY, SOURCE,
    `-I${path.join(depsDir, 'include')}`,
    `-L${libDir}`,
    ...config.libraries.map((lib) => `-l:${lib}`),
    `-Wl,-rpath,${libDir}`,
  ];
  const cxx = process.env.CXX || 'g++';
  const result = spawnSync(cxx, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  if (result.error || result.status !== 0) {
    throw new Error(`${cxx} failed to build ${path.relative(REPO_ROOT, SOURCE)} (${result.error?.message ?? `exit ${result.status}`})`);
  }
  fs.writeFileSync(STAMP, key);
  progress(`built ${path.relative(REPO_ROOT, BINARY)} (${seconds(started)})`);
  return { cached: false, tensorflow: config.version };
}

/**
 * One cell: `threads` threads each calling TF_SessionRun on `batch` examples in a loop.
 * @returns {Promise<object>} tf_loop's JSON report
 */
export function runNativeLoop({ exportDir, inputTensor, exampleShape, outputTensors, batch, threads, seconds, warmupSeconds, minCalls, intraOp }) {
  const args = [
    '--model', exportDir,
    '--input', inputTensor,
    '--shape', exampleShape.join(','),
    ...outputTensors.flatMap((name) => ['--output', name]),
    '--batch', String(batch),
    '--threads', String(threads),
    '--seconds', String(seconds),
    '--warmup', String(warmupSeconds),
    '--min-calls', String(minCalls),
    // tfserve's default session config: ops run on the calling thread.
    '--inter-op', '-1',
    ...(intraOp === undefined ? [] : ['--intra-op', String(intraOp)]),
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(BINARY, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`tf_loop exited with ${code}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`));
      try {
        resolve(JSON.parse(stdout.trim().split('\n').pop()));
      } catch {
        reject(new Error(`tf_loop printed no JSON: ${stdout.slice(0, 200)}`));
      }
    });
  });
}
