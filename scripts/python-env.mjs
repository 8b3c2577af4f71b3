// Project-local Python virtualenv used only to generate test fixture models.
//
// ensurePythonEnv() creates <repo>/.venv on first use, installs
// scripts/requirements-fixtures.txt into it and leaves a stamp (sha256 of the
// requirements file) so later calls return at once. Editing the requirements
// file changes the hash and triggers a reinstall.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { log, seconds } from './log.mjs';
import { cacheDir, REPO_ROOT } from './paths.mjs';

export const VENV_DIR = path.join(REPO_ROOT, '.venv');
export const REQUIREMENTS_FILE = path.join(REPO_ROOT, 'scripts', 'requirements-fixtures.txt');

export const CLIENT_REQUIREMENTS_FILE = path.join(REPO_ROOT, 'scripts', 'requirements-clients.txt');
export const SUITE_REQUIREMENTS_FILE = path.join(REPO_ROOT, 'scripts', 'requirements-suite.txt');
export const ONNX_REQUIREMENTS_FILE = path.join(REPO_ROOT, 'scripts', 'requirements-onnx.txt');

const STAMP_FILE = path.join(VENV_DIR, '.tfserve-requirements.sha256');
const CLIENT_STAMP_FILE = path.join(VENV_DIR, '.tfserve-client-requirements.sha256');
const SUITE_STAMP_FILE = path.join(VENV_DIR, '.tfserve-suite-requirements.sha256');
const ONNX_STAMP_FILE = path.join(VENV_DIR, '.tfserve-onnx-requirements.sha256');
const PIP_LOG = path.join(VENV_DIR, 'pip-install.log');

// tensorflow-cpu 2.15.1 publishes wheels for CPython 3.9 to 3.11 only.
const MIN_MINOR = 9;
const MAX_MINOR = 11;

function venvPython() {
  return process.platform === 'win32'
    ? path.join(VENV_DIR, 'Scripts', 'python.exe')
    : path.join(VENV_DIR, 'bin', 'python');
}

/** Directory of pre-fetched wheels, if the provisioning step left one. */
export function wheelCacheDir() {
  const dir = path.join(cacheDir(), 'wheels');
  return existsSync(dir) ? dir : null;
}

/** Runs a command, collecting its combined output. Never rejects. */
function run(cmd, args, opts = {}) {
  return new Promise((resolve) => {
    let output = '';
    let child;
    try {
      child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    } catch (err) {
      resolve({ code: -1, output: '', error: err });
      return;
    }
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', (err) => resolve({ code: -1, output, error: err }));
    child.on('close', (code, signal) => resolve({ code: code ?? -1, signal, output }));
  });
}

function lastLines(text, n) {
  return text.trimEnd().split('\n').slice(-n).join('\n');
}

async function sha256File(file) {
  return createHash('sha256').update(await readFile(file)).digest('hex');
}

/** Finds an interpreter TensorFlow 2.15 supports; returns its command name. */
async function findBasePython() {
  const candidates = ['python3'];
  for (let minor = MAX_MINOR; minor >= MIN_MINOR; minor--) candidates.push(`python3.${minor}`);
  const seen = [];
  for (const cmd of candidates) {
    const r = await run(cmd, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])']);
    if (r.code !== 0) continue;
    const version = r.output.trim();
    const minor = Number(version.split('.')[1]);
    if (version.startsWith('3.') && minor >= MIN_MINOR && minor <= MAX_MINOR) return cmd;
    seen.push(`${cmd} is ${version}`);
  }
  const found = seen.length ? ` (found: ${seen.join(', ')})` : ' (no python3 on PATH)';
  throw new Error(
    `No usable Python for the test fixtures${found}. ` +
      `TensorFlow 2.15 needs Python 3.${MIN_MINOR}-3.${MAX_MINOR}: install one of them ` +
      `(e.g. apt-get install python3 python3-venv, or pyenv install 3.11) and re-run.`,
  );
}

async function createVenv() {
  const base = await findBasePython();
  log(`creating Python venv for fixtures in ${path.relative(process.cwd(), VENV_DIR) || VENV_DIR} (using ${base})...`);
  // A half-created venv from an interrupted run would confuse `venv`.
  await rm(VENV_DIR, { recursive: true, force: true });
  const r = await run(base, ['-m', 'venv', VENV_DIR]);
  if (r.code !== 0 || !existsSync(venvPython())) {
    await rm(VENV_DIR, { recursive: true, force: true });
    throw new Error(
      `Creating the fixtures venv with "${base} -m venv" failed:\n${lastLines(r.output, 10)}\n` +
        `On Debian/Ubuntu install the venv module (apt-get install python3-venv) and re-run.`,
    );
  }
}

