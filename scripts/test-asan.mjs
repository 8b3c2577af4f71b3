// `npm run test:asan`: builds the addon with AddressSanitizer + UBSan into
// build-asan/ (build/Release stays as it is), runs the test suite and, when the
// repo has one, the fuzzer with the ASan runtime preloaded into node,
// then sorts every sanitizer report (scripts/asan/reports.mjs) and prints a
// summary. Exits non-zero if a report comes from tfserve's code or is
// unexplained. Options: --fuzz-seconds=N (default 60), --skip-build,
// --self-check (stop after checking that the probe's reports are caught).
// docs/sanitizers.md explains the options below.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { buildNative, sanitizedAddonPath } from './build-native.mjs';
import { classify, describe, readReports, readSuppressions } from './asan/reports.mjs';
import { log, seconds } from './log.mjs';
import { REPO_ROOT } from './paths.mjs';

const SANITIZE = 'address,undefined';
const LOG_DIR = path.join(REPO_ROOT, 'build-asan', 'reports');

function option(name, fallback) {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  return arg ? arg.slice(name.length + 3) : fallback;
}

/**
 * The ASan runtime the addon was linked against, as ldd resolves it: it must
 * be the first library of every process the addon is loaded into. (The UBSan
 * runtime is inside the addon, see CMakeLists.txt.)
 */
function asanRuntime() {
  const ldd = spawnSync('ldd', [sanitizedAddonPath], { encoding: 'utf8' });
  const asan = /^\s*libasan\.so\S* => (\S+)/m.exec(ldd.stdout ?? '')?.[1];
  if (!asan) throw new Error(`${sanitizedAddonPath} does not link libasan:\n${ldd.stdout}${ldd.stderr}`);
  return asan;
}

/** The flags the addon is built with, for the probe (see CMakeLists.txt). */
const SANITIZE_FLAGS = [`-fsanitize=${SANITIZE}`, '-fno-omit-frame-pointer', '-g', '-O1', '-static-libubsan', '-Wl,--exclude-libs,libubsan.a'];

/**
 * The preload reaches every program the tests start, not only node. curl
 * (server-assembly.test runs `curl --version`) hangs at startup with libasan
 * preloaded: main() blocks in setlocale() on glibc's locale lock, before any
 * tfserve or TF code exists in that process. A shim first in PATH runs the
 * system curl without the preload. Returns the shim directory, or null.
 */
function writeShims() {
  const found = spawnSync('sh', ['-c', 'command -v curl'], { encoding: 'utf8' });
  const curl = found.status === 0 ? found.stdout.trim() : '';
  if (!curl) return null;
  const dir = path.join(REPO_ROOT, 'build-asan', 'bin');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'curl'), `#!/bin/sh\nunset LD_PRELOAD\nexec ${JSON.stringify(curl)} "$@"\n`, { mode: 0o755 });
  return dir;
}

function sanitizerEnv() {
  const asanOptions = [
    // node, V8 and TF keep memory alive until exit on purpose; leak reports would be theirs and make every process exit non-zero.
    'detect_leaks=0',
    // Off by default in gcc 12's runtime; on, the addon's frames live on fake
    // stacks and a pointer to a returned frame is caught (the suite ran clean with it).
    'detect_stack_use_after_return=1',
    // One log per process (node test files, the spawned CLI servers, npx, python clients), named by executable and pid.
    `log_path=${path.join(LOG_DIR, 'asan')}`,
    'log_exe_name=1',
  ];
  const ubsanOptions = [
    'print_stacktrace=1',
    // Report and go on: every UB site is counted in one run; the summary fails the run.
    'halt_on_error=0',
    'report_error_type=1',
    `log_path=${path.join(LOG_DIR, 'ubsan')}`,
    'log_exe_name=1',
    // Deadly signals are ASan's (installed first, at preload) and V8's; UBSan's
    // runtime, loaded later with the addon, must not take them over.
    'handle_segv=0',
    'handle_sigbus=0',
    'handle_sigfpe=0',
    'handle_abort=0',
  ];
  return {
    ...process.env,
    LD_PRELOAD: [asanRuntime(), process.env.LD_PRELOAD].filter(Boolean).join(':'),
    // The caller's own options come last and win (e.g. ASAN_OPTIONS=detect_stack_use_after_return=1).
    ASAN_OPTIONS: [...asanOptions, process.env.ASAN_OPTIONS].filter(Boolean).join(':'),
    UBSAN_OPTIONS: [...ubsanOptions, process.env.UBSAN_OPTIONS].filter(Boolean).join(':'),
    TFSERVE_ADDON_PATH: sanitizedAddonPath,
    PATH: [writeShims(), process.env.PATH].filter(Boolean).join(path.delimiter),
  };
}

