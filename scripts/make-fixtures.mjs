// Generates the test fixture models under <repo>/.fixtures/ (the `pretest` step).
//
//   node scripts/make-fixtures.mjs [--force] [name ...]
//
// Each scripts/fixtures/<name>.py (except the shared common.py) produces
// .fixtures/<name>/; without names, all but the bench-only ones (which
// `npm run bench` asks for by name). A generator is re-run only when its
// stamp, the sha256 of the generator, common.py and the requirements file, is
// missing or differs.
// Generators write into a scratch dir that is renamed into place once they
// succeed, so an interrupted run never leaves a fixture that looks complete.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { log, seconds } from './log.mjs';
import { FIXTURES_DIR, REPO_ROOT } from './paths.mjs';
import { ensurePythonEnv, ensurePythonOnnx, ONNX_REQUIREMENTS_FILE, REQUIREMENTS_FILE } from './python-env.mjs';

const GENERATORS_DIR = path.join(REPO_ROOT, 'scripts', 'fixtures');
const SHARED_MODULES = ['common.py'];
const STAMP_NAME = '.stamp';
// Used by no test, and slow to make: only made when named.
const BENCH_ONLY = ['mobilenet_v2', 'onnx_models'];
// Generators that read other fixtures: those are made first, and their stamps
// are part of the dependent's cache key. Extra requirements files join the key
// and are installed (by `ensure`) before the generator runs.
const DEPENDS = { onnx_models: ['gaofei_cnn', 'mobilenet_v2'] };
const EXTRA_REQUIREMENTS = { onnx_models: { file: ONNX_REQUIREMENTS_FILE, ensure: ensurePythonOnnx } };

/** Names of the generators, e.g. ['counter', 'dtypes', ...]. */
async function listGenerators() {
  const files = await readdir(GENERATORS_DIR);
  return files
    .filter((f) => f.endsWith('.py') && !SHARED_MODULES.includes(f))
    .map((f) => f.slice(0, -'.py'.length))
    .sort();
}

async function cacheKey(name) {
  const hash = createHash('sha256');
  const inputs = [
    path.join(GENERATORS_DIR, `${name}.py`),
    ...SHARED_MODULES.map((m) => path.join(GENERATORS_DIR, m)),
    REQUIREMENTS_FILE,
    ...(EXTRA_REQUIREMENTS[name] ? [EXTRA_REQUIREMENTS[name].file] : []),
  ];
  for (const file of inputs) {
    hash.update(`${path.relative(REPO_ROOT, file)}\0`);
    hash.update(await readFile(file));
    hash.update('\0');
  }
  for (const dependency of DEPENDS[name] ?? []) {
    hash.update(`${dependency}\0${await readFile(path.join(FIXTURES_DIR, dependency, STAMP_NAME), 'utf8').catch(() => '')}\0`);
  }
  return hash.digest('hex');
}

async function isFresh(name, key) {
  const stamp = await readFile(path.join(FIXTURES_DIR, name, STAMP_NAME), 'utf8').catch(() => '');
  return stamp.trim() === key;
}

function pythonEnv() {
  return {
    ...process.env,
    TF_CPP_MIN_LOG_LEVEL: '2',
    PYTHONHASHSEED: '0',
    CUDA_VISIBLE_DEVICES: '',
    PYTHONUNBUFFERED: '1',
    // Keeps __pycache__ out of scripts/fixtures.
    PYTHONDONTWRITEBYTECODE: '1',
  };
}

let running = null;

function runGenerator(python, name, outDir) {
  return new Promise((resolve, reject) => {
    const script = path.join(GENERATORS_DIR, `${name}.py`);
    const child = spawn(python, [script, outDir], {
      cwd: REPO_ROOT,
      env: pythonEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running = child;
    const prefix = `[${name}] `;
    createInterface({ input: child.stdout }).on('line', (l) => process.stderr.write(`${prefix}${l}\n`));
    createInterface({ input: child.stderr }).on('line', (l) => process.stderr.write(`${prefix}${l}\n`));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      running = null;
      resolve(signal ? `signal ${signal}` : code);
    });
  });
}

