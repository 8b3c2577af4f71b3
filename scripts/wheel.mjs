// Wheels (tensorflow-cpu, tensorflow, tensorflow-text, nvidia-*-cu12): fetch
// them with pip, read their metadata, list and unpack their members with the
// local python3 (wheels are zip files; no unzip needed), and check which TF C
// API symbols a library exports. Used by libtensorflow provisioning and by
// the bench's tfjs-node.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { seconds } from './log.mjs';

const LIST = 'import json, sys, zipfile; print(json.dumps(zipfile.ZipFile(sys.argv[1]).namelist()))';
const READ = 'import sys, zipfile; sys.stdout.write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]).decode())';
// Keeps the members' permission bits (the CUDA wheels carry executables such as ptxas).
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
        mode = (z.getinfo(name).external_attr >> 16) & 0o777
        if mode:
            os.chmod(target, mode)
`;

// The C API headers and the two tstring headers they include.
const C_API_HEADER_PREFIXES = [
  'tensorflow/include/tensorflow/c/',
  'tensorflow/include/tensorflow/core/platform/ctstring',
  'tensorflow/include/tsl/platform/ctstring',
  'tensorflow/include/tsl/c/',
];

// The C API, and its op and kernel half (ops.h, kernels.h) for op libraries written against it.
const C_API_ROOTS = ['c_api.h', 'c_api_experimental.h', 'ops.h', 'kernels.h'].map((name) => `tensorflow/include/tensorflow/c/${name}`);
// The headers a set of headers includes ("..." includes found in the wheel), transitively.
const INCLUDES = `
import json, re, sys, zipfile
z = zipfile.ZipFile(sys.argv[1]); prefix = sys.argv[2]; todo = json.loads(sys.argv[3])
names = set(z.namelist()); seen = set()
while todo:
    name = todo.pop()
    if name in seen:
        continue
    seen.add(name)
    for inc in re.findall(r'#\\s*include\\s+"([^"]+)"', z.read(name).decode('utf-8', 'replace')):
        if prefix + inc in names:
            todo.append(prefix + inc)