/**
 * Proves the machinery sees errors: builds scripts/asan/probe.cc with the
 * addon's sanitizers, loads it into node under `env` with its own log
 * directory, and checks that the logs hold its UBSan and ASan reports with a
 * frame in probe.cc. Throws otherwise.
 */
function selfCheck(env) {
  const dir = path.join(REPO_ROOT, 'build-asan', 'probe');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(path.join(dir, 'logs'), { recursive: true });
  const source = path.join(REPO_ROOT, 'scripts', 'asan', 'probe.cc');
  const library = path.join(dir, 'probe.so');
  const cxx = process.env.CXX || 'c++';
  const build = spawnSync(cxx, ['-shared', '-fPIC', ...SANITIZE_FLAGS, '-o', library, source], { encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`self-check: ${cxx} failed on probe.cc:\n${build.stderr}`);
  const logs = path.join(dir, 'logs');
  const probeEnv = {
    ...env,
    ASAN_OPTIONS: env.ASAN_OPTIONS.replace(`log_path=${LOG_DIR}`, `log_path=${logs}`),
    UBSAN_OPTIONS: env.UBSAN_OPTIONS.replace(`log_path=${LOG_DIR}`, `log_path=${logs}`),
  };
  const run = spawnSync(process.execPath, ['-e', `process.dlopen({ exports: {} }, ${JSON.stringify(library)})`], { encoding: 'utf8', env: probeEnv });
  const reports = readReports(logs);
  const inProbe = (r) => r.frames.some((f) => f.where.startsWith(source));
  const ubsan = reports.filter((r) => r.kind.startsWith('ubsan: signed integer overflow') && inProbe(r));
  const asan = reports.filter((r) => r.kind === 'heap-buffer-overflow' && inProbe(r));
  if (run.status === 0 || ubsan.length !== 1 || asan.length !== 1) {
    throw new Error(`self-check: expected the probe's UBSan and ASan reports in ${path.relative(REPO_ROOT, logs)}, got ${reports.length} (${reports.map((r) => r.kind).join('; ')}); node exited ${run.status}\n${run.stderr}`);
  }
  log('self-check: the probe\'s UBSan and ASan reports were caught and parsed');
}

/** Runs a command with `env`, echoing its output and keeping it for the summary. */
function runEchoed(command, args, env) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => { output += chunk; process.stdout.write(chunk); });
    child.stderr.on('data', (chunk) => { output += chunk; process.stderr.write(chunk); });
    child.on('close', (code, signal) => resolve({ code, signal, output }));
  });
}

