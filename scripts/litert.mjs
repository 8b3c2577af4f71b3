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
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { log } from './log.mjs';
import { cacheDir, REPO_ROOT } from './paths.mjs';
import { definedSymbols, downloadWheel, listWheel, unpackWheel } from './wheel.mjs';

export const LITERT_VERSION = '2.3.0';
const LIBRARY = 'libLiteRt.so';
const MEMBER = `ai_edge_litert/${LIBRARY}`;
// The library itself does not depend on Python; its wheels are per CPython
// version, so one is picked (Linux x86-64, glibc 2.27, as tensorflow-cpu's:
// wheel.mjs's pip platforms).
const WHEEL_PYTHON = '3.11';

/** deps/litert/libLiteRt.so: where tfserve looks for the library (src/engine/tflite/library.ts). */
export const LITERT_LINK = path.join(REPO_ROOT, 'deps', 'litert', LIBRARY);

// A sample of the functions native/tflite_api.cc resolves: a library
// without them is another API generation.
const REQUIRED_SYMBOLS = ['LiteRtCreateModelFromFile', 'LiteRtCreateCompiledModel', 'LiteRtRunCompiledModel', 'LiteRtCompiledModelResizeInputTensorNonStrict', 'LiteRtGetModelMetadata'];

/** Provisions libLiteRt.so and links it as deps/litert/libLiteRt.so; returns the link. Throws when it cannot. */
export function provisionLitert() {
  if (process.platform !== 'linux' || process.arch !== 'x64') throw new Error(`no ai-edge-litert ${LITERT_VERSION} library for ${process.platform}-${process.arch} is provisioned`);
  const dest = path.join(cacheDir(), `litert-${LITERT_VERSION}`);
  const library = path.join(dest, LIBRARY);
  if (!fs.existsSync(library)) {
    const wheel = downloadWheel({
      project: 'ai-edge-litert', version: LITERT_VERSION, pythonVersion: WHEEL_PYTHON,
      dir: path.join(cacheDir(), 'wheels'), say: (message) => log(`litert: ${message}`), about: 'about 22 MB',
    });
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
