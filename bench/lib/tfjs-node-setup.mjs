// Sets up @tensorflow/tfjs-node for the bench, on demand and cached, without
// touching tfserve's own dependencies: its install script would download
// libtensorflow from outside the package registries, so it is installed with
// --ignore-scripts into bench/.tfjs (a private npm project) and its binding is
// built from source with node-gyp against a libtensorflow taken from
// a tensorflow-cpu wheel:
//   pinned   the TF version tfjs-node pins (scripts/deps-constants.js), from
//            that version's wheel; the default, it is what tfjs-node users run
//   tfserve  the libtensorflow tfserve itself is built with (deps/libtensorflow)
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

import { localNodeDir } from '../../scripts/build-native.mjs';
import { cacheDir, readConfig } from '../../scripts/libtensorflow.mjs';
import { seconds } from '../../scripts/log.mjs';
import { cApiHeaderMembers, definedSymbols, downloadTensorflowWheel, listWheel, unpackWheel } from '../../scripts/wheel.mjs';
import { REPO_ROOT, TFJS_DIR } from './paths.mjs';
import { progress } from './progress.mjs';
import { buildPythonStub, undefinedPythonSymbols } from './python-stub.mjs';

export const TFJS_NODE_VERSION = '4.22.0';
// CPython version whose wheel is fetched; only its native libraries are used.
const WHEEL_PYTHON = '3.10';
const C_API_SYMBOLS = ['TF_Version', 'TF_LoadSessionFromSavedModel', 'TFE_NewContext', 'TFE_Execute'];
const C_API_CANDIDATES = ['tensorflow/libtensorflow_cc.so.2', 'tensorflow/python/_pywrap_tensorflow_internal.so'];
const FRAMEWORK_MEMBER = 'tensorflow/libtensorflow_framework.so.2';

const STAMP = path.join(TFJS_DIR, '.ready.json');
const PACKAGE_DIR = path.join(TFJS_DIR, 'node_modules', '@tensorflow', 'tfjs-node');
const require = createRequire(import.meta.url);

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: ['ignore', 'inherit', 'inherit'], ...options });
  if (result.error || result.status !== 0) {
    throw new Error(`${path.basename(command)} ${args.slice(0, 3).join(' ')} ... failed (${result.error?.message ?? `exit ${result.status}`})`);
  }
  return result;
}

function npmCommand() {
  const execPath = process.env.npm_execpath;
  if (execPath && /npm-cli\.js$/.test(execPath)) return [process.execPath, [execPath]];
  return ['npm', []];
}

function installPackage() {
  const installed = path.join(PACKAGE_DIR, 'package.json');
  if (fs.existsSync(installed) && JSON.parse(fs.readFileSync(installed, 'utf8')).version === TFJS_NODE_VERSION) return;
  const started = Date.now();
  progress(`installing @tensorflow/tfjs-node ${TFJS_NODE_VERSION} into ${path.relative(REPO_ROOT, TFJS_DIR)} (scripts off) ...`);
  fs.mkdirSync(TFJS_DIR, { recursive: true });
  fs.writeFileSync(
    path.join(TFJS_DIR, 'package.json'),
    `${JSON.stringify({ name: 'tfserve-bench-tfjs-node', private: true, description: 'Set up by bench/lib/tfjs-node-setup.mjs' }, null, 2)}\n`,
  );
  const [npm, prefix] = npmCommand();
  run(npm, [...prefix, 'install', '--ignore-scripts', '--no-audit', '--no-fund', '--save-exact', `@tensorflow/tfjs-node@${TFJS_NODE_VERSION}`], { cwd: TFJS_DIR });
  progress(`installed in ${seconds(started)}`);
}

