// Where LiteRT's libLiteRt.so is: TFSERVE_LITERT_LIBRARY, else the link
// scripts/litert.mjs makes in deps/litert/. The addon opens it on the first
// TFLite load (dlopen), so nothing else needs it.
import fs from 'node:fs';
import path from 'node:path';

import { TfServeError } from '../errors';

/** dist/src/engine/tflite -> the package root. */
const PACKAGE_ROOT = path.resolve(__dirname, '..', '..', '..', '..');

export function litertLibraryPath(): string {
  const configured = process.env.TFSERVE_LITERT_LIBRARY;
  return configured ? path.resolve(configured) : path.join(PACKAGE_ROOT, 'deps', 'litert', 'libLiteRt.so');
}

/** The library's path, or FAILED_PRECONDITION saying how to provision it. */
export function requireLitertLibrary(): string {
  const library = litertLibraryPath();
  if (!fs.existsSync(library)) {
    throw new TfServeError(
      'FAILED_PRECONDITION',
      `TFLite models need LiteRT's libLiteRt.so (from the ai-edge-litert wheel), which is not at ${library}: ` +
        "run 'node scripts/litert.mjs' in the tfserve package (npm install tries it) or set TFSERVE_LITERT_LIBRARY to the library",
    );
  }
  return library;
}
