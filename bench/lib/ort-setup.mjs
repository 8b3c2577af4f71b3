// Sets up onnxruntime-node for the bench, on demand and cached, without
// touching tfserve's own dependencies. Its install script fetches CUDA
// binaries from outside the package registries; the CPU binaries ship in the
// npm package itself, so it is installed with --ignore-scripts into
// bench/.ort (a private npm project) and used as is.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

import { seconds } from '../../scripts/log.mjs';
import { ORT_DIR, REPO_ROOT } from './paths.mjs';
import { progress } from './progress.mjs';

export const ORT_NODE_VERSION = '1.30.0';
const PACKAGE_DIR = path.join(ORT_DIR, 'node_modules', 'onnxruntime-node');

function npmCommand() {
  const execPath = process.env.npm_execpath;
  if (execPath && /npm-cli\.js$/.test(execPath)) return [process.execPath, [execPath]];
  return ['npm', []];
}

function installedVersion() {
  const file = path.join(PACKAGE_DIR, 'package.json');
  return fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')).version : null;
}

/**
 * Installs onnxruntime-node into bench/.ort unless that version is there,
 * then loads it once to check its binding works on this machine.
 * @returns {{ onnxruntimeNode: string, cached: boolean }}
 */
export function ensureOrtNode() {
  const cached = installedVersion() === ORT_NODE_VERSION;
  if (!cached) {
    const started = Date.now();
    progress(`installing onnxruntime-node ${ORT_NODE_VERSION} into ${path.relative(REPO_ROOT, ORT_DIR)} (scripts off: its CPU binaries ship in the package) ...`);
    fs.mkdirSync(ORT_DIR, { recursive: true });
    fs.writeFileSync(
      path.join(ORT_DIR, 'package.json'),
      `${JSON.stringify({ name: 'tfserve-bench-onnxruntime-node', private: true, description: 'Set up by bench/lib/ort-setup.mjs' }, null, 2)}\n`,
    );
    const [npm, prefix] = npmCommand();
    const result = spawnSync(npm, [...prefix, 'install', '--ignore-scripts', '--no-audit', '--no-fund', '--save-exact', `onnxruntime-node@${ORT_NODE_VERSION}`], {
      cwd: ORT_DIR,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    if (result.error || result.status !== 0) throw new Error(`npm install onnxruntime-node failed (${result.error?.message ?? `exit ${result.status}`})`);
    progress(`installed in ${seconds(started)}`);
  }
  // Fails here, not in the middle of a run, if the binding cannot load.
  const check = spawnSync(process.execPath, ['-e', "process.stdout.write(require('onnxruntime-node').env.versions.node ?? '')"], {
    cwd: ORT_DIR,
    encoding: 'utf8',
  });
  if (check.status !== 0) throw new Error(`onnxruntime-node does not load: ${check.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  return { onnxruntimeNode: installedVersion(), cached };
}

/** require() of the onnxruntime-node set up in bench/.ort. */
export function requireOrt() {
  return createRequire(path.join(ORT_DIR, 'package.json'))('onnxruntime-node');
}
