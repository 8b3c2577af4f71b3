// Runs TensorFlow Serving's own model-server test suite against tfserve:
// `npm run test:tfserving [-- testName | TestClass.testName ...]` (each name
// selects the tests whose ids contain it: unittest's -k, through absltest's
// TESTBRIDGE_TEST_ONLY, since absl's flag parser refuses -k on the command line).
//
// The suite (../shared/tf_serving_suite, read-only, used in place) starts
// $TEST_SRCDIR/tf_serving/tensorflow_serving/model_servers/tensorflow_model_server
// and reads its testdata beside it. This script lays out that tree in a
// temporary directory with symbolic links to the suite's files and a wrapper
// named tensorflow_model_server that runs tfserve's CLI with the same
// arguments, installs what the suite imports into the project's venv, runs it
// verbatim and prints unittest's summary. It fails when a test fails that is
// not listed below as a known gap, with the reason it fails, when a test
// starts and never ends, or when Python fails outside any test; the whole run
// is bounded by SUITE_TIMEOUT_MS.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { tryProvisionLitert } from './litert.mjs';
import { log } from './log.mjs';
import { REPO_ROOT, SHARED_DIR } from './paths.mjs';
import { ensurePythonSuite } from './python-env.mjs';

const SUITE_DIR = path.join(SHARED_DIR, 'tf_serving_suite');
const CLI = path.join(REPO_ROOT, 'dist', 'src', 'cli.js');
/** The whole suite takes a few minutes; past this it is stuck (a server that never answers). */
const SUITE_TIMEOUT_MS = 30 * 60_000;

/** Tests expected to fail, each with why. Any other failure fails the run. */
const KNOWN_GAPS = new Map([
  ['test_profiler_service_with_valid_trace_request', "TF Serving's profiler service (tensorflow.ProfilerService) is not part of tfserve"],
]);

/** Runs a command to its end, or for timeoutMs at most: then its whole process group (servers the suite started included) is killed. */
function run(command, args, options, timeoutMs = SUITE_TIMEOUT_MS) {
  return new Promise((resolve, reject) => {
    // Its own process group, so that the servers the suite starts go with it.
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, ...options });
    let output = '';
    const killGroup = () => {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      output += `\n[tfserve] killed after ${timeoutMs / 1000} s\n`;
      killGroup();
    }, timeoutMs);
    // A detached group does not get the terminal's Ctrl-C: pass it on.
    const onSignal = () => {
      killGroup();
      process.exit(130);
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const done = () => {
      clearTimeout(timer);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    };
    const keep = (chunk) => {
      output += chunk.toString();
      if (process.env.TFSERVE_SUITE_VERBOSE) process.stderr.write(chunk);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', (error) => {
      done();
      reject(error);
    });
    child.on('close', (code, signal) => {
      done();
      resolve({ code: code ?? signal, output });
    });
  });
}

/** $TEST_SRCDIR/tf_serving/tensorflow_serving/{model_servers,servables} with the wrapper. */
async function layOut(root, python) {
  const serving = path.join(root, 'tf_serving', 'tensorflow_serving');
  const servers = path.join(serving, 'model_servers');
  const suiteServers = path.join(SUITE_DIR, 'tensorflow_serving', 'model_servers');
  await mkdir(servers, { recursive: true });
  await mkdir(path.join(serving, 'servables'), { recursive: true });
  await symlink(path.join(SUITE_DIR, 'tensorflow_serving', 'servables', 'tensorflow'), path.join(serving, 'servables', 'tensorflow'));
  await symlink(path.join(suiteServers, 'test_util'), path.join(servers, 'test_util'));
  // tensorflow_serving.apis comes from the tensorflow-serving-api wheel and
  // model_servers.test_util from this tree: one package over both directories.
  await writeFile(path.join(serving, '__init__.py'), 'import pkgutil\n__path__ = pkgutil.extend_path(__path__, __name__)\n');
  // The one patch the suite's README allows: with TF >= 2.16 `flags` has no
  // `os`. Applied only where the installed TF needs it (never on 2.15).
  const testSource = await readFile(path.join(suiteServers, 'tensorflow_model_server_test.py'), 'utf8');
  const testFile = path.join(servers, 'tensorflow_model_server_test.py');
  const probe = await run(python, ['-c', 'from tensorflow.python.platform import flags; print(hasattr(flags, "os"))']);
  if (probe.output.trim().endsWith('False')) await writeFile(testFile, testSource.replace('flags.os.environ', 'os.environ'));
  else await symlink(path.join(suiteServers, 'tensorflow_model_server_test.py'), testFile);
  const wrapper = path.join(servers, 'tensorflow_model_server');
  await writeFile(wrapper, `#!/bin/sh\n# tfserve in tensorflow_model_server's place.\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} "$@"\n`);
  await chmod(wrapper, 0o755);
  return testFile;
}