print(json.dumps(sorted(seen)))
`;

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

// pip's --platform for Linux x86-64 wheels: TF 2.21 publishes
// manylinux_2_27 wheels only, older releases manylinux2014 (= manylinux_2_17).
const PLATFORMS = ['manylinux_2_27_x86_64', 'manylinux2014_x86_64'];

/** `1.2.10` > `1.2.9`: compares dotted release numbers numerically. */
export function compareVersions(a, b) {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** The newest wheel of distribution `dist` (e.g. 'tensorflow_text') in `dir` whose version starts with `versionPrefix` (e.g. '2.21.'), for `pyTag`. */
function findWheel(dir, dist, versionPrefix, pyTag) {
  if (!fs.existsSync(dir)) return null;
  const candidates = fs.readdirSync(dir)
    .filter((f) => f.endsWith('.whl'))
    .map((f) => ({ file: f, parts: f.split('-') }))
    .filter(({ parts }) => parts[0] === dist && (versionPrefix.endsWith('.') ? parts[1].startsWith(versionPrefix) : parts[1] === versionPrefix) && parts[2] === pyTag);
  candidates.sort((x, y) => compareVersions(y.parts[1], x.parts[1]));
  return candidates.length ? path.join(dir, candidates[0].file) : null;
}

/**
 * Downloads `requirements` (pip specifiers) as binary wheels, without their
 * dependencies, for CPython `pythonVersion` on Linux x86-64 whatever the local
 * machine is, into `dir`. pip skips files already there.
 */
export function pipDownload({ requirements, pythonVersion, dir, say, about }) {
  const pyTag = `cp${pythonVersion.replace('.', '')}`;
  const started = Date.now();
  say(`downloading ${requirements.join(' ')}${about ? ` (${about})` : ''} with pip into ${dir} ...`);
  fs.mkdirSync(dir, { recursive: true });
  const pip = spawnSync(python(), [
    '-m', 'pip', 'download', '--no-deps', '--only-binary=:all:',
    '--python-version', pythonVersion, '--implementation', 'cp', '--abi', pyTag,
    ...PLATFORMS.flatMap((platform) => ['--platform', platform]), '--progress-bar', 'on',
    '-d', dir, ...requirements,
  ], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (pip.error || pip.status !== 0) {
    throw new Error(`'${python()} -m pip download ${requirements.join(' ')}' failed (${pip.error?.message ?? `exit ${pip.status}`}); check that python3 and pip are installed and the package index is reachable`);
  }
  say(`downloaded in ${seconds(started)}`);
}

/**
 * The `project` (tensorflow-cpu, tensorflow, tensorflow-text) wheel whose
 * version is `version` or, given a `2.21.` style prefix, the newest
 * `2.21.x`, for CPython `pythonVersion` (e.g. '3.11'), from `dir`;
 * downloaded with pip when `dir` has none.
 */
export function downloadWheel({ project, version, pythonVersion, dir, say, about }) {
  const pyTag = `cp${pythonVersion.replace('.', '')}`;
  const dist = project.replace(/-/g, '_');
  const found = findWheel(dir, dist, version, pyTag);
  if (found) return found;
  const requirement = version.endsWith('.') ? `${project}==${version}*` : `${project}==${version}`;
  pipDownload({ requirements: [requirement], pythonVersion, dir, say, about });
  const fetched = findWheel(dir, dist, version, pyTag);
  if (!fetched) throw new Error(`pip reported success but no ${dist}-${version}*-${pyTag} wheel is in ${dir}`);
  return fetched;
}

/** The tensorflow-cpu `version` wheel for CPython `pythonVersion` in `dir` (the bench's tfjs-node uses it). */
export function downloadTensorflowWheel({ version, pythonVersion, dir, say }) {
  return downloadWheel({ project: 'tensorflow-cpu', version, pythonVersion, dir, say, about: 'about 200-270 MB' });
}

/** A text file inside a wheel (e.g. its dist-info/METADATA). */
export function readWheelText(wheel, member) {
  return runPython(['-c', READ, wheel, member], `reading ${member} from ${wheel}`);
}

/**
 * Requirements of a wheel's METADATA that apply for `extra` (e.g.
 * 'and-cuda'), as plain specifiers with their environment markers dropped:
 * the markers also test the platform, which is Linux x86-64 here anyway.
 */
export function extraRequirements(wheel, extra) {
  const metadataMember = listWheel(wheel).find((name) => /^[^/]+\.dist-info\/METADATA$/.test(name));
  if (!metadataMember) throw new Error(`${wheel} has no dist-info/METADATA`);
  const lines = readWheelText(wheel, metadataMember).split('\n');
  const wanted = new RegExp(`extra\\s*==\\s*["']${extra.replace(/[-_.]/g, '[-_.]')}["']`);
  return lines
    .filter((line) => line.startsWith('Requires-Dist:'))
    .map((line) => line.slice('Requires-Dist:'.length).trim())
    .filter((spec) => wanted.test(spec.split(';').slice(1).join(';')))
    .map((spec) => spec.split(';')[0].trim().replace(/\s+/g, ''));
}

/** Member names of a wheel. */
export function listWheel(wheel) {
  return JSON.parse(runPython(['-c', LIST, wheel], `listing ${wheel}`));
}

/** Unpacks [member, target relative to dest] pairs. */
export function unpackWheel(wheel, dest, members) {
  runPython(['-c', UNPACK, wheel, dest, JSON.stringify(members)], `unpacking ${wheel}`);
}

/**
 * The C API headers of a tensorflow `wheel` whose members are `names`, as
 * [member, target under include/] pairs: those under the C API prefixes plus
 * whatever c_api.h, c_api_experimental.h, ops.h and kernels.h include, followed through the
 * wheel (TF 2.21's tf_status.h includes xla/tsl/c/tsl_status.h).
 */
export function cApiHeaderMembers(wheel, names) {
  const prefixed = names.filter((name) => name.endsWith('.h') && C_API_HEADER_PREFIXES.some((prefix) => name.startsWith(prefix)));
  const roots = C_API_ROOTS.filter((name) => names.includes(name));
  const included = JSON.parse(runPython(['-c', INCLUDES, wheel, 'tensorflow/include/', JSON.stringify(roots)], `reading the headers of ${wheel}`));
  return [...new Set([...prefixed, ...included])]
    .map((name) => [name, path.join('include', name.slice('tensorflow/include/'.length))]);
}

/** Symbols a shared library defines (nm -D), or null where nm is not installed. */
export function definedSymbols(library) {
  const nm = spawnSync('nm', ['-D', '--defined-only', library], { encoding: 'utf8', maxBuffer: 1024 * 1024 * 1024 });
  if (nm.error) return null;
  if (nm.status !== 0) throw new Error(`nm -D ${library} failed: ${nm.stderr}`);
  return new Set(nm.stdout.split('\n').map((line) => line.split(' ').pop().split('@')[0]));
}
