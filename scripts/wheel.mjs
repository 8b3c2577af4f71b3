// Python wheels are zip files: list and unpack their members with the local
// python3 (no unzip needed), and check which TF C API symbols a library
// exports. Used by libtensorflow provisioning and by the bench's tfjs-node.
import { spawnSync } from 'node:child_process';

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

function runPython(python, args, what) {
  const result = spawnSync(python, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'inherit'] });
  if (result.error || result.status !== 0) {
    throw new Error(`${what} failed (${result.error?.message ?? `exit ${result.status}`})`);
  }
  return result.stdout;
}

/** Member names of a wheel. */
export function listWheel(python, wheel) {
  return JSON.parse(runPython(python, ['-c', LIST, wheel], `listing ${wheel}`));
}

/** Unpacks [member, target relative to dest] pairs. */
export function unpackWheel(python, wheel, dest, members) {
  runPython(python, ['-c', UNPACK, wheel, dest, JSON.stringify(members)], `unpacking ${wheel}`);
}

/** Symbols a shared library defines (nm -D), or null where nm is not installed. */
export function definedSymbols(library) {
  const nm = spawnSync('nm', ['-D', '--defined-only', library], { encoding: 'utf8', maxBuffer: 1024 * 1024 * 1024 });
  if (nm.error) return null;
  if (nm.status !== 0) throw new Error(`nm -D ${library} failed: ${nm.stderr}`);
  return new Set(nm.stdout.split('\n').map((line) => line.split(' ').pop().split('@')[0]));
}
