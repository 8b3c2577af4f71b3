// Finds or fetches libtensorflow (the TF C API) and lays it out for the
// native build under deps/libtensorflow/{lib,include}, plus TF Text's op
// libraries under deps/libtensorflow/ops (scripts/tf-text.mjs).
//
// Which TensorFlow: TFSERVE_TF_VERSION (default 2.21.0, 2.15.0 or later) and
// TFSERVE_TF_VARIANT: `cpu` (default; the tensorflow-cpu wheel) or `cuda`
// (the tensorflow wheel, CUDA 12, plus the nvidia-*-cu12 wheels of its
// `and-cuda` extra, scripts/cuda-wheels.mjs). Each version and variant has a
// directory of its own in the cache, so several live side by side.
//
// Routes, first that works wins:
//   1. TFSERVE_LIBTENSORFLOW_DIR: a directory holding lib/ and include/ (a
//      build of libtensorflow you bring yourself);
//   2. an importable Python `tensorflow` of exactly the asked version and
//      variant (its tf.sysconfig paths); any other version is passed over;
//   3. the asked wheel, fetched with `pip download` into a cache outside the
//      repo; only the shared libraries and the C API headers are unpacked.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { unpackCudaLibraries } from './cuda-wheels.mjs';
import { log, seconds } from './log.mjs';
import { cacheDir, REPO_ROOT } from './paths.mjs';
import { provisionTfText } from './tf-text.mjs';
import { cApiHeaderMembers, compareVersions, definedSymbols, downloadWheel, listWheel, python, unpackWheel } from './wheel.mjs';

export const DEFAULT_TF_VERSION = '2.21.0';
/** The oldest TF tfserve is checked against (docs/libtensorflow.md). */
export const OLDEST_TF_VERSION = '2.15.0';
/** CPython tag of the wheels fetched: only their C libraries are used, so any local Python will do. */
export const WHEEL_PYTHON = '3.11';
const VARIANTS = {
  cpu: { project: 'tensorflow-cpu', about: 'about 270 MB for 2.21' },
  cuda: { project: 'tensorflow', about: 'about 570 MB for 2.21, plus the nvidia wheels' },
};
const REQUIRED_SYMBOLS = ['TF_Version', 'TF_LoadSessionFromSavedModel', 'TF_SessionRun', 'TF_LoadLibrary'];
// Libraries that carry the C API, in the order we prefer them.
const C_API_LIBRARIES = ['libtensorflow.so.2', 'libtensorflow_cc.so.2'];
const FRAMEWORK_LIBRARY = 'libtensorflow_framework.so.2';

/** The TF version and variant asked for by TFSERVE_TF_VERSION and TFSERVE_TF_VARIANT; throws on a bad one. */
export function requestedTensorflow(env = process.env) {
  const version = env.TFSERVE_TF_VERSION || DEFAULT_TF_VERSION;
  if (!/^\d+\.\d+\.\d+$/.test(version)) {
    throw new Error(`TFSERVE_TF_VERSION=${version} is not a release number such as ${DEFAULT_TF_VERSION}`);
  }
  if (compareVersions(version, OLDEST_TF_VERSION) < 0) {
    throw new Error(`TFSERVE_TF_VERSION=${version} is older than ${OLDEST_TF_VERSION}, the oldest TensorFlow tfserve supports; ` +
      `unset it for ${DEFAULT_TF_VERSION} or name ${OLDEST_TF_VERSION.replace(/\.0$/, '')}.x or later`);
  }
  const variant = env.TFSERVE_TF_VARIANT || 'cpu';
  if (!VARIANTS[variant]) {
    throw new Error(`TFSERVE_TF_VARIANT=${variant} is not one of ${Object.keys(VARIANTS).join(', ')}`);
  }
  return { version, variant };
}

export const depsDir = path.join(REPO_ROOT, 'deps', 'libtensorflow');
export const configFile = path.join(REPO_ROOT, 'deps', 'libtensorflow.json');

export { cacheDir };

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
  // Its version is known only when it is named (it picks TF Text's wheel).
  const version = process.env.TFSERVE_TF_VERSION || 'unknown';
  return { source: `TFSERVE_LIBTENSORFLOW_DIR=${root}`, libDir, includeDir, version, variant: process.env.TFSERVE_TF_VARIANT || 'unknown' };
}

