// `npm install`: provision libtensorflow (and, optionally, LiteRT), build the native addon, compile the
// TypeScript. `--skip-provision` reuses deps/libtensorflow as it is;
// `--ts-only` only compiles the TypeScript.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

import { buildNative } from './build-native.mjs';
import { provisionLibtensorflow } from './libtensorflow.mjs';
import { tryProvisionLitert } from './litert.mjs';
import { log, seconds } from './log.mjs';
import { REPO_ROOT } from './paths.mjs';

const require = createRequire(import.meta.url);

function compileTypeScript() {
  const started = Date.now();
  log('compiling TypeScript ...');
  const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json'], {
    cwd: REPO_ROOT,
    stdio: 'inherit',
  });
  if (tsc.status !== 0) throw new Error('tsc failed');
  // The `tfserve` bin (npx tfserve) is run directly, so it must be executable.
  fs.chmodSync(path.join(REPO_ROOT, 'dist', 'src', 'cli.js'), 0o755);
  log(`compiled TypeScript (${seconds(started)})`);
}

try {
  const started = Date.now();
  const tsOnly = process.argv.includes('--ts-only');
  if (!tsOnly && !process.argv.includes('--skip-provision')) {
    provisionLibtensorflow();
    tryProvisionLitert(); // optional: TFLite models only
  }
  if (!tsOnly) buildNative(process.env.TFSERVE_BUILDER || 'cmake-js');
  compileTypeScript();
  log(`ready (${seconds(started)})`);
} catch (error) {
  log(`install failed: ${error.message}`);
  process.exit(1);
}