function pinnedTensorflowVersion() {
  const constants = fs.readFileSync(path.join(PACKAGE_DIR, 'scripts', 'deps-constants.js'), 'utf8');
  const match = /LIBTENSORFLOW_VERSION\s*=\s*'(\d+\.\d+\.\d+)'/.exec(constants);
  if (!match) throw new Error('cannot find LIBTENSORFLOW_VERSION in tfjs-node scripts/deps-constants.js');
  return match[1];
}

function definesCApi(library) {
  const defined = definedSymbols(library);
  if (defined === null) throw new Error("the bench needs 'nm' (binutils) to find the TF C API in the wheel");
  return C_API_SYMBOLS.every((symbol) => defined.has(symbol));
}

/** Unpacks the C API library, libtensorflow_framework and the C headers of TF `version` into bench/.tfjs. */
function libtensorflowFromWheel(version) {
  const dest = path.join(TFJS_DIR, `libtensorflow-${version}`);
  const done = path.join(dest, 'complete.json');
  if (fs.existsSync(done)) return JSON.parse(fs.readFileSync(done, 'utf8'));
  const wheel = downloadTensorflowWheel({ version, pythonVersion: WHEEL_PYTHON, dir: path.join(cacheDir(), 'wheels'), say: progress });
  const started = Date.now();
  progress(`unpacking the TF C API from ${path.basename(wheel)} ...`);
  fs.rmSync(dest, { recursive: true, force: true });
  const names = listWheel(wheel);
  unpackWheel(wheel, dest, [...cApiHeaderMembers(wheel, names), [FRAMEWORK_MEMBER, 'lib/libtensorflow_framework.so.2']]);
  let cApi = null;
  for (const member of C_API_CANDIDATES.filter((m) => names.includes(m))) {
    const target = path.join('lib', path.basename(member));
    unpackWheel(wheel, dest, [[member, target]]);
    if (definesCApi(path.join(dest, target))) {
      cApi = path.basename(member);
      break;
    }
    fs.rmSync(path.join(dest, target));
  }
  if (!cApi) throw new Error(`no library in ${path.basename(wheel)} exports the TF C API (${C_API_SYMBOLS.join(', ')})`);
  const layout = {
    source: `tensorflow-cpu ${version} wheel (${cApi})`,
    version,
    libDir: path.join(dest, 'lib'),
    includeDir: path.join(dest, 'include'),
    cApiLibrary: cApi,
  };
  fs.writeFileSync(done, `${JSON.stringify(layout, null, 2)}\n`);
  progress(`unpacked ${cApi} in ${seconds(started)}`);
  return layout;
}

function libtensorflowOfTfserve() {
  const config = readConfig();
  return { source: `tfserve's ${config.source}`, version: config.version, libDir: config.libDir, includeDir: config.includeDir, cApiLibrary: config.libraries[0] };
}

function soname(library) {
  const out = spawnSync('readelf', ['-d', library], { encoding: 'utf8' }).stdout ?? '';
  return /\(SONAME\)\s+Library soname: \[([^\]]+)\]/.exec(out)?.[1] ?? null;
}

/** deps/{lib,include} the way tfjs-node's binding.gyp expects them (-ltensorflow -ltensorflow_framework). */
function layOutDeps(lib) {
  const deps = path.join(PACKAGE_DIR, 'deps');
  const libDir = path.join(deps, 'lib');
  fs.rmSync(deps, { recursive: true, force: true });
  fs.mkdirSync(libDir, { recursive: true });
  fs.symlinkSync(path.resolve(lib.includeDir), path.join(deps, 'include'));
  const cApi = path.join(lib.libDir, lib.cApiLibrary);
  const framework = path.join(lib.libDir, 'libtensorflow_framework.so.2');
  const links = { 'libtensorflow.so.2': cApi, 'libtensorflow.so': cApi, 'libtensorflow_framework.so.2': framework, 'libtensorflow_framework.so': framework };
  // The binding records the library's SONAME, which the loader then looks up.
  const name = soname(cApi);
  if (name && !(name in links)) links[name] = cApi;
  for (const [link, target] of Object.entries(links)) fs.symlinkSync(target, path.join(libDir, link));
  const ldflags = [];
  if (undefinedPythonSymbols(cApi).length > 0) {
    const stub = buildPythonStub(cApi, libDir);
    progress(`${lib.cApiLibrary} expects CPython: built ${stub.name} (${stub.symbols} symbols, ${stub.data} of them data)`);
    ldflags.push('-Wl,--no-as-needed', `-L${libDir}`, '-ltfjs_pystub');
  }
  return ldflags;
}

