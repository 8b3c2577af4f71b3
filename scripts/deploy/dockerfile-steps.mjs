// Runs the Dockerfile's steps without a container daemon, in a fresh
// directory, as `docker build` and `docker run` would, and says which steps
// ran, which were emulated, and which could not be:
//   node scripts/deploy/dockerfile-steps.mjs [--keep]      (as root: the run uses a network namespace)
//
// Build stage: the context (the repository filtered by .dockerignore) is
// copied into a fresh directory standing for the stage's root; WORKDIR, ENV
// and the RUN lines are carried out there (npm ci provisions libtensorflow,
// builds the addon and compiles the TypeScript; npm prune; the runtime tree).
// apt-get lines are not run (they would change this machine): the host's
// tools stand in, and the script says which.
// Runtime stage: its COPY and RUN lines assemble a second root; the build
// root is then deleted, so that nothing can reach back into it. The
// ENTRYPOINT starts with MODEL_NAME / MODEL_BASE_PATH set as `docker run -e`
// would, as USER's uid:gid, inside a network namespace of its own (so that
// TF Serving's fixed ports 8500/8501 are free, as in a container); the
// HEALTHCHECK's own command must turn healthy, a REST predict and the
// Prometheus path must answer, the gRPC port must accept, and SIGTERM must
// end the server with exit code 0.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

import dockerignore from '@balena/dockerignore';
import { DockerfileParser } from 'dockerfile-ast';

import { cacheDir } from '../libtensorflow.mjs';
import { log, seconds } from '../log.mjs';
import { REPO_ROOT, TF_SERVING_TESTDATA } from '../paths.mjs';

const SCRIPT = fileURLToPath(import.meta.url);
/** What the runtime base image (node:*-bookworm-slim) has of the shared libraries the addon and libtensorflow need. */
const SLIM_PACKAGES = new Set(['libc6', 'libstdc++6', 'libgcc-s1', 'zlib1g']);

const report = [];
function note(status, what, detail = '') {
  report.push({ status, what, detail });
  log(`${status.padEnd(9)} ${what}${detail ? `: ${detail}` : ''}`);
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: ['ignore', 'inherit', 'inherit'], ...options });
  if (result.error || result.status !== 0) {
    throw new Error(`${command} ${args.join(' ').slice(0, 200)} failed (${result.error?.message ?? `exit ${result.status}`})`);
  }
  return result;
}

/** The Dockerfile as stages of {keyword, args, text, from, flags, env} instructions. */
export function parseDockerfile(text) {
  const stages = [];
  for (const instruction of DockerfileParser.parse(text).getInstructions()) {
    const keyword = instruction.getKeyword();
    const step = {
      keyword,
      line: instruction.getRange().start.line + 1,
      args: instruction.getArguments().map((a) => a.getValue()),
      text: instruction.getArgumentsContent() ?? '',
    };
    if (keyword === 'FROM') {
      stages.push({ image: instruction.getArgumentsContent().split(/\s+/)[0], name: instruction.getBuildStage(), steps: [] });
      continue;
    }
    if (keyword === 'ARG' && stages.length === 0) continue;
    if (keyword === 'COPY') step.from = instruction.getFromFlag()?.getValue() ?? null;
    if (keyword === 'ENV') step.env = instruction.getProperties().map((p) => [p.getName(), p.getValue()]);
    if (keyword === 'HEALTHCHECK') step.flags = Object.fromEntries(instruction.getFlags().map((f) => [f.getName(), f.getValue()]));
    stages.at(-1).steps.push(step);
  }
  return stages;
}

/** The JSON (exec) form of CMD / ENTRYPOINT arguments. */
function execForm(text) {
  const match = /(\[[\s\S]*\])\s*$/.exec(text);
  if (!match) throw new Error(`expected the exec (JSON) form, got: ${text}`);
  return JSON.parse(match[1]);
}

/** Absolute paths in a shell line, moved under `root` (the stage's stand-in for /). */
function rooted(root, command) {
  return command.replace(/(^|\s)(\/[^\s;&|]*)/g, (_, lead, p) => `${lead}${path.join(root, p)}`);
}

