// Finds or fetches libtensorflow (the TF C API) and lays it out for the
// native build under deps/libtensorflow/{lib,include}.
//
// Routes, first that works wins:
//   1. TFSERVE_LIBTENSORFLOW_DIR: a directory holding lib/ and include/ (a
//      CUDA build of libtensorflow, or any build of the same API);
//   2. an importable Python `tensorflow` (its tf.sysconfig paths);
//   3. the pinned tensorflow-cpu wheel, fetched with `pip download` into a
//      cache outside the repo; only the shared libraries and the C API
//      headers are unpacked from it.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { log, seconds } from './log.mjs';
import { REPO_ROOT } from './paths.mjs';
import { cApiHeaderMembers, definedSymbols, downloadTensorflowWheel, listWheel, python, unpackWheel } from './wheel.mjs';

export const TF_VERSION = '2.15.1';
const WHEEL = `tensorflow-cpu==${TF_VERSION}`;
const REQUIRED_SYMBOLS = ['TF_Version', 'TF_LoadSessionFromSavedModel', 'TF_SessionRun'];
// Libraries that carry the C API, in the order we prefer them.
const C_API_LIBRARIES = ['libtensorflow.so.2', 'libtensorflow_cc.so.2'];
const FRAMEWORK_LIBRARY = 'libtensorflow_framework.so.2';

export const depsDir = path.join(REPO_ROOT, 'deps', 'libtensorflow');
export const configFile = path.join(REPO_ROOT, 'deps', 'libtensorflow.json');

export function cacheDir() {
  if (process.env.TFSERVE_CACHE_DIR) return path.resolve(process.env.TFSERVE_CACHE_DIR);
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'tfserve');
}

class RouteError extends Error {}

/** deps/libtensorflow.json, as the last provisioning wrote it. */
export function readConfig() {
  if (!fs.existsSync(configFile)) {
    throw new Error(`${configFile} is missing: run tfserve's install (npm install) first, which provisions libtensorflow`);
  }
  return JSON.parse(fs.readFileSync(configFile, 'utf8'));
}

function checkLayout(libDir, includeDir) {
  const header = path.join(includeDir, 'tensorflow', 'c', 'c_api.h');
  if (!fs.existsSync(header)) throw new RouteError(`no C API header at ${header}`);
  const library = C_API_LIBRARIES.find((name) => fs.existsSync(path.join(libDir, name)));
  if (!library) {
    throw new RouteError(`none of ${C_API_LIBRARIES.join(', ')} in ${libDir}`);
  }
  const libraries = [library];
  if (fs.existsSync(path.join(libDir, FRAMEWORK_LIBRARY))) libraries.push(FRAMEWORK_LIBRARY);
  checkSymbols(path.join(libDir, library));
  return libraries;
}

function checkSymbols(libraryPath) {
  const defined = definedSymbols(libraryPath);
  if (defined === null) {
    log("warning: 'nm' is not available; skipping the C API symbol check");
    return;
  }
  const missing = REQUIRED_SYMBOLS.filter((symbol) => !defined.has(symbol));
  if (missing.length > 0) {
    throw new RouteError(`${libraryPath} does not export the TF C API (missing ${missing.join(', ')})`);
  }
}

function fromEnvironment() {
  const dir = process.env.TFSERVE_LIBTENSORFLOW_DIR;
  if (!dir) return null;
  const root = path.resolve(dir);
  const libDir = fs.existsSync(path.join(root, 'lib')) ? path.join(root, 'lib') : root;
  const includeDir = path.join(root, 'include');
  return { source: `TFSERVE_LIBTENSORFLOW_DIR=${root}`, libDir, includeDir, version: 'unknown' };
}

