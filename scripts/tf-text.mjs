// TF Text's op libraries, as TF Serving links them in: the tensorflow-text
// wheel of the same TF minor (the newest 2.21.x for TF 2.21) is fetched with
// pip, and only its op shared objects are unpacked, into
// ~/.cache/tfserve/tensorflow-text-<version>/. They need nothing but
// libtensorflow_framework.so.2 (no Python), and the addon loads them with
// TF_LoadLibrary before any model (native/op_libraries.h).
// TFSERVE_TF_TEXT=0 leaves them out.
import fs from 'node:fs';
import path from 'node:path';

import { log, seconds } from './log.mjs';
import { cacheDir } from './paths.mjs';
import { downloadWheel, listWheel, unpackWheel } from './wheel.mjs';

const PYTHON = '3.11';
// The op kernels; tensorflow_text/core/pybinds/* are Python extension modules.
const OP_LIBRARY = /^tensorflow_text\/python\/(ops|metrics)\/_[^/]+\.so$/;

/**
 * Op libraries for TF `tfVersion` ('unknown' skips): { libraries: [{ name,
 * file }], tfText: { version, wheel } }, `name` being where the library is
 * linked under deps/libtensorflow/ops.
 */
export function provisionTfText(tfVersion) {
  const none = { libraries: [] };
  if (process.env.TFSERVE_TF_TEXT === '0') {
    log('TF Text op libraries left out (TFSERVE_TF_TEXT=0)');
    return none;
  }
  if (!/^\d+\.\d+\.\d+$/.test(tfVersion)) {
    log(`warning: TF Text op libraries left out: the TensorFlow version is ${tfVersion}; set TFSERVE_TF_VERSION to pick them`);
    return none;
  }
  const minor = `${tfVersion.split('.').slice(0, 2).join('.')}.`;
  let wheel;
  try {
    wheel = downloadWheel({ project: 'tensorflow-text', version: minor, pythonVersion: PYTHON, dir: path.join(cacheDir(), 'wheels'), say: log, about: 'about 60 MB' });
  } catch (error) {
    log(`warning: TF Text op libraries left out: ${error.message}; models using TF Text ops will not load`);
    return none;
  }
  const version = path.basename(wheel).split('-')[1];
  const dest = path.join(cacheDir(), `tensorflow-text-${version}`);
  const stamp = path.join(dest, '.complete');
  if (!fs.existsSync(stamp)) {
    const started = Date.now();
    log(`unpacking TF Text's op libraries from ${path.basename(wheel)} ...`);
    fs.rmSync(dest, { recursive: true, force: true });
    const members = listWheel(wheel).filter((name) => OP_LIBRARY.test(name));
    if (members.length === 0) throw new Error(`${path.basename(wheel)} has no op libraries under tensorflow_text/python/{ops,metrics}`);
    unpackWheel(wheel, dest, members.map((name) => [name, name]));
    fs.writeFileSync(stamp, `${members.join('\n')}\n`);
    log(`unpacked ${members.length} op libraries in ${seconds(started)}`);
  }
  const members = fs.readFileSync(stamp, 'utf8').split('\n').filter(Boolean);
  return {
    libraries: members.map((name) => ({ name: path.join('tensorflow_text', path.basename(name)), file: path.join(dest, name) })),
    tfText: { version, wheel: path.basename(wheel) },
  };
}
