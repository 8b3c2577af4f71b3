// Builds example_add.cc into build/example-op/libtfserve_example_add.so
// against the TF that install provisioned (deps/libtensorflow): its C API
// headers and libtensorflow_framework.so.2, where the op and kernel C API
// lives. `node examples/op-library/build.mjs` prints the library's path.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.resolve(HERE, '..', '..');
const DEPS = path.join(REPO_ROOT, 'deps', 'libtensorflow');
export const exampleOpLibrary = path.join(REPO_ROOT, 'build', 'example-op', 'libtfserve_example_add.so');

export function buildExampleOpLibrary() {
  const source = path.join(HERE, 'example_add.cc');
  const framework = path.join(DEPS, 'lib', 'libtensorflow_framework.so.2');
  if (!fs.existsSync(framework)) throw new Error(`${framework} is missing: run npm install first`);
  const stale = !fs.existsSync(exampleOpLibrary) ||
    fs.statSync(exampleOpLibrary).mtimeMs < Math.max(fs.statSync(source).mtimeMs, fs.statSync(fs.realpathSync(framework)).mtimeMs);
  if (!stale) return exampleOpLibrary;
  fs.mkdirSync(path.dirname(exampleOpLibrary), { recursive: true });
  const cxx = process.env.CXX || 'c++';
  const result = spawnSync(cxx, ['-std=c++17', '-shared', '-fPIC', '-O2', '-Wall', '-Wextra',
    `-I${path.join(DEPS, 'include')}`, '-o', exampleOpLibrary, source, framework,
    // TF is already in the process that loads the library; found by soname.
    `-Wl,-rpath,${path.join(DEPS, 'lib')}`], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${cxx} failed on ${source}:\n${result.stderr}`);
  return exampleOpLibrary;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) process.stdout.write(`${buildExampleOpLibrary()}\n`);