function napiBuildVersion() {
  const pkg = JSON.parse(fs.readFileSync(path.join(PACKAGE_DIR, 'package.json'), 'utf8'));
  const supported = pkg.binary.napi_versions.filter((v) => v <= Number(process.versions.napi));
  if (supported.length === 0) throw new Error(`this Node.js (N-API ${process.versions.napi}) is older than tfjs-node supports`);
  return Math.max(...supported);
}

function buildBinding(ldflags) {
  const started = Date.now();
  const napi = napiBuildVersion();
  const nodeDir = localNodeDir();
  if (!nodeDir) {
    throw new Error(`Node's headers are not installed beside ${process.execPath} (include/node/common.gypi); node-gyp cannot build tfjs-node's binding offline`);
  }
  progress('building the tfjs-node binding from source with node-gyp ...');
  run(process.execPath, [
    require.resolve('node-gyp/bin/node-gyp.js', { paths: [REPO_ROOT] }),
    'rebuild', '-j', '2', '--loglevel', 'warn',
    `--nodedir=${nodeDir}`,
    '--module_name=tfjs_binding',
    `--module_path=${path.join(PACKAGE_DIR, 'lib', `napi-v${napi}`)}`,
    `--napi_build_version=${napi}`,
  ], { cwd: PACKAGE_DIR, env: { ...process.env, LDFLAGS: [process.env.LDFLAGS ?? '', ...ldflags].join(' ').trim() } });
  progress(`built the binding in ${seconds(started)}`);
}

const PROBE = `
const tf = require('@tensorflow/tfjs-node');
process.stdout.write(JSON.stringify({ tfjsNode: tf.version['tfjs-node'], tensorflow: tf.backend().binding.TF_Version }));`;

function probe() {
  const result = spawnSync(process.execPath, ['-e', PROBE], { cwd: TFJS_DIR, encoding: 'utf8', env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' } });
  if (result.status !== 0) throw new Error(`the built tfjs-node does not load:\n${result.stderr.trim().split('\n').slice(-5).join('\n')}`);
  return JSON.parse(result.stdout);
}

/**
 * Makes bench/.tfjs hold a working tfjs-node built against `variant`'s libtensorflow.
 * @param {'pinned' | 'tfserve'} variant
 */
export function ensureTfjsNode(variant) {
  if (fs.existsSync(STAMP)) {
    const stamp = JSON.parse(fs.readFileSync(STAMP, 'utf8'));
    if (stamp.variant === variant && stamp.tfjsNode === TFJS_NODE_VERSION) return { ...stamp, cached: true };
  }
  const started = Date.now();
  fs.rmSync(STAMP, { force: true });
  installPackage();
  const lib = variant === 'pinned' ? libtensorflowFromWheel(pinnedTensorflowVersion()) : libtensorflowOfTfserve();
  buildBinding(layOutDeps(lib));
  const versions = probe();
  const stamp = { variant, tfjsNode: TFJS_NODE_VERSION, tensorflow: versions.tensorflow, libtensorflow: lib.source, pinnedTensorflow: pinnedTensorflowVersion() };
  fs.writeFileSync(STAMP, `${JSON.stringify(stamp, null, 2)}\n`);
  progress(`tfjs-node ${versions.tfjsNode} ready on TensorFlow ${versions.tensorflow} from ${lib.source} (${seconds(started)})`);
  return { ...stamp, cached: false };
}