async function generate(python, name, key) {
  const finalDir = path.join(FIXTURES_DIR, name);
  const scratch = path.join(FIXTURES_DIR, `.tmp-${name}-${process.pid}`);
  const old = path.join(FIXTURES_DIR, `.old-${name}-${process.pid}`);
  await rm(scratch, { recursive: true, force: true });
  await mkdir(scratch, { recursive: true });

  const status = await runGenerator(python, name, scratch);
  if (status !== 0) {
    await rm(scratch, { recursive: true, force: true });
    throw new Error(
      `fixture generator scripts/fixtures/${name}.py failed (exit ${status}); see the [${name}] output above`,
    );
  }

  await writeFile(path.join(scratch, STAMP_NAME), `${key}\n`);
  if (existsSync(finalDir)) await rename(finalDir, old);
  await rename(scratch, finalDir);
  await rm(old, { recursive: true, force: true });
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

/** Removes scratch dirs left behind by runs that died (named .tmp-<name>-<pid>). */
async function removeLeftovers() {
  const entries = await readdir(FIXTURES_DIR).catch(() => []);
  for (const entry of entries) {
    const m = /^\.(?:tmp|old)-.+-(\d+)$/.exec(entry);
    if (m && !isAlive(Number(m[1]))) {
      await rm(path.join(FIXTURES_DIR, entry), { recursive: true, force: true });
    }
  }
}

/**
 * Makes sure every fixture but the bench-only ones (or just `only`) exists and is up to date.
 * @param {{ only?: string[], force?: boolean }} [options]
 * @returns {Promise<{ generated: string[], fresh: string[] }>}
 */
export async function makeFixtures({ only, force = false } = {}) {
  const all = await listGenerators();
  const unknown = (only ?? []).filter((n) => !all.includes(n));
  if (unknown.length) throw new Error(`unknown fixture(s): ${unknown.join(', ')} (have: ${all.join(', ')})`);
  const asked = only?.length ? only : all.filter((name) => !BENCH_ONLY.includes(name));
  // Dependencies first (one level deep: no dependency has dependencies of its own).
  const names = [...new Set(asked.flatMap((name) => [...(DEPENDS[name] ?? []), name]))];

  await removeLeftovers();
  const result = { generated: [], fresh: [] };
  // In order, so that a dependent's key sees its dependencies' new stamps.
  for (const name of names) {
    const key = await cacheKey(name);
    if (!(force && asked.includes(name)) && (await isFresh(name, key))) {
      result.fresh.push(name);
      continue;
    }
    const python = await (EXTRA_REQUIREMENTS[name]?.ensure ?? ensurePythonEnv)();
    await mkdir(FIXTURES_DIR, { recursive: true });
    log(`generating fixture ${name}...`);
    const started = Date.now();
    await generate(python, name, key);
    result.generated.push(name);
    log(`fixture ${name} done (${seconds(started)})`);
  }
  return result;
}

async function main(argv) {
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, () => {
      // Don't leave a generator running on its own; its scratch dir is
      // removed by the next run.
      running?.kill(sig);
      log(`interrupted (${sig})`);
      process.exit(130);
    });
  }
  const force = argv.includes('--force');
  const only = argv.filter((a) => !a.startsWith('--'));
  const started = Date.now();
  const { generated, fresh } = await makeFixtures({ only, force });
  const rel = path.relative(process.cwd(), FIXTURES_DIR) || FIXTURES_DIR;
  if (generated.length === 0) log(`fixtures up to date in ${rel} (${fresh.join(', ')})`);
  else log(`generated ${generated.join(', ')} in ${rel} (${seconds(started)})`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((err) => {
    log(`error: ${err.message}`);
    process.exit(1);
  });
}