function copyContext(contextDir, dest) {
  const ignore = dockerignore({ ignorecase: false }).add(fs.readFileSync(path.join(REPO_ROOT, '.dockerignore'), 'utf8'));
  let files = 0;
  const walk = (rel) => {
    for (const entry of fs.readdirSync(path.join(contextDir, rel), { withFileTypes: true })) {
      const relPath = path.posix.join(rel, entry.name);
      if (ignore.ignores(relPath)) continue;
      const from = path.join(contextDir, relPath);
      const to = path.join(dest, relPath);
      if (entry.isDirectory()) {
        fs.mkdirSync(to, { recursive: true });
        walk(relPath);
      } else {
        fs.mkdirSync(path.dirname(to), { recursive: true });
        fs.cpSync(from, to, { dereference: true });
        files++;
      }
    }
  };
  walk('');
  return files;
}

function seedWheelCache(cacheDirInBuild) {
  // The build's wheel download is served from this machine's cache (the same
  // wheel pip would fetch); unpacking, provisioning and everything after run for real.
  const hostWheels = path.join(cacheDir(), 'wheels');
  if (!fs.existsSync(hostWheels)) return 'no wheel cache on this machine: pip downloads the wheel';
  const dest = path.join(cacheDirInBuild, 'wheels');
  fs.mkdirSync(dest, { recursive: true });
  const wheels = fs.readdirSync(hostWheels).filter((f) => f.startsWith('tensorflow_cpu-'));
  for (const wheel of wheels) fs.symlinkSync(path.join(hostWheels, wheel), path.join(dest, wheel));
  return `pip's download served from this machine's wheel cache (${wheels.join(', ') || 'empty'})`;
}

/** Carries out one stage's steps under `root`. Returns what the runtime needs to start. */
function runStage(stage, { root, contextDir, stageRoots, env }) {
  let cwd = root;
  const image = { env: {}, user: null, expose: [], healthcheck: null, entrypoint: null };
  for (const step of stage.steps) {
    const where = `line ${step.line}: ${step.keyword} ${step.text.replace(/\s+/g, ' ').slice(0, 90)}`;
    switch (step.keyword) {
      case 'WORKDIR':
        cwd = path.join(root, step.args[0]);
        fs.mkdirSync(cwd, { recursive: true });
        note('ran', where, `-> ${cwd}`);
        break;
      case 'ENV':
        for (const [name, value] of step.env) {
          image.env[name] = value;
          env[name] = value.startsWith('/') ? path.join(root, value) : value;
        }
        if (env.TFSERVE_CACHE_DIR) note('ran', where, seedWheelCache(env.TFSERVE_CACHE_DIR));
        else note('ran', where);
        break;
      case 'COPY': {
        const [src, dest] = step.args;
        const target = dest.startsWith('/') ? path.join(root, dest) : path.join(cwd, dest);
        if (step.from) {
          fs.cpSync(path.join(stageRoots[step.from], src), target, { recursive: true, verbatimSymlinks: true });
          note('ran', where, `from stage '${step.from}'`);
        } else if (src === '.') {
          note('ran', where, `${copyContext(contextDir, target)} files of the context after .dockerignore`);
        } else {
          fs.mkdirSync(path.dirname(target), { recursive: true });
          fs.copyFileSync(path.join(contextDir, src), target);
          note('ran', where);
        }
        break;
      }
      case 'RUN': {
        const parts = step.text.split(/\s*&&\s*/).map((p) => p.trim());
        const skipped = parts.filter((p) => /^(apt-get|groupadd|useradd|rm -rf \/var\/lib\/apt)/.test(p));
        const kept = parts.filter((p) => !skipped.includes(p));
        if (kept.length > 0) {
          const started = Date.now();
          // The image's base directories that a step may write into.
          for (const dir of ['usr/local/bin', 'usr/bin', 'tmp']) fs.mkdirSync(path.join(root, dir), { recursive: true });
          run('sh', ['-c', kept.map((p) => rooted(root, p)).join(' && ')], { cwd, env });
          note('ran', `line ${step.line}: RUN ${kept.join(' && ').slice(0, 110)}`, `in ${seconds(started)}`);
        }
        if (skipped.length > 0) {
          const installs = skipped.filter((p) => /^apt-get install\b/.test(p))
            .flatMap((p) => p.split(/\s+/).slice(2).filter((t) => !t.startsWith('-')));
          const standIns = installs.length > 0 ? `; the host's tools stand in: ${hostTools(installs)}` : '';
          note('not run', `line ${step.line}: ${skipped.join(' && ').slice(0, 110)}`, `would change this machine${standIns}${/useradd/.test(skipped.join()) ? '; the server runs as USER\'s uid:gid instead' : ''}`);
        }
        break;
      }
      case 'USER':
        image.user = step.args[0].split(':').map(Number);
        note('emulated', where, 'the entrypoint runs with this uid:gid');
        break;
      case 'EXPOSE':
        image.expose = step.args.map(Number);
        note('checked', where, 'the ports the entrypoint must open');
        break;
      case 'HEALTHCHECK':
        image.healthcheck = { command: execForm(step.text), flags: step.flags };
        note('ran', where, 'its command is polled until healthy');
        break;
      case 'ENTRYPOINT':
        image.entrypoint = execForm(step.text);
        note('ran', where);
        break;
      default:
        note('not run', where, 'no meaning outside an image');
    }
  }
  return image;
}

