// Lays out what a built tfserve needs at run time, and nothing else, under
// DEST: the container image's runtime stage copies this tree (Dockerfile).
//   node scripts/deploy/runtime-tree.mjs DEST
// Run after `npm ci` (provisioning, addon, TypeScript) and `npm prune --omit=dev`.
//
//   DEST/package.json                 (the version `tfserve --version` prints)
//   DEST/dist/src/                    (compiled TypeScript; not dist/test)
//   DEST/proto/                       (the .proto files the codecs load)
//   DEST/build/Release/tfserve.node   (the addon; rpath $ORIGIN/../../deps/libtensorflow/lib)
//   DEST/deps/libtensorflow/lib/      (the TF shared libraries, copied: in the
//                                      source tree they are links into the download cache)
//   DEST/deps/libtensorflow/ops/      (TF Text's op libraries, copied likewise)
//   DEST/deps/libtensorflow.json      (the install record: which op libraries load at start)
//   DEST/deps/litert/libLiteRt.so     (LiteRT for TFLite models, when npm ci provisioned it)
//   DEST/node_modules/                (the production dependencies the server loads, and
//                                      theirs; not those only the install script needs)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { addonPath } from '../build-native.mjs';
import { depsDir, readConfig } from '../libtensorflow.mjs';
import { LITERT_LINK } from '../litert.mjs';
import { log } from '../log.mjs';
import { REPO_ROOT } from '../paths.mjs';

// Dependencies of the package that only its install script uses (building the
// addon from source on `npm install tfserve`): a built tree never loads them.
const BUILD_ONLY = new Set(['cmake-js', 'node-addon-api', 'node-api-headers']);

/** Where `name` resolves from the package in `fromDir`, as Node resolves it (nested node_modules first, then up). */
function resolvePackage(name, fromDir, root) {
  for (let dir = fromDir; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', name);
    if (fs.existsSync(path.join(candidate, 'package.json'))) return candidate;
    if (dir === root || dir === path.dirname(dir)) return null;
  }
}

/** The package directories the runtime dependencies need, transitively (optional ones when installed). */
function runtimePackages(root) {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const found = new Set();
  const visit = (name, fromDir, optional) => {
    const dir = resolvePackage(name, fromDir, root);
    if (!dir) {
      if (optional) return;
      throw new Error(`${name} (needed from ${path.relative(root, fromDir) || 'the package'}) is not installed`);
    }
    if (found.has(dir)) return;
    found.add(dir);
    const meta = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
    for (const dep of Object.keys(meta.dependencies ?? {})) visit(dep, dir, false);
    for (const dep of Object.keys(meta.optionalDependencies ?? {})) visit(dep, dir, true);
  };
  for (const name of Object.keys(pkg.dependencies)) if (!BUILD_ONLY.has(name)) visit(name, root, false);
  return [...found];
}

/**
 * deps/ as the server reads it at run time: the TF libraries, the op
 * libraries the install record lists (src/engine/op-libraries.ts loads them
 * before any model) with a record naming them, and LiteRT when present.
 * copyFileSync follows the links into the download cache.
 */
export function copyTensorflowRuntime(config, dest) {
  const destDeps = path.join(dest, 'deps', 'libtensorflow');
  fs.mkdirSync(path.join(destDeps, 'lib'), { recursive: true });
  for (const name of config.libraries) fs.copyFileSync(path.join(depsDir, 'lib', name), path.join(destDeps, 'lib', name));
  const opLibraries = config.opLibraries ?? [];
  for (const link of opLibraries) {
    fs.mkdirSync(path.dirname(path.join(destDeps, link)), { recursive: true });
    fs.copyFileSync(path.join(depsDir, link), path.join(destDeps, link));
  }
  // The build machine's paths (libDir, includeDir) mean nothing in the image.
  const record = { source: config.source, version: config.version, variant: config.variant, libraries: config.libraries, opLibraries, ...(config.tfText ? { tfText: config.tfText } : {}) };
  fs.writeFileSync(path.join(dest, 'deps', 'libtensorflow.json'), `${JSON.stringify(record, null, 2)}\n`);
  const litert = fs.existsSync(LITERT_LINK);
  if (litert) {
    fs.mkdirSync(path.join(dest, 'deps', 'litert'), { recursive: true });
    fs.copyFileSync(LITERT_LINK, path.join(dest, 'deps', 'litert', path.basename(LITERT_LINK)));
  }
  return { opLibraries: opLibraries.length, litert };
}

export function layOutRuntime(dest) {
  const config = readConfig();
  const from = (...parts) => path.join(REPO_ROOT, ...parts);
  for (const needed of [from('dist', 'src', 'cli.js'), addonPath]) {
    if (!fs.existsSync(needed)) throw new Error(`${needed} is missing: run npm ci (or npm install) first`);
  }
  if (fs.existsSync(from('node_modules', 'typescript'))) {
    throw new Error('node_modules still holds dev dependencies: run `npm prune --omit=dev` first');
  }
  fs.mkdirSync(dest, { recursive: true });
  fs.copyFileSync(from('package.json'), path.join(dest, 'package.json'));
  fs.cpSync(from('dist', 'src'), path.join(dest, 'dist', 'src'), { recursive: true, filter: (src) => !src.endsWith('.map') });
  fs.cpSync(from('proto'), path.join(dest, 'proto'), { recursive: true });
  fs.mkdirSync(path.join(dest, 'build', 'Release'), { recursive: true });
  fs.copyFileSync(addonPath, path.join(dest, 'build', 'Release', 'tfserve.node'));
  const extras = copyTensorflowRuntime(config, dest);
  const packages = runtimePackages(REPO_ROOT);
  for (const dir of packages) {
    // A nested node_modules is copied with its own package when that one is needed.
    fs.cpSync(dir, path.join(dest, path.relative(REPO_ROOT, dir)), { recursive: true, verbatimSymlinks: true, filter: (src) => src === dir || !src.startsWith(path.join(dir, 'node_modules')) });
  }
  log(`runtime tree at ${dest}: TensorFlow ${config.version} (${config.libraries.join(', ')}), ${extras.opLibraries} op libraries, ` +
    `${extras.litert ? 'LiteRT' : 'no LiteRT'}, ${packages.length} packages in node_modules`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dest = process.argv[2];
  if (!dest) {
    console.error('usage: node scripts/deploy/runtime-tree.mjs DEST');
    process.exit(2);
  }
  layOutRuntime(path.resolve(dest));
}