/**
 * Test names and outcomes from absltest's lines ("[ RUN      ] Class.test",
 * "[       OK ] Class.test", "[  FAILED  ] Class.test" for failures and
 * errors, "[  SKIPPED ] Class.test - reason"). A test that started and has no
 * outcome line did not finish (Python died or was killed in it): a failure.
 */
function outcomes(output) {
  const result = new Map();
  for (const match of output.matchAll(/^\[\s*(RUN|OK|FAILED|SKIPPED)\s*\] \w+\.(\w+)(?: - .*)?$/gm)) {
    const [, tag, name] = match;
    result.set(name, { RUN: 'UNFINISHED', OK: 'ok', FAILED: 'FAIL', SKIPPED: 'skipped' }[tag]);
  }
  return result;
}

async function main() {
  if (!existsSync(SUITE_DIR)) {
    console.log(`test:tfserving skipped: ${SUITE_DIR} is absent (TF Serving's suite is read from ../shared beside the repository)`);
    return 0;
  }
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm install (or npm run build:ts) first`);
  const python = await ensurePythonSuite();
  // The TFLite tests need LiteRT (cached after the first time).
  tryProvisionLitert();
  const root = await mkdtemp(path.join(os.tmpdir(), 'tfserve-suite-'));
  try {
    const testFile = await layOut(root, python);
    const names = process.argv.slice(2).filter((arg) => !arg.startsWith('-'));
    log(`running TF Serving's model-server suite from ${path.relative(REPO_ROOT, SUITE_DIR)} (TEST_SRCDIR=${root})`);
    const started = Date.now();
    const env = {
      ...process.env,
      TEST_SRCDIR: root,
      PYTHONPATH: path.join(root, 'tf_serving'),
      // The Keras tests expect Keras 2's signature names (the README of the suite).
      TF_USE_LEGACY_KERAS: '1',
      TF_CPP_MIN_LOG_LEVEL: '2',
      PYTHONDONTWRITEBYTECODE: '1',
    };
    if (names.length > 0) env.TESTBRIDGE_TEST_ONLY = names.join(' ');
    const { code, output } = await run(python, [testFile], { env, cwd: root });
    await writeFile(path.join(REPO_ROOT, 'tf-serving-suite.log'), output);
    const results = outcomes(output);
    const failed = [...results].filter(([, outcome]) => outcome === 'FAIL' || outcome === 'UNFINISHED').map(([name]) => name);
    const unexpected = failed.filter((name) => !KNOWN_GAPS.has(name));
    const fixed = [...KNOWN_GAPS.keys()].filter((name) => results.get(name) === 'ok');
    for (const [name, outcome] of [...results].sort()) {
      const gap = KNOWN_GAPS.get(name);
      console.log(`  ${outcome.padEnd(7)} ${name}${outcome !== 'ok' && gap ? `  (known gap: ${gap})` : ''}`);
    }
    const summary = output.match(/^Ran \d+ tests? in [\d.]+s\n\n(?:OK|FAILED).*$/m)?.[0]?.replace(/\n\n/, ': ');
    console.log(summary ?? `(no unittest summary; exit code ${code})`);
    const passed = [...results.values()].filter((o) => o === 'ok').length;
    console.log(`TF Serving suite: ${passed} passed, ${failed.length} failed (${failed.length - unexpected.length} known gaps) in ${((Date.now() - started) / 1000).toFixed(0)} s; full log: tf-serving-suite.log`);
    if (fixed.length > 0) console.log(`now passing, drop from KNOWN_GAPS: ${fixed.join(', ')}`);
    if (results.size === 0) {
      console.log(`${output.split('\n').slice(-40).join('\n')}\nno test ran${names.length ? ` (none matches ${names.join(', ')})` : ''}`);
      return 1;
    }
    if (unexpected.length > 0) {
      console.log(`unexpected failures: ${unexpected.join(', ')}`);
      return 1;
    }
    // Python failed with no failed test to show for it (setUpClass, an import, a crash between tests).
    if (code !== 0 && failed.length === 0) {
      console.log(`${output.split('\n').slice(-40).join('\n')}\nthe suite exited with ${code} though no test failed`);
      return 1;
    }
    return 0;
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(`[tfserve] ${error.message}`);
    process.exit(1);
  },
);