function hostTools(packages) {
  const probes = { cmake: ['cmake', ['--version']], 'python3-pip': ['python3', ['-m', 'pip', '--version']] };
  return packages.map((pkg) => {
    const probe = probes[pkg];
    if (!probe) return `${pkg} (no probe)`;
    const result = spawnSync(probe[0], probe[1], { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`the build needs ${pkg}, which this machine lacks`);
    return `${pkg} = ${result.stdout.split('\n')[0].trim()}`;
  }).join(', ');
}

/** Every symlink under dir must resolve inside `inside`: the runtime tree needs nothing of the build's. */
function checkSelfContained(dir, inside) {
  let links = 0;
  const walk = (d) => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, entry.name);
      if (entry.isSymbolicLink()) {
        links++;
        const target = path.resolve(path.dirname(p), fs.readlinkSync(p));
        if (!target.startsWith(inside + path.sep)) throw new Error(`${p} links outside the runtime tree, to ${target}`);
      } else if (entry.isDirectory()) {
        walk(p);
      }
    }
  };
  walk(dir);
  return links;
}

/** The Debian packages that provide the shared libraries the addon loads (besides libtensorflow itself). */
function runtimeLibraryPackages(addon) {
  const ldd = spawnSync('ldd', [addon], { encoding: 'utf8' });
  if (ldd.status !== 0) throw new Error(`ldd ${addon} failed: ${ldd.stderr}`);
  const missing = ldd.stdout.split('\n').filter((l) => l.includes('not found'));
  if (missing.length > 0) throw new Error(`the addon's libraries do not all resolve:\n${missing.join('\n')}`);
  const files = ldd.stdout.split('\n').map((l) => /=>\s+(\/\S+)/.exec(l)?.[1]).filter((f) => f && !f.includes('libtensorflow'));
  const packages = new Set();
  for (const file of files) {
    const owner = spawnSync('dpkg', ['-S', fs.realpathSync(file)], { encoding: 'utf8' });
    const fallback = owner.status === 0 ? owner : spawnSync('dpkg', ['-S', file], { encoding: 'utf8' });
    if (fallback.status !== 0) throw new Error(`no Debian package owns ${file}: the slim image may lack it`);
    packages.add(fallback.stdout.split(':')[0]);
  }
  return [...packages].sort();
}

async function waitHealthy(healthcheck, spawnOptions, timeoutMs) {
  const [command, ...args] = healthcheck.command;
  const deadline = Date.now() + timeoutMs;
  let tries = 0;
  while (Date.now() < deadline) {
    tries++;
    const result = spawnSync(command, args, { ...spawnOptions, timeout: 3000 });
    if (result.status === 0) return tries;
    await sleep(500);
  }
  throw new Error(`the HEALTHCHECK command did not turn healthy in ${timeoutMs / 1000} s (${tries} tries)`);
}