/**
 * Installs a requirements file into the venv unless `stamp` holds its sha256.
 * @returns {Promise<boolean>} whether pip ran
 */
async function installRequirements(file, stamp, extraArgs = []) {
  const python = venvPython();
  const wanted = await sha256File(file);
  if ((await readFile(stamp, 'utf8').catch(() => '')).trim() === wanted) return false;
  // Drop the stamp first so an interrupted install is retried next time.
  await rm(stamp, { force: true });

  const pip = ['-m', 'pip', 'install', '--disable-pip-version-check', '--progress-bar', 'off', ...extraArgs];
  const wheels = wheelCacheDir();
  let logText = '';
  log(`installing ${path.relative(REPO_ROOT, file)} into the venv...`);
  if (wheels) {
    // pip ranks an index copy above an identical --find-links file, so first
    // install what the cache can satisfy, offline and without dependencies.
    // Failing here is fine: the main pass below fetches whatever is missing.
    const args = [...pip, '--no-index', '--no-deps', '--find-links', wheels, '-r', file];
    const pre = await run(python, args);
    logText += `$ ${python} ${args.join(' ')}\n${pre.output}\n`;
  }

  const args = [...pip, ...(wheels ? ['--find-links', wheels] : []), '-r', file];
  const r = await run(python, args);
  logText += `$ ${python} ${args.join(' ')}\n${r.output}`;
  await writeFile(PIP_LOG, logText);
  if (r.code !== 0) {
    throw new Error(
      `pip could not install ${path.relative(REPO_ROOT, file)} (exit ${r.code}):\n` +
        `${lastLines(r.output, 15)}\n` +
        `Full log: ${PIP_LOG}. Check that the package index is reachable (or that ` +
        `${wheels ?? '$TFSERVE_CACHE_DIR/wheels'} holds the wheels), then re-run; ` +
        `delete ${VENV_DIR} to start from scratch.`,
    );
  }
  await writeFile(stamp, `${wanted}\n`);
  return true;
}

/**
 * Makes sure the fixtures venv exists and is up to date.
 * @returns {Promise<string>} absolute path of the venv's python executable
 */
export async function ensurePythonEnv() {
  if (!existsSync(venvPython())) await createVenv();
  const started = Date.now();
  if (await installRequirements(REQUIREMENTS_FILE, STAMP_FILE)) log(`Python venv ready (${seconds(started)})`);
  return venvPython();
}

/**
 * The fixtures venv plus scripts/requirements-clients.txt (the TF Serving
 * Python client for the gRPC tests, Triton's tritonclient for the v2
 * protocol tests), installed with --no-deps under its own
 * stamp so that the fixture cache key stays untouched.
 * @returns {Promise<string>} absolute path of the venv's python executable
 */
export async function ensurePythonClients() {
  const python = await ensurePythonEnv();
  await installRequirements(CLIENT_REQUIREMENTS_FILE, CLIENT_STAMP_FILE, ['--no-deps']);
  return python;
}

/**
 * The client venv plus scripts/requirements-suite.txt (what TF Serving's own
 * test suite imports), under its own stamp.
 * @returns {Promise<string>} absolute path of the venv's python executable
 */
export async function ensurePythonSuite() {
  const python = await ensurePythonClients();
  await installRequirements(SUITE_REQUIREMENTS_FILE, SUITE_STAMP_FILE, ['--no-deps']);
  return python;
}

/**
 * The fixtures venv plus scripts/requirements-onnx.txt (tf2onnx, for the
 * bench's ONNX models), under its own stamp so the fixture cache key of the
 * other fixtures stays untouched.
 * @returns {Promise<string>} absolute path of the venv's python executable
 */
export async function ensurePythonOnnx() {
  const python = await ensurePythonEnv();
  await installRequirements(ONNX_REQUIREMENTS_FILE, ONNX_STAMP_FILE, ['--no-deps']);
  return python;
}

// `node scripts/python-env.mjs [--clients]` prints the interpreter path.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  (process.argv.includes('--clients') ? ensurePythonClients() : ensurePythonEnv()).then(
    (p) => console.log(p),
    (err) => {
      console.error(`[tfserve] ${err.message}`);
      process.exit(1);
    },
  );
}
