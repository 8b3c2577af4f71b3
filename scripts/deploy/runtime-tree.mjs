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
//   DEST/node_modules/                (production dependencies only)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { addonPath } from '../build-native.mjs';
import { depsDir, readConfig } from '../libtensorflow.mjs';
import { log } from '../log.mjs';
import { REPO_ROOT } from '../paths.mjs';

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
  const libDir = path.join(dest, 'deps', 'libtensorflow', 'lib');
  fs.mkdirSync(libDir, { recursive: true });
  // copyFileSync follows the links into the download cache.
  for (const name of config.libraries) fs.copyFileSync(path.join(depsDir, 'lib', name), path.join(libDir, name));
  fs.cpSync(from('node_modules'), path.join(dest, 'node_modules'), { recursive: true, verbatimSymlinks: true });
  log(`runtime tree at ${dest}: TensorFlow ${config.version} (${config.libraries.join(', ')})`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dest = process.argv[2];
  if (!dest) {
    console.error('usage: node scripts/deploy/runtime-tree.mjs DEST');
    process.exit(2);
  }
  layOutRuntime(path.resolve(dest));
}