function fromPythonTensorflow(wanted) {
  const probe = spawnSync(
    python(),
    ['-c', 'import json, tensorflow as tf; print(json.dumps([tf.sysconfig.get_lib(), tf.sysconfig.get_include(), tf.__version__, tf.test.is_built_with_cuda()]))'],
    { encoding: 'utf8', env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3' } },
  );
  if (probe.status !== 0) return null;
  const [libDir, includeDir, version, withCuda] = JSON.parse(probe.stdout.trim().split('\n').pop());
  const variant = withCuda ? 'cuda' : 'cpu';
  if (version !== wanted.version || variant !== wanted.variant) {
    log(`passing over Python tensorflow ${version} (${variant}) at ${libDir}: ${wanted.version} (${wanted.variant}) was asked for`);
    return null;
  }
  // A CUDA build's nvidia/ libraries sit beside tensorflow/ in site-packages.
  const nvidiaDir = path.join(libDir, '..', 'nvidia');
  return {
    source: `Python tensorflow ${version} ${variant} (${python()})`, libDir, includeDir, version, variant,
    ...(variant === 'cuda' && fs.existsSync(nvidiaDir) ? { nvidiaDir: path.resolve(nvidiaDir) } : {}),
  };
}

const WHEEL_LIBRARIES = ['tensorflow/libtensorflow_cc.so.2', 'tensorflow/libtensorflow_framework.so.2'];

// Where the libraries go in a cache directory: the CUDA build's go to
// tensorflow/ as in site-packages, so that its RUNPATH
// ($ORIGIN/../nvidia/<pkg>/lib) finds the nvidia/ beside it.
const LIBRARY_SUBDIR = { cpu: 'lib', cuda: 'tensorflow' };

/** The wheel members to unpack, with where they go under the destination. */
function wheelMembers(wheel, names, variant) {
  const libraries = names.filter((name) => WHEEL_LIBRARIES.includes(name))
    .map((name) => [name, path.join(LIBRARY_SUBDIR[variant], path.basename(name))]);
  return [...libraries, ...cApiHeaderMembers(wheel, names)];
}

/** The cache directory of one version and variant, e.g. ~/.cache/tfserve/libtensorflow-2.21.0-cpu. */
export function libtensorflowCacheDir({ version, variant }) {
  return path.join(cacheDir(), `libtensorflow-${version}-${variant}`);
}

function fromWheel(wanted) {
  const { version, variant } = wanted;
  const { project, about } = VARIANTS[variant];
  const dest = libtensorflowCacheDir(wanted);
  const stamp = path.join(dest, '.complete');
  const result = {
    source: `${project} ${version} wheel`,
    libDir: path.join(dest, LIBRARY_SUBDIR[variant]),
    includeDir: path.join(dest, 'include'),
    version,
    variant,
    ...(variant === 'cuda' ? { nvidiaDir: path.join(dest, 'nvidia') } : {}),
  };
  if (fs.existsSync(stamp)) {
    log(`using cached libtensorflow ${version} (${variant}) from ${dest}`);
    return result;
  }
  const wheels = path.join(cacheDir(), 'wheels');
  let wheel;
  try {
    wheel = downloadWheel({ project, version, pythonVersion: WHEEL_PYTHON, dir: wheels, say: log, about });
  } catch (error) {
    throw new RouteError(error.message);
  }
  const started = Date.now();
  log(`unpacking the C API libraries and headers from ${path.basename(wheel)} ...`);
  fs.rmSync(dest, { recursive: true, force: true });
  try {
    unpackWheel(wheel, dest, wheelMembers(wheel, listWheel(wheel), variant));
    if (variant === 'cuda') unpackCudaLibraries({ tensorflowWheel: wheel, dest, wheels, pythonVersion: WHEEL_PYTHON });
  } catch (error) {
    throw new RouteError(error.message);
  }
  fs.writeFileSync(stamp, `${version} ${variant}\n`);
  log(`unpacked in ${seconds(started)}`);
  return result;
}

function linkInto(found, libraries, opLibraries) {
  fs.rmSync(depsDir, { recursive: true, force: true });
  fs.mkdirSync(path.join(depsDir, 'lib'), { recursive: true });
  for (const name of libraries) {
    fs.symlinkSync(path.join(found.libDir, name), path.join(depsDir, 'lib', name));
  }
  fs.symlinkSync(path.resolve(found.includeDir), path.join(depsDir, 'include'));
  // The loader takes $ORIGIN from the path it opened, deps/libtensorflow/lib,
  // so the CUDA build's $ORIGIN/../nvidia must be here too.
  if (found.nvidiaDir) fs.symlinkSync(found.nvidiaDir, path.join(depsDir, 'nvidia'));
  const ops = [];
  for (const library of opLibraries.libraries) {
    const link = path.join('ops', library.name);
    fs.mkdirSync(path.dirname(path.join(depsDir, link)), { recursive: true });
    fs.symlinkSync(library.file, path.join(depsDir, link));
    ops.push(link);
  }
  const config = { ...found, libraries, opLibraries: ops, ...(opLibraries.tfText ? { tfText: opLibraries.tfText } : {}) };
  fs.writeFileSync(configFile, `${JSON.stringify(config, null, 2)}\n`);
  return config;
}

export function provisionLibtensorflow() {
  const wanted = requestedTensorflow();
  log(`TensorFlow ${wanted.version} (${wanted.variant}) asked for` +
    `${process.env.TFSERVE_TF_VERSION ? '' : ' (the default; TFSERVE_TF_VERSION picks another)'}`);
  const routes = [
    ['TFSERVE_LIBTENSORFLOW_DIR', fromEnvironment],
    ['importable Python tensorflow', fromPythonTensorflow],
    [`${VARIANTS[wanted.variant].project}==${wanted.version} wheel`, fromWheel],
  ];
  const failures = [];
  for (const [name, route] of routes) {
    const started = Date.now();
    try {
      const found = route(wanted);
      if (!found) continue;
      const libraries = checkLayout(found.libDir, found.includeDir);
      const config = linkInto(found, libraries, provisionTfText(found.version));
      log(`libtensorflow ${found.version} (${found.variant}): ${found.source} -> ${libraries.join(', ')}` +
        `${config.opLibraries.length ? `, ${config.opLibraries.length} op libraries` : ''} (${seconds(started)})`);
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