function fromPythonTensorflow() {
  const probe = spawnSync(
    python(),
    ['-c', 'import json, tensorflow as tf; print(json.dumps([tf.sysconfig.get_lib(), tf.sysconfig.get_include(), tf.__version__]))'],
    { encoding: 'utf8', env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3' } },
  );
  if (probe.status !== 0) return null;
  const [libDir, includeDir, version] = JSON.parse(probe.stdout.trim().split('\n').pop());
  return { source: `Python tensorflow ${version} (${python()})`, libDir, includeDir, version };
}

const WHEEL_LIBRARIES = ['tensorflow/libtensorflow_cc.so.2', 'tensorflow/libtensorflow_framework.so.2'];

/** The wheel members to unpack, with where they go under the destination. */
function wheelMembers(names) {
  const libraries = names.filter((name) => WHEEL_LIBRARIES.includes(name)).map((name) => [name, path.join('lib', path.basename(name))]);
  return [...libraries, ...cApiHeaderMembers(names)];
}

function fromWheel() {
  const root = cacheDir();
  const dest = path.join(root, `libtensorflow-${TF_VERSION}-cpu`);
  const stamp = path.join(dest, '.complete');
  const result = { source: `tensorflow-cpu ${TF_VERSION} wheel`, libDir: path.join(dest, 'lib'), includeDir: path.join(dest, 'include'), version: TF_VERSION };
  if (fs.existsSync(stamp)) {
    log(`using cached libtensorflow ${TF_VERSION} from ${dest}`);
    return result;
  }
  let wheel;
  try {
    wheel = downloadTensorflowWheel({ version: TF_VERSION, pythonVersion: '3.11', dir: path.join(root, 'wheels'), say: log });
  } catch (error) {
    throw new RouteError(error.message);
  }
  const started = Date.now();
  log(`unpacking the C API libraries and headers from ${path.basename(wheel)} ...`);
  fs.rmSync(dest, { recursive: true, force: true });
  try {
    unpackWheel(wheel, dest, wheelMembers(listWheel(wheel)));
  } catch (error) {
    throw new RouteError(error.message);
  }
  fs.writeFileSync(stamp, `${TF_VERSION}\n`);
  log(`unpacked in ${seconds(started)}`);
  return result;
}

function linkInto(found, libraries) {
  fs.rmSync(depsDir, { recursive: true, force: true });
  fs.mkdirSync(path.join(depsDir, 'lib'), { recursive: true });
  for (const name of libraries) {
    fs.symlinkSync(path.join(found.libDir, name), path.join(depsDir, 'lib', name));
  }
  fs.symlinkSync(path.resolve(found.includeDir), path.join(depsDir, 'include'));
  const config = { ...found, libraries };
  fs.writeFileSync(configFile, `${JSON.stringify(config, null, 2)}\n`);
  return config;
}

export function provisionLibtensorflow() {
  const routes = [
    ['TFSERVE_LIBTENSORFLOW_DIR', fromEnvironment],
    ['importable Python tensorflow', fromPythonTensorflow],
    [`${WHEEL} wheel`, fromWheel],
  ];
  const failures = [];
  for (const [name, route] of routes) {
    const started = Date.now();
    try {
      const found = route();
      if (!found) continue;
      const libraries = checkLayout(found.libDir, found.includeDir);
      const config = linkInto(found, libraries);
      log(`libtensorflow: ${found.source} -> ${libraries.join(', ')} (${seconds(started)})`);
      return config;
    } catch (error) {
      if (!(error instanceof RouteError)) throw error;
      log(`route '${name}' failed: ${error.message}`);
      failures.push(`${name}: ${error.message}`);
    }
  }
  throw new Error(
    `could not provision libtensorflow.\n  ${failures.join('\n  ')}\n` +
      'Set TFSERVE_LIBTENSORFLOW_DIR to a directory with lib/ (libtensorflow.so.2 or libtensorflow_cc.so.2, ' +
      'plus libtensorflow_framework.so.2) and include/ (tensorflow/c/c_api.h), then run npm install again.',
  );
}

// `node scripts/libtensorflow.mjs --print libs|include|libdir` for binding.gyp.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const what = process.argv[process.argv.indexOf('--print') + 1];
  if (process.argv.includes('--print')) {
    const config = readConfig();
    const printers = {
      include: () => path.join(depsDir, 'include'),
      libdir: () => path.join(depsDir, 'lib'),
      libs: () => config.libraries.map((name) => path.join(depsDir, 'lib', name)).join(' '),
    };
    if (!printers[what]) throw new Error(`--print takes one of ${Object.keys(printers).join(', ')}`);
    process.stdout.write(`${printers[what]()}\n`);
  } else {
    provisionLibtensorflow();
  }
}
