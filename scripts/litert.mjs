// LiteRT for TFLite models (--prefer_tflite_model): libLiteRt.so from the
// ai-edge-litert wheel, the one registry package whose shared library
// exports a TFLite C API (LiteRT's LiteRt* functions; docs/SERVING.md,
// "TFLite"). The wheel is fetched with pip (no dependencies), the library
// unpacked into the cache beside libtensorflow and linked as
// deps/litert/libLiteRt.so, where tfserve opens it at run time
// (TFSERVE_LITERT_LIBRARY overrides). Optional: without it tfserve serves
// SavedModels as before and a TFLite load fails with a message saying so.
//
// `node scripts/litert.mjs` provisions it; `npm install` tries to.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { cacheDir } from './libtensorflow.mjs';
import { log, seconds } from './log.mjs';
import { REPO_ROOT } from './paths.mjs';
import { definedSymbols, listWheel, python, unpackWheel } from './wheel.mjs';

export const LITERT_VERSION = '2.3.0';
const LIBRARY = 'libLiteRt.so';
const MEMBER = `ai_edge_litert/${LIBRARY}`;
// The library itself does not depend on Python; its wheels are per CPython
// version, so one is picked: glibc 2.27 and x86_64, as tensorflow-cpu's.
const WHEEL_PYTHON = '3.11';
const WHEEL_PLATFORM = 'manylinux_2_27_x86_64';

/** deps/litert/libLiteRt.so: where tfserve looks for the library (src/engine/tflite/library.ts). */
export const LITERT_LINK = path.join(REPO_ROOT, 'deps', 'litert', LIBRARY);

// A sample of the functions native/tflite_api.cc resolves: a library
// without them is another API generation.
const REQUIRED_SYMBOLS = ['LiteRtCreateModelFromFile', 'LiteRtCreateCompiledModel', 'LiteRtRunCompiledModel', 'LiteRtCompiledModelResizeInputTensorNonStrict', 'LiteRtGetModelMetadata'];

function downloadWheel(dir) {
  const find = () => fs.existsSync(dir) && fs.readdirSync(dir).find((f) => f.startsWith(`ai_edge_litert-${LITERT_VERSION}-`) && f.endsWith('.whl'));
  if (!find()) {
    const started = Date.now();
    const requirement = `ai-edge-litert==${LITERT_VERSION}`;
    const abi = `cp${WHEEL_PYTHON.replace('.', '')}`;
    log(`litert: downloading the ${requirement} wheel (about 22 MB) with pip into ${dir} ...`);
    fs.mkdirSync(dir, { recursive: true });
    const pip = spawnSync(python(), [
      '-m', 'pip', 'download', '--no-deps', '--only-binary=:all:',
      '--python-version', WHEEL_PYTHON, '--implementation', 'cp', '--abi', abi,
      '--platform', WHEEL_PLATFORM, '--progress-bar', 'off', '-d', dir, requirement,
    ], { stdio: ['ignore', 'inherit', 'inherit'] });
    if (pip.error || pip.status !== 0) throw new Error(`'pip download ${requirement}' failed (${pip.error?.message ?? `exit ${pip.status}`})`);
    log(`litert: downloaded in ${seconds(started)}`);
  }
  return path.join(dir, find());
}

/** Provisions libLiteRt.so and links it as deps/litert/libLiteRt.so; returns the link. Throws when it cannot. */
export function provisionLitert() {
  if (process.platform !== 'linux' || process.arch !== 'x64') throw new Error(`no ai-edge-litert ${LITERT_VERSION} library for ${process.platform}-${process.arch} is provisioned`);
  const dest = path.join(cacheDir(), `litert-${LITERT_VERSION}`);
  const library = path.join(dest, LIBRARY);
  if (!fs.existsSync(library)) {
    const wheel = downloadWheel(path.join(cacheDir(), 'wheels'));
    if (!listWheel(wheel).includes(MEMBER)) throw new Error(`${path.basename(wheel)} has no ${MEMBER}`);
    unpackWheel(wheel, dest, [[MEMBER, LIBRARY]]);
  }
  const symbols = definedSymbols(library);
  const missing = symbols ? REQUIRED_SYMBOLS.filter((name) => !symbols.has(name)) : [];
  if (missing.length > 0) throw new Error(`${library} does not export ${missing.join(', ')}`);
  fs.mkdirSync(path.dirname(LITERT_LINK), { recursive: true });
  fs.rmSync(LITERT_LINK, { force: true });
  fs.symlinkSync(library, LITERT_LINK);
  log(`litert: ai-edge-litert ${LITERT_VERSION} -> ${LITERT_LINK}`);
  return LITERT_LINK;
}

/** provisionLitert() for npm install: a failure is a warning, since only TFLite models need it. */
export function tryProvisionLitert() {
  try {
    return provisionLitert();
  } catch (error) {
    log(`litert: not provisioned (${error.message}); TFLite models (--prefer_tflite_model) will not load. Retry with 'node scripts/litert.mjs'.`);
    return null;
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    provisionLitert();
  } catch (error) {
    log(`litert: ${error.message}`);
    process.exit(1);
  }
}
