// Builds the native addon into build/Release/tfserve.node with cmake-js (the
// default) or node-gyp (`--builder=node-gyp` or TFSERVE_BUILDER=node-gyp),
// then checks that it loads and finds libtensorflow by rpath.
// `TFSERVE_SANITIZE=address,undefined npm run build:native` builds a sanitized
// addon into build-asan/Release instead (cmake-js only; docs/sanitizers.md),
// leaving build/Release untouched.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { depsDir, readConfig } from './libtensorflow.mjs';
import { log, seconds } from './log.mjs';
import { REPO_ROOT } from './paths.mjs';

const require = createRequire(import.meta.url);
export const addonPath = path.join(REPO_ROOT, 'build', 'Release', 'tfserve.node');
/** Where a sanitized build goes; its rpath ($ORIGIN/../../deps) holds from here too. */
export const sanitizedAddonPath = path.join(REPO_ROOT, 'build-asan', 'Release', 'tfserve.node');

function run(command, args, env = {}) {
  const result = spawnSync(command, args, {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, CMAKE_BUILD_PARALLEL_LEVEL: '2', ...env },
  });
  if (result.error || result.status !== 0) {
    throw new Error(`${path.basename(args[0] ?? command)} failed (${result.error?.message ?? `exit ${result.status}`})`);
  }
}

/** This Node's install prefix, if it holds Node's headers (node-gyp must build against them, never download them), else null. */
export function localNodeDir() {
  const candidate = path.resolve(path.dirname(process.execPath), '..');
  return fs.existsSync(path.join(candidate, 'include', 'node', 'common.gypi')) ? candidate : null;
}

/**
 * `sanitize`: a -fsanitize= list; builds into build-asan/ and skips the load
 * check (the runtime must be preloaded, see scripts/test-asan.mjs). `outDir`:
 * cmake-js builds into <outDir>/Release instead of build/ (scripts/cuda-check.mjs
 * builds the CUDA variant's addon into build-cuda/); the rpath holds from there too.
 */
export function buildNative(builder = 'cmake-js', { sanitize = '', outDir = null } = {}) {
  const started = Date.now();
  log(`building the native addon with ${builder}${sanitize ? ` (-fsanitize=${sanitize})` : ''} ...`);
  if (sanitize) {
    if (builder !== 'cmake-js') throw new Error('sanitized builds use cmake-js');
    run(process.execPath, [require.resolve('cmake-js/bin/cmake-js'), 'compile', '--log-level', 'warn',
      '--out', path.dirname(path.dirname(sanitizedAddonPath)), `--CDTFSERVE_SANITIZE=${sanitize}`]);
    log(`built ${path.relative(REPO_ROOT, sanitizedAddonPath)} (${seconds(started)})`);
    return;
  }
  const built = outDir ? path.join(REPO_ROOT, outDir, 'Release', 'tfserve.node') : addonPath;
  if (outDir && builder !== 'cmake-js') throw new Error('builds into another directory use cmake-js');
  if (builder === 'cmake-js') {
    run(process.execPath, [require.resolve('cmake-js/bin/cmake-js'), 'compile', '--log-level', 'warn', ...(outDir ? ['--out', outDir] : [])]);
  } else if (builder === 'node-gyp') {
    const nodeDir = localNodeDir();
    if (!nodeDir) {
      throw new Error(`node-gyp needs Node's headers, which are not installed beside ${process.execPath}; build with cmake-js (the default) instead`);
    }
    run(process.execPath, [require.resolve('node-gyp/bin/node-gyp.js'), 'rebuild', '-j', '2', `--nodedir=${nodeDir}`]);
  } else {
    throw new Error(`unknown builder '${builder}' (cmake-js or node-gyp)`);
  }
  // The op libraries install provisioned (TF Text's) must load into this TF too.
  const opLibraries = (readConfig().opLibraries ?? []).map((name) => path.join(depsDir, name));
  const probe = `const a = require(${JSON.stringify(built)});
    a.loadOpLibraries(${JSON.stringify(opLibraries)}).then((libs) => process.stdout.write(JSON.stringify({ tf: a.tfVersion(), libraries: libs.length })));`;
  const check = spawnSync(process.execPath, ['-e', probe], {
    encoding: 'utf8',
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3' },
  });
  if (check.status !== 0) {
    throw new Error(`the built addon does not load, or its op libraries do not:\n${check.stderr}`);
  }
  const { tf, libraries } = JSON.parse(check.stdout);
  log(`built ${path.relative(REPO_ROOT, built)} against TensorFlow ${tf}${libraries ? ` (${libraries} op libraries load)` : ''} (${seconds(started)})`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const flag = process.argv.find((arg) => arg.startsWith('--builder='));
  buildNative(flag ? flag.slice('--builder='.length) : process.env.TFSERVE_BUILDER || 'cmake-js',
    { sanitize: process.env.TFSERVE_SANITIZE ?? '' });
}