function canConnect(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.end();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

/** Inside the network namespace: start the entrypoint, wait for the HEALTHCHECK, query, stop. */
async function runContainer(plan) {
  run('ip', ['link', 'set', 'lo', 'up']);
  const { image, runtimeRoot, modelBasePath } = plan;
  const [uid, gid] = image.user;
  const env = {
    ...image.env,
    MODEL_BASE_PATH: modelBasePath,
    MODEL_NAME: 'half_plus_two',
    // The image's PATH, with its directories under the runtime root; node from this machine stands in for the base image's.
    PATH: [path.join(runtimeRoot, 'usr/local/bin'), path.join(runtimeRoot, 'usr/bin'), path.dirname(process.execPath), '/usr/bin', '/bin'].join(':'),
    HOME: '/nonexistent',
  };
  const [entry, ...entryArgs] = image.entrypoint;
  const passThrough = ['--rest_api_timeout_in_ms=5000', `--monitoring_config_file=${path.join(runtimeRoot, 'etc/tfserve/monitoring.config')}`];
  const started = Date.now();
  const server = spawn(path.join(runtimeRoot, entry), [...entryArgs, ...passThrough], { env, uid, gid, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  server.stdout.on('data', (d) => (output += d));
  server.stderr.on('data', (d) => (output += d));
  const exited = new Promise((resolve) => server.on('exit', (code, signal) => resolve({ code, signal })));
  const results = {};
  try {
    const startPeriod = parseInt(image.healthcheck.flags['start-period'] ?? '60', 10);
    results.healthcheckTries = await waitHealthy(image.healthcheck, { env, uid, gid }, startPeriod * 1000);
    results.healthySeconds = (Date.now() - started) / 1000;
    const status = fs.readFileSync(`/proc/${server.pid}/status`, 'utf8');
    results.uid = Number(/^Uid:\s+(\d+)/m.exec(status)[1]);
    const rest = image.expose[1];
    const predict = await fetch(`http://127.0.0.1:${rest}/v1/models/half_plus_two:predict`, { method: 'POST', body: JSON.stringify({ instances: [1, 2, 5] }) });
    results.predict = { status: predict.status, body: await predict.json() };
    const metrics = await fetch(`http://127.0.0.1:${rest}/monitoring/prometheus/metrics`);
    results.metrics = { status: metrics.status, hasRequestCount: (await metrics.text()).includes(':tensorflow:serving:request_count') };
    results.grpcPortOpen = await canConnect(image.expose[0]);
    server.kill('SIGTERM');
    results.exit = await Promise.race([exited, sleep(30000).then(() => ({ code: null, signal: 'timeout' }))]);
  } finally {
    if (server.exitCode === null) server.kill('SIGKILL');
  }
  results.output = output.split('\n').slice(0, 12).join('\n');
  process.stdout.write(`${JSON.stringify(results)}\n`);
}

async function main() {
  const dockerfile = fs.readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8');
  const stages = parseDockerfile(dockerfile);
  if (stages.length !== 2) throw new Error(`expected a build and a runtime stage, found ${stages.length}`);
  if (process.getuid?.() !== 0) throw new Error('run as root: the image\'s USER and its own network namespace (for ports 8500/8501) need it');
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tfserve-dockerfile-'));
  fs.chmodSync(work, 0o755);
  const started = Date.now();
  log(`running the Dockerfile's steps in ${work}`);
  const [build, runtime] = stages;
  const buildRoot = path.join(work, 'build-root');
  const runtimeRoot = path.join(work, 'runtime-root');
  note('emulated', `FROM ${build.image} AS ${build.name}`, `this machine (${fs.readFileSync('/etc/os-release', 'utf8').match(/PRETTY_NAME="([^"]+)"/)?.[1]}, node ${process.version}) stands in`);
  const buildEnv = { ...process.env };
  delete buildEnv.TFSERVE_LIBTENSORFLOW_DIR;
  runStage(build, { root: buildRoot, contextDir: REPO_ROOT, stageRoots: {}, env: buildEnv });
  const provisioned = JSON.parse(fs.readFileSync(path.join(buildRoot, 'src', 'deps', 'libtensorflow.json'), 'utf8'));
  note('checked', 'libtensorflow provisioned by npm ci', `${provisioned.source}`);

  note('emulated', `FROM ${runtime.image}`, 'a fresh directory; node and the C/C++ runtime libraries of this machine stand in');
  const image = runStage(runtime, { root: runtimeRoot, contextDir: REPO_ROOT, stageRoots: { [build.name]: buildRoot }, env: { ...process.env } });
  fs.rmSync(buildRoot, { recursive: true, force: true });
  note('checked', 'the build stage deleted before the run', 'the runtime tree stands alone');
  const links = checkSelfContained(path.join(runtimeRoot, 'app'), path.join(runtimeRoot, 'app'));
  note('checked', 'no link leaves /app', `${links} symlinks, all inside`);
  // The server loads the op libraries its install record lists (TF Text's) before any model.
  const record = JSON.parse(fs.readFileSync(path.join(runtimeRoot, 'app', 'deps', 'libtensorflow.json'), 'utf8'));
  const missingOps = (record.opLibraries ?? []).filter((link) => !fs.existsSync(path.join(runtimeRoot, 'app', 'deps', 'libtensorflow', link)));
  if (missingOps.length > 0) throw new Error(`the runtime tree lacks op libraries its deps/libtensorflow.json lists: ${missingOps.join(', ')}`);
  note('checked', 'op libraries in /app', `${record.opLibraries?.length ?? 0} listed in deps/libtensorflow.json, all present`);
  const packages = runtimeLibraryPackages(path.join(runtimeRoot, 'app', 'build', 'Release', 'tfserve.node'));
  const extra = packages.filter((p) => !SLIM_PACKAGES.has(p));
  if (extra.length > 0) throw new Error(`the addon needs ${extra.join(', ')}, which the slim runtime image lacks`);
  note('checked', 'shared libraries of the addon', `libtensorflow from /app, the rest from ${packages.join(', ')} (all in the slim base)`);
  // Neither dev dependencies nor those only the install script needs.
  const notNeeded = ['typescript', 'kubernetes-models', 'fast-check', 'cmake-js', 'node-addon-api'].filter((d) => fs.existsSync(path.join(runtimeRoot, 'app', 'node_modules', d)));
  if (notNeeded.length > 0) throw new Error(`packages the server does not load are in the runtime tree: ${notNeeded.join(', ')}`);
  const installed = fs.readdirSync(path.join(runtimeRoot, 'app', 'node_modules')).flatMap((d) => (d.startsWith('@') ? fs.readdirSync(path.join(runtimeRoot, 'app', 'node_modules', d)).map((n) => `${d}/${n}`) : [d]));
  note('checked', '/app/node_modules', `${installed.length} packages, no dev or build-only dependency`);

  const modelBasePath = path.join(work, 'models');
  fs.cpSync(path.join(TF_SERVING_TESTDATA, 'saved_model_half_plus_two_cpu'), path.join(modelBasePath, 'half_plus_two'), { recursive: true });
  spawnSync('chmod', ['-R', 'a+rX', work]);
  const planFile = path.join(work, 'plan.json');
  fs.writeFileSync(planFile, JSON.stringify({ image, runtimeRoot, modelBasePath }));
  const inside = spawnSync('unshare', ['--net', '--', process.execPath, SCRIPT, '--inside', planFile], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 240000 });
  if (inside.status !== 0) throw new Error(`the run inside the network namespace failed (exit ${inside.status})`);
  const results = JSON.parse(inside.stdout.trim().split('\n').pop());
  const problems = [];
  if (results.uid !== image.user[0]) problems.push(`server ran as uid ${results.uid}, not ${image.user[0]}`);
  if (results.predict.status !== 200 || JSON.stringify(results.predict.body.predictions) !== '[2.5,3,4.5]') problems.push(`predict answered ${JSON.stringify(results.predict)}`);
  if (results.metrics.status !== 200 || !results.metrics.hasRequestCount) problems.push(`metrics answered ${JSON.stringify(results.metrics)}`);
  if (!results.grpcPortOpen) problems.push(`gRPC port ${image.expose[0]} is closed`);
  if (results.exit.code !== 0) problems.push(`SIGTERM ended the server with ${JSON.stringify(results.exit)}`);
  note(problems.length ? 'FAILED' : 'checked', 'docker run -e MODEL_NAME=half_plus_two -e MODEL_BASE_PATH=... IMAGE --rest_api_timeout_in_ms=5000 --monitoring_config_file=...',
    `uid ${results.uid}; HEALTHCHECK healthy after ${results.healthySeconds.toFixed(1)} s (${results.healthcheckTries} tries); predict -> ${JSON.stringify(results.predict.body)}; metrics ${results.metrics.status}; gRPC port open: ${results.grpcPortOpen}; SIGTERM -> exit ${results.exit.code}`);
  if (problems.length > 0) {
    console.error(results.output);
    throw new Error(problems.join('; '));
  }
  if (!process.argv.includes('--keep')) fs.rmSync(work, { recursive: true, force: true });
  console.log('\nDockerfile steps:');
  for (const r of report) console.log(`  ${r.status.padEnd(9)} ${r.what}${r.detail ? `\n            ${r.detail}` : ''}`);
  console.log(`all steps passed (${seconds(started)})`);
}

if (process.argv[1] === SCRIPT) {
  const at = process.argv.indexOf('--inside');
  (at > 0 ? runContainer(JSON.parse(fs.readFileSync(process.argv[at + 1], 'utf8'))) : main()).catch((error) => {
    log(`dockerfile steps failed: ${error.message}`);
    process.exit(1);
  });
}