function testCounts(output) {
  const counts = {};
  for (const match of output.matchAll(/^# (tests|pass|fail|cancelled|skipped|todo|duration_ms) (\S+)$/gm)) counts[match[1]] = Number(match[2]);
  const failed = [...output.matchAll(/^\s+not ok \d+ - (.*)$/gm)].map((m) => m[1]);
  return { counts, failed: [...new Set(failed)] };
}

function hasFuzzer() {
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'));
  const script = fs.readdirSync(path.join(REPO_ROOT, 'scripts')).some((name) => name === 'fuzz' || name.startsWith('fuzz.'));
  return Boolean(pkg.scripts?.fuzz) && script;
}

async function main() {
  const fuzzSeconds = Number(option('fuzz-seconds', '60'));
  const suppressions = readSuppressions();
  const timings = {};

  if (!process.argv.includes('--skip-build')) {
    const started = Date.now();
    buildNative('cmake-js', { sanitize: SANITIZE });
    timings.build = seconds(started);
  }
  const started = Date.now();
  spawnSync(process.execPath, ['scripts/install.mjs', '--ts-only'], { cwd: REPO_ROOT, stdio: 'inherit' });
  spawnSync(process.execPath, ['scripts/make-fixtures.mjs'], { cwd: REPO_ROOT, stdio: 'inherit' });
  timings.prepare = seconds(started);

  fs.rmSync(LOG_DIR, { recursive: true, force: true });
  fs.mkdirSync(LOG_DIR, { recursive: true });
  const env = sanitizerEnv();

  const check = spawnSync(process.execPath, ['-e', `process.stdout.write(require(${JSON.stringify(sanitizedAddonPath)}).tfVersion())`], {
    encoding: 'utf8', env: { ...env, TF_CPP_MIN_LOG_LEVEL: '3' },
  });
  if (check.status !== 0) throw new Error(`the sanitized addon does not load under the preloaded runtimes:\n${check.stderr}`);
  log(`sanitized addon loads (TensorFlow ${check.stdout}); LD_PRELOAD=${env.LD_PRELOAD}`);
  selfCheck(env);
  if (process.argv.includes('--self-check')) return;

  const testDir = path.join(REPO_ROOT, 'dist', 'test');
  const files = fs.readdirSync(testDir).filter((f) => f.endsWith('.test.js')).sort().map((f) => path.join('dist', 'test', f));
  const suiteStarted = Date.now();
  const suite = await runEchoed(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=tap', ...files], env);
  timings.suite = seconds(suiteStarted);
  const tests = testCounts(suite.output);

  let fuzz = null;
  if (hasFuzzer()) {
    const fuzzStarted = Date.now();
    const run = await runEchoed('npm', ['run', 'fuzz', '--', '--seconds', String(fuzzSeconds)], env);
    timings.fuzz = seconds(fuzzStarted);
    fuzz = { code: run.code, signal: run.signal, tail: run.output.trim().split('\n').slice(-3).join('\n') };
  }

  const reports = readReports(LOG_DIR);
  const sorted = classify(reports, suppressions);
  const out = [];
  out.push('', '==== sanitizer summary (AddressSanitizer + UndefinedBehaviorSanitizer) ====');
  out.push(`reports from tfserve's code (native/, the sanitized addon): ${sorted.tfserve.length}`);
  for (const report of sorted.tfserve) out.push(describe(report));
  const suppressedTotal = [...sorted.suppressed.values()].reduce((n, list) => n + list.length, 0);
  out.push(`reports suppressed (scripts/asan/suppressions.txt): ${suppressedTotal}`);
  for (const [category, list] of sorted.suppressed) {
    const kinds = new Map();
    for (const report of list) kinds.set(report.kind, (kinds.get(report.kind) ?? 0) + 1);
    out.push(`  ${category}: ${list.length} (${[...kinds].map(([k, n]) => `${k} x${n}`).join(', ')})`);
  }
  out.push(`reports unexplained (no tfserve frame, no suppression entry): ${sorted.unexplained.length}`);
  for (const report of sorted.unexplained) out.push(describe(report));
  out.push(`logs: ${path.relative(REPO_ROOT, LOG_DIR)}/ (${fs.readdirSync(LOG_DIR).length} files)`);
  const c = tests.counts;
  out.push(`tests: ${c.tests ?? '?'} run, ${c.pass ?? '?'} passed, ${c.fail ?? '?'} failed, ${c.cancelled ?? 0} cancelled, ${c.skipped ?? 0} skipped (node --test exit ${suite.code ?? suite.signal})`);
  for (const name of tests.failed) out.push(`  not ok: ${name}`);
  out.push(fuzz ? `fuzzer (${fuzzSeconds} s): exit ${fuzz.code ?? fuzz.signal}\n${fuzz.tail}` : 'fuzzer: not in this tree (no scripts/fuzz and `fuzz` npm script), skipped');
  out.push(`timings: ${Object.entries(timings).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  process.stdout.write(`${out.join('\n')}\n`);
  process.exitCode = sorted.tfserve.length > 0 || sorted.unexplained.length > 0 ? 1 : 0;
}

main().catch((error) => {
  process.stderr.write(`test:asan: ${error.stack ?? error}\n`);
  process.exitCode = 2;
});
