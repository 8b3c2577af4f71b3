// tensorflow-cpu wheels: fetch one with pip, list and unpack its members with
// the local python3 (wheels are zip files; no unzip needed), and check which
// TF C API symbols a library exports. Used by libtensorflow provisioning and
// by the bench's tfjs-node.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { seconds } from './log.mjs';

const LIST = 'import json, sys, zipfile; print(json.dumps(zipfile.ZipFile(sys.argv[1]).namelist()))';
const UNPACK = `
import json, os, sys, zipfile
wheel, dest, members = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
with zipfile.ZipFile(wheel) as z:
    for name, target in members:
        target = os.path.join(dest, target)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with z.open(name) as src, open(target, 'wb') as out:
            while True:
                chunk = src.read(1 << 20)
                if not chunk:
                    break
                out.write(chunk)
`;

// The C API headers and the two tstring headers they include.
const C_API_HEADER_PREFIXES = [
  'tensorflow/include/tensorflow/c/',
  'tensorflow/include/tensorflow/core/platform/ctstring',
  'tensorflow/include/tsl/platform/ctstring',
  'tensorflow/include/tsl/c/',
];

export function python() {
  return process.env.TFSERVE_PYTHON || 'python3';
}

function runPython(args, what) {
  const result = spawnSync(python(), args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'inherit'] });
  if (result.error || result.status !== 0) {
    throw new Error(`${what} failed (${result.error?.message ?? `exit ${result.status}`})`);
  }
  return result.stdout;
}

/**
 * The tensorflow-cpu `version` wheel for CPython `pythonVersion` (e.g. '3.11')
 * in `dir`, downloaded with pip unless it is there already; `say` logs progress.
 */
export function downloadTensorflowWheel({ version, pythonVersion, dir, say }) {
  const pyTag = `cp${pythonVersion.replace('.', '')}`;
  const find = () => fs.existsSync(dir) && fs.readdirSync(dir).find((f) => f.startsWith(`tensorflow_cpu-${version}-${pyTag}-`) && f.endsWith('.whl'));
  if (!find()) {
    const started = Date.now();
    const requirement = `tensorflow-cpu==${version}`;
    say(`downloading the ${requirement} wheel (about 200 MB) with pip into ${dir} ...`);
    fs.mkdirSync(dir, { recursive: true });
    const pip = spawnSync(python(), [
      '-m', 'pip', 'download', '--no-deps', '--only-binary=:all:',
      '--python-version', pythonVersion, '--implementation', 'cp', '--abi', pyTag,
      '--platform', 'manylinux2014_x86_64', '--progress-bar', 'on',
      '-d', dir, requirement,
    ], { stdio: ['ignore', 'inherit', 'inherit'] });
    if (pip.error || pip.status !== 0) {
      throw new Error(`'${python()} -m pip download ${requirement}' failed (${pip.error?.message ?? `exit ${pip.status}`}); check that python3 and pip are installed and the package index is reachable`);
    }
    say(`downloaded in ${seconds(started)}`);
  }
  return path.join(dir, find());
}

/** Member names of a wheel. */
export function listWheel(wheel) {
  return JSON.parse(runPython(['-c', LIST, wheel], `listing ${wheel}`));
}

/** Unpacks [member, target relative to dest] pairs. */
export function unpackWheel(wheel, dest, members) {
  runPython(['-c', UNPACK, wheel, dest, JSON.stringify(members)], `unpacking ${wheel}`);
}

/** The C API headers among a tensorflow wheel's `names`, as [member, target under include/] pairs. */
export function cApiHeaderMembers(names) {
  return names
    .filter((name) => name.endsWith('.h') && C_API_HEADER_PREFIXES.some((prefix) => name.startsWith(prefix)))
    .map((name) => [name, path.join('include', name.slice('tensorflow/include/'.length))]);
}

/** Symbols a shared library defines (nm -D), or null where nm is not installed. */
export function definedSymbols(library) {
  const nm = spawnSync('nm', ['-D', '--defined-only', library], { encoding: 'utf8', maxBuffer: 1024 * 1024 * 1024 });
  if (nm.error) return null;
  if (nm.status !== 0) throw new Error(`nm -D ${library} failed: ${nm.stderr}`);
  return new Set(nm.stdout.split('\n').map((line) => line.split(' ').pop().split('@')[0]));
}
