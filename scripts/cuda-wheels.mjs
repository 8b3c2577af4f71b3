// The CUDA libraries of TF's CUDA build (TFSERVE_TF_VARIANT=cuda): the
// `tensorflow` wheel's METADATA names them as the Requires-Dist of its
// `and-cuda` extra (nvidia-cublas-cu12, nvidia-cudnn-cu12, ...). Each is
// fetched with pip --no-deps and its nvidia/<pkg>/ tree unpacked beside the
// tensorflow/ directory, as in site-packages, where the RUNPATH of
// libtensorflow_framework.so.2 ($ORIGIN/../nvidia/<pkg>/lib) looks.
import { spawnSync } from 'node:child_process';
import path from 'node:path';

import { log, seconds } from './log.mjs';
import { extraRequirements, listWheel, pipDownload, python, unpackWheel } from './wheel.mjs';

// Picks, for each requirement, the newest wheel in a directory that satisfies
// it, with the `packaging` that pip carries.
const MATCH = `
import json, os, sys
from pip._vendor.packaging.requirements import Requirement
from pip._vendor.packaging.utils import canonicalize_name, parse_wheel_filename
folder, requirements = sys.argv[1], json.loads(sys.argv[2])
wheels = []
for f in os.listdir(folder):
    if f.endswith('.whl'):
        name, version, _, _ = parse_wheel_filename(f)
        wheels.append((canonicalize_name(name), version, f))
found = {}
for text in requirements:
    r = Requirement(text)
    fits = [(v, f) for n, v, f in wheels if n == canonicalize_name(r.name) and r.specifier.contains(v, prereleases=True)]
    found[text] = os.path.join(folder, max(fits)[1]) if fits else None
print(json.dumps(found))
`;

function matchWheels(dir, requirements) {
  const result = spawnSync(python(), ['-c', MATCH, dir, JSON.stringify(requirements)], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`matching the CUDA wheels in ${dir} failed: ${result.stderr}`);
  return JSON.parse(result.stdout);
}

// Headers, static libraries and Python files are not needed to run.
function runtimeMember(name) {
  return name.startsWith('nvidia/') && !name.includes('/include/') && !name.endsWith('.a') &&
    !name.endsWith('.py') && !name.includes('__pycache__') && !name.endsWith('/');
}

/** Downloads the and-cuda wheels of `tensorflowWheel` into `wheels` and unpacks their nvidia/ trees into `dest`. */
export function unpackCudaLibraries({ tensorflowWheel, dest, wheels, pythonVersion }) {
  const requirements = extraRequirements(tensorflowWheel, 'and-cuda');
  if (requirements.length === 0) throw new Error(`${path.basename(tensorflowWheel)} names no and-cuda requirements in its METADATA`);
  log(`the CUDA build asks for ${requirements.join(', ')}`);
  let found = matchWheels(wheels, requirements);
  if (Object.values(found).some((wheel) => wheel === null)) {
    pipDownload({ requirements, pythonVersion, dir: wheels, say: log, about: `${requirements.length} nvidia wheels, several GB` });
    found = matchWheels(wheels, requirements);
  }
  const started = Date.now();
  for (const [requirement, wheel] of Object.entries(found)) {
    if (!wheel) throw new Error(`no wheel for ${requirement} in ${wheels} after pip download`);
    log(`unpacking ${path.basename(wheel)} ...`);
    unpackWheel(wheel, dest, listWheel(wheel).filter(runtimeMember).map((name) => [name, name]));
  }
  log(`unpacked the CUDA libraries in ${seconds(started)}`);
}
