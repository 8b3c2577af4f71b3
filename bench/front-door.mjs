// Front-door cost: what the server's threads spend per request, by thread,
// under standard load tools, next to the embedded engine in the same run.
//
//   npm run bench:front-door -- [--seconds 10] [--clients 64] [--engine-workers N] [--front-door-threads N]
//                               [--model .fixtures/gaofei_cnn] [--skip-floor] [--json out.json]
//                               [--label NAME] [--docs [--before earlier.json[,...]] [--from report.json]]
//
// --docs writes the results as the "Front doors" section of
// docs/benchmarks.md (between markers the full bench keeps); --before adds
// earlier runs' --json reports (e.g. of an older tree; comma-separated) beside this one, each
// under its --label;
// --from writes the section from a saved --json report instead of measuring.
//
// Paths measured against the `tfserve` binary (its own process, batching as
// bench:grpc sets it, the CNN with one 28x28 image per request):
//   grpc tensor_content  ghz, 64 concurrent calls, the image as tensor_content
//   grpc float_val       ghz, the image as 784 float_val values
//   rest json            wrk, 64 connections, {"instances": [image]}
// and, as the floor of what the front door itself costs, the same tools
// against a process whose handlers answer at once with a fixed message
// (grpc-js with identity (de)serializers; node:http): what grpc-js's HTTP/2
// and node's HTTP/1 cost per request before any tfserve code runs.
//
// CPU per thread comes from /proc/<pid>/task/<tid>/stat (utime + stime)
// before and after each run, grouped: the main thread (tid = pid), and the
// others by thread name. Tools: `node scripts/install-tools.mjs` (ghz, wrk).
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { installTools, toolPath } from '../scripts/install-tools.mjs';
import { freePort } from '../scripts/free-port.mjs';
import { SWEEP_BATCHING, SWEEP_SESSION } from './contenders/tfserve.mjs';
import { closedLoop } from './lib/closed-loop.mjs';
import { FRONT_DOOR_END, FRONT_DOOR_START } from './lib/docs-sections.mjs';
import { DOCS_DIR, FIXTURES_DIR, REPO_ROOT } from './lib/paths.mjs';

const dist = (p) => path.join(REPO_ROOT, 'dist', 'src', p);
const PROTO_DIR = path.join(REPO_ROOT, 'proto');
const PREDICTION_PROTO = 'tensorflow_serving/apis/prediction_service.proto';

const { values: opts } = parseArgs({
  options: {
    clients: { type: 'string', default: '64' },
    seconds: { type: 'string', default: '10' },
    'engine-workers': { type: 'string' },
    'front-door-threads': { type: 'string' },
    label: { type: 'string' },
    model: { type: 'string', default: path.join(FIXTURES_DIR, 'gaofei_cnn') },
    'skip-floor': { type: 'boolean', default: false },
    'skip-embedded': { type: 'boolean', default: false },
    json: { type: 'string' },
    docs: { type: 'boolean', default: false },
    before: { type: 'string' },
    from: { type: 'string' },
    // Internal: run the floor server (fixed answers) and print its ports.
    'floor-server': { type: 'boolean', default: false },
  },
});

const TICKS_PER_SECOND = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
const WARMUP_SECONDS = 1;

// ---------------------------------------------------------------- /proc

/** CPU seconds by thread of `pid`: { tid: { name, seconds } }. */
function threadTimes(pid) {
  const out = new Map();
  let tids;
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    let stat;
    try {
      stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread exited
    }
    // comm is in parentheses and may hold spaces; the fields after it are space-separated.
    const open = stat.indexOf('(');
    const close = stat.lastIndexOf(')');
    const name = stat.slice(open + 1, close);
    const fields = stat.slice(close + 2).split(' ');
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the comm.
    const ticks = Number(fields[11]) + Number(fields[12]);
    out.set(tid, { name, seconds: ticks / TICKS_PER_SECOND });
  }
  return out;
}

/** The CPU seconds each group of threads used between two snapshots. */
function cpuByGroup(pid, before, after) {
  const groups = new Map();
  for (const [tid, { name, seconds }] of after) {
    const group = tid === String(pid) ? 'main thread' : name;
    const used = seconds - (before.get(tid)?.seconds ?? 0);
    groups.set(group, (groups.get(group) ?? 0) + used);
  }
  return groups;
}

/** CPU seconds of this process's children that have ended (cutime + cstime): the load tools, which run as one child each. */
function endedChildrenSeconds() {
  const stat = fs.readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // cutime and cstime are fields 16 and 17 of the whole line: 14 and 15 after the comm.
  return (Number(fields[13]) + Number(fields[14])) / TICKS_PER_SECOND;
}

async function measured(pid, requestsOf, load) {
  const before = threadTimes(pid);
  const toolBefore = endedChildrenSeconds();
  const result = await load();
  const after = threadTimes(pid);
  const toolSeconds = endedChildrenSeconds() - toolBefore;
  const requests = requestsOf(result);
  const groups = cpuByGroup(pid, before, after);
  const usPerRequest = {};
  let total = 0;
  for (const [group, seconds] of [...groups].sort((a, b) => b[1] - a[1])) {
    if (seconds <= 0) continue;
    usPerRequest[group] = requests > 0 ? (seconds * 1e6) / requests : null;
    total += seconds;
  }
  usPerRequest.total = requests > 0 ? (total * 1e6) / requests : null;
  // The load tool's own CPU (ghz, wrk) shares the same cores: the bill a request costs the machine is total + this.
  const loadToolUsPerRequest = requests > 0 ? (toolSeconds * 1e6) / requests : null;
  return { ...result, usPerRequest, loadToolUsPerRequest };
}

// ---------------------------------------------------------------- tools

function runTool(command, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`${path.basename(command)} exited with ${code}: ${stderr || stdout}`))));
  });
}

async function ghz(port, requestFile, clients, seconds) {
  const text = await runTool(toolPath('ghz'), [
    '--insecure',
    '--import-paths', PROTO_DIR,
    '--proto', path.join(PROTO_DIR, PREDICTION_PROTO),
    '--call', 'tensorflow.serving.PredictionService/Predict',
    '--binary-file', requestFile,
    '--concurrency', String(clients),
    '--duration', `${seconds}s`,
    // ghz stops at --total (200) before the duration unless it is 0.
    '--total', '0',
    // Calls still in flight when the duration ends are not counted (not as errors either).
    '--duration-stop', 'ignore',
    '--format', 'json',
    `127.0.0.1:${port}`,
  ]);
  const report = JSON.parse(text);
  const ok = report.statusCodeDistribution?.OK ?? 0;
  const ms = (ns) => ns / 1e6;
  const p = (q) => report.latencyDistribution?.find((d) => d.percentage === q)?.latency ?? NaN;
  return { requests: report.count, ok, errors: report.count - ok, rps: report.rps, p50Ms: ms(p(50)), p99Ms: ms(p(99)), errorSample: Object.keys(report.errorDistribution ?? {})[0] };
}

async function wrk(url, bodyFile, clients, seconds) {
  const script = path.join(path.dirname(bodyFile), 'post.lua');
  fs.writeFileSync(
    script,
    `wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nlocal f = io.open(${JSON.stringify(bodyFile)}, "rb")\nwrk.body = f:read("*a")\nf:close()\n`,
  );
  const threads = Math.max(1, Math.min(2, clients));
  const text = await runTool(toolPath('wrk'), ['-t', String(threads), '-c', String(clients), '-d', `${seconds}s`, '--latency', '-s', script, url]);
  const requests = Number(/(\d+) requests in/.exec(text)?.[1] ?? 0);
  const bad = Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const errors = bad + (socketErrors ? socketErrors.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1] ?? 0);
  const latency = (q) => {
    const m = new RegExp(`\\s${q}%\\s+([\\d.]+)(us|ms|s)`).exec(text);
    if (!m) return NaN;
    return Number(m[1]) * { us: 1e-3, ms: 1, s: 1e3 }[m[2]];
  };
  return { requests, ok: requests - bad, errors, rps, p50Ms: latency(50), p99Ms: latency(99) };
}

// ---------------------------------------------------------------- payloads

async function payloads(dir, image) {
  const { servingType } = await import(dist('serving/protos.js'));
  const PredictRequest = servingType('tensorflow.serving.PredictRequest');
  const shape = { dim: [{ size: 1 }, { size: 28 }, { size: 28 }] };
  const write = (name, tensor) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, PredictRequest.encode(PredictRequest.fromObject({ modelSpec: { name: 'cnn', signatureName: 'serving_default' }, inputs: { image: tensor } })).finish());
    return file;
  };
  const rows = [];
  for (let r = 0; r < 28; r++) rows.push(Array.from(image.subarray(r * 28, r * 28 + 28)));
  const json = path.join(dir, 'predict.json');
  fs.writeFileSync(json, JSON.stringify({ signature_name: 'serving_default', instances: [rows] }));
  return {
    tensorContent: write('tensor_content.bin', { dtype: 'DT_FLOAT', tensorShape: shape, tensorContent: Buffer.from(image.buffer, image.byteOffset, image.byteLength) }),
    floatVal: write('float_val.bin', { dtype: 'DT_FLOAT', tensorShape: shape, floatVal: Array.from(image) }),
    json,
  };
}

// ---------------------------------------------------------------- processes

/** Spawns a process that prints `ports: <grpc> <rest>` once ready (the floor), or tfserve's log lines. */
function waitFor(child, pattern) {
  return new Promise((resolve, reject) => {
    let output = '';
    const onData = (chunk) => {
      output += chunk;
      const match = pattern(output);
      if (match) {
        child.stdout.off('data', onData);
        child.stdout.resume();
        resolve(match);
      }
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => reject(new Error(`process exited with ${code}:\n${output}`)));
  });
}

async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}

async function startTfserve(dir, restPort) {
  const batchingFile = path.join(dir, 'batching.config');
  // TF Serving's batching file; tfserve's own busy timeout is a flag, and the sweep's session is TF Serving's thread flags.
  const { busyBatchTimeoutMicros, ...servingBatching } = SWEEP_BATCHING;
  fs.writeFileSync(
    batchingFile,
    Object.entries(servingBatching)
      .map(([key, value]) => `${key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)} { value: ${value} }\n`)
      .join(''),
  );
  const args = [
    dist('cli.js'),
    '--port=0',
    `--rest_api_port=${restPort}`,
    '--bind_address=127.0.0.1',
    '--model_name=cnn',
    `--model_base_path=${opts.model}`,
    '--enable_batching',
    `--batching_parameters_file=${batchingFile}`,
  ];
  if (busyBatchTimeoutMicros !== undefined) args.push(`--busy_batch_timeout_micros=${busyBatchTimeoutMicros}`);
  if (SWEEP_SESSION.intraOpThreads !== undefined) args.push(`--tensorflow_intra_op_parallelism=${SWEEP_SESSION.intraOpThreads}`);
  if (opts['engine-workers'] !== undefined) args.push(`--engine_workers=${opts['engine-workers']}`);
  if (opts['front-door-threads'] !== undefined) args.push(`--front_door_threads=${opts['front-door-threads']}`);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const grpcPort = await waitFor(child, (out) => {
    const port = Number(/Running gRPC ModelServer at 127\.0\.0\.1:(\d+)/.exec(out)?.[1] ?? 0);
    return port && /: AVAILABLE/.test(out) ? port : null;
  });
  return { child, grpcPort, restPort };
}

async function startFloor(restPort) {
  const child = spawn(process.execPath, [new URL(import.meta.url).pathname, '--floor-server', '--model', opts.model], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, FLOOR_REST_PORT: String(restPort) },
  });
  const grpcPort = await waitFor(child, (out) => Number(/ports: (\d+)/.exec(out)?.[1] ?? 0) || null);
  return { child, grpcPort, restPort };
}

/** The floor: grpc-js and node:http handlers that answer at once with a fixed, CNN-sized answer. */
async function floorServer() {
  const grpc = (await import('@grpc/grpc-js')).default;
  const http = await import('node:http');
  const { servingType } = await import(dist('serving/protos.js'));
  const PredictResponse = servingType('tensorflow.serving.PredictResponse');
  const answer = Buffer.from(
    PredictResponse.encode(
      PredictResponse.fromObject({
        modelSpec: { name: 'cnn', version: { value: 1 }, signatureName: 'serving_default' },
        outputs: { probabilities: { dtype: 'DT_FLOAT', tensorShape: { dim: [{ size: 1 }, { size: 10 }] }, floatVal: new Array(10).fill(0.1) } },
      }),
    ).finish(),
  );
  const json = Buffer.from(JSON.stringify({ predictions: [new Array(10).fill(0.1)] }));
  const identity = (b) => b;
  const server = new grpc.Server();
  server.addService(
    { Predict: { path: '/tensorflow.serving.PredictionService/Predict', requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity } },
    { Predict: (_call, callback) => callback(null, answer) },
  );
  const port = await new Promise((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  const rest = http.createServer((req, res) => {
    req.resume();
    req.once('end', () => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': json.length });
      res.end(json);
    });
  });
  await new Promise((resolve) => rest.listen(Number(process.env.FLOOR_REST_PORT), '127.0.0.1', resolve));
  console.log(`ports: ${port} ${process.env.FLOOR_REST_PORT}`);
  process.once('SIGTERM', () => {
    server.forceShutdown();
    rest.close();
    rest.closeAllConnections();
  });
}

// ---------------------------------------------------------------- runs

async function measureEmbedded(clients, seconds, image) {
  const { Engine } = await import(dist('index.js'));
  const workers = opts['engine-workers'] !== undefined ? Number(opts['engine-workers']) : undefined;
  const engine = await Engine.create(workers !== undefined ? { workers } : {});
  try {
    const model = await engine.load(opts.model, { batching: SWEEP_BATCHING, session: SWEEP_SESSION });
    let errors = 0;
    const call = () => model.predict({ image: { dtype: 'float32', shape: [1, 28, 28], data: image } }).catch(() => errors++);
    const cpuBefore = process.cpuUsage();
    const result = await closedLoop({ concurrency: clients, batch: 1, seconds, warmupSeconds: WARMUP_SECONDS, call });
    const cpu = process.cpuUsage(cpuBefore);
    // The whole process (callers, engine, TF) over warm-up and run, per request answered in the run: a close upper bound.
    const cpuUsPerRequest = result.calls > 0 ? ((cpu.user + cpu.system) * (seconds / (seconds + WARMUP_SECONDS))) / result.calls : null;
    return { requests: result.calls, errors, rps: result.examplesPerSecond, p50Ms: result.latencyUs.p50 / 1000, p99Ms: result.latencyUs.p99 / 1000, cpuUsPerRequest };
  } finally {
    await engine.close();
  }
}

async function measurePaths(server, files, clients, seconds) {
  const { pid } = server.child;
  const results = {};
  const runs = {
    'grpc tensor_content': (s) => ghz(server.grpcPort, files.tensorContent, clients, s),
    'grpc float_val': (s) => ghz(server.grpcPort, files.floatVal, clients, s),
    'rest json': (s) => wrk(`http://127.0.0.1:${server.restPort}/v1/models/cnn:predict`, files.json, clients, s),
  };
  for (const [name, run] of Object.entries(runs)) {
    await run(WARMUP_SECONDS); // JIT, workers and batchers warm before the measured run
    results[name] = await measured(pid, (r) => r.requests, () => run(seconds));
  }
  return results;
}

function show(title, results) {
  console.log(`\n${title}`);
  for (const [name, r] of Object.entries(results)) {
    const errors = r.errors ? `, ${r.errors} errors${r.errorSample ? ` (${r.errorSample})` : ''}` : '';
    console.log(`  ${name.padEnd(20)} ${r.rps.toFixed(0).padStart(6)} req/s  p50 ${r.p50Ms.toFixed(2)} ms  p99 ${r.p99Ms.toFixed(2)} ms  (${r.requests} requests${errors})`);
    if (!r.usPerRequest) {
      if (r.cpuUsPerRequest) console.log(`  ${''.padEnd(20)} CPU µs/request: process ${r.cpuUsPerRequest.toFixed(1)} (callers, engine and TF)`);
      continue;
    }
    const parts = Object.entries(r.usPerRequest).map(([group, us]) => `${group} ${us === null ? '-' : us.toFixed(1)}`);
    const tool = r.loadToolUsPerRequest ? `; load tool ${r.loadToolUsPerRequest.toFixed(1)}` : '';
    console.log(`  ${''.padEnd(20)} CPU µs/request: ${parts.join(', ')}${tool}`);
  }
}

async function main() {
  installTools(['ghz', 'wrk']);
  const clients = Number(opts.clients);
  const seconds = Number(opts.seconds);
  const reference = JSON.parse(fs.readFileSync(path.join(opts.model, 'reference.json'), 'utf8'));
  const image = Float32Array.from(reference.images[0]);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfserve-front-door-'));
  const report = { clients, seconds, cores: os.availableParallelism(), engineWorkers: opts['engine-workers'] ?? 'the server default', frontDoorThreads: opts['front-door-threads'] ?? 'the server default', ...(opts.label ? { label: opts.label } : {}), batching: SWEEP_BATCHING, session: SWEEP_SESSION };
  try {
    const files = await payloads(dir, image);
    if (!opts['skip-embedded']) report.embedded = await measureEmbedded(clients, seconds, image);
    const server = await startTfserve(dir, await freePort());
    try {
      report.tfserve = await measurePaths(server, files, clients, seconds);
    } finally {
      await stop(server.child);
    }
    if (!opts['skip-floor']) {
      const floor = await startFloor(await freePort());
      try {
        report.floor = await measurePaths(floor, files, clients, seconds);
      } finally {
        await stop(floor.child);
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  console.log(`CNN ${path.basename(opts.model)}, ${clients} concurrent clients, ${seconds} s per run, ${report.cores} cores, engine workers ${report.engineWorkers}, batching ${JSON.stringify(SWEEP_BATCHING)}`);
  if (report.embedded) show('embedded Engine predict() (in this process)', { 'engine predict': report.embedded });
  show('tfserve server (ghz for gRPC, wrk for REST)', report.tfserve);
  if (report.floor) show('floor: grpc-js / node:http handlers answering a fixed message at once', report.floor);
  if (report.embedded) {
    for (const name of ['grpc tensor_content', 'grpc float_val']) {
      console.log(`${name} / embedded throughput: ${(report.tfserve[name].rps / report.embedded.rps).toFixed(2)}`);
    }
  }
  if (opts.json) fs.writeFileSync(opts.json, `${JSON.stringify(report, null, 2)}\n`);
  if (opts.docs) writeDocsSection(report, befores());
}

// ---------------------------------------------------------------- docs

const PATHS = ['grpc tensor_content', 'grpc float_val', 'rest json'];

function cpuCell(us) {
  return us === undefined || us === null ? '-' : us.toFixed(0);
}

/** Rows of one report: throughput and CPU µs per request by thread group, per path. */
function reportRows(label, report) {
  const rows = [];
  const named = ['main thread', 'tfs-front', 'tfs-engine', 'tf-session', 'tfs-batch'];
  const add = (where, name, r) => {
    const us = r.usPerRequest ?? {};
    // Threads tfserve does not name: V8's platform threads, libuv's pool (and, before threads were named, all of them).
    const other = Object.entries(us).filter(([group]) => !named.includes(group) && group !== 'total');
    const cells = [...named.map((group) => cpuCell(us[group])), other.length ? cpuCell(other.reduce((sum, [, v]) => sum + (v ?? 0), 0)) : '-', cpuCell(us.total), cpuCell(r.loadToolUsPerRequest ?? undefined)];
    rows.push(`| ${label} | ${where} | ${name} | ${r.rps.toFixed(0)} | ${r.errors ?? 0} | ${cells.join(' | ')} |`);
  };
  for (const name of PATHS) if (report.tfserve?.[name]) add('tfserve', name, report.tfserve[name]);
  for (const name of PATHS) if (report.floor?.[name]) add('floor', name, report.floor[name]);
  if (report.embedded) rows.push(`| ${label} | embedded | Engine predict() | ${report.embedded.rps.toFixed(0)} | ${report.embedded.errors ?? 0} | - | - | - | - | - | - | ${cpuCell(report.embedded.cpuUsPerRequest ?? undefined)} | - |`);
  return rows;
}

function ratioLine(label, report) {
  if (!report.embedded) return null;
  const ratio = (name) => (report.tfserve[name].rps / report.embedded.rps).toFixed(2);
  return `- ${label}: gRPC / embedded throughput ${ratio('grpc tensor_content')} (tensor_content), ${ratio('grpc float_val')} (float_val).`;
}

/** Issue 10's targets, from the latest run. */
function targetLines(report) {
  const rows = [];
  const main = (name) => report.tfserve[name]?.usPerRequest?.['main thread'];
  for (const name of PATHS) {
    const us = main(name);
    if (us === undefined || us === null) continue;
    const floor = report.floor?.[name]?.usPerRequest?.['main thread'];
    rows.push(`| main-thread CPU per ${name} request | ≤ 50 µs | ${us.toFixed(0)} µs${floor ? ` (floor ${floor.toFixed(0)} µs)` : ''} | ${us <= 50 ? 'yes' : '**no**'} |`);
  }
  if (report.embedded) {
    for (const name of ['grpc tensor_content', 'grpc float_val']) {
      const ratio = report.tfserve[name].rps / report.embedded.rps;
      rows.push(`| gRPC throughput / embedded, ${name.replace('grpc ', '')} | ≥ 0.9 | ${ratio.toFixed(2)} | ${ratio >= 0.9 ? 'yes' : '**no**'} |`);
    }
  }
  return ['Targets (issue 10), latest run:', '', '| measure | goal | measured | met |', '|---|---|---|---|', ...rows];
}

/** The --before reports, oldest first. */
function befores() {
  return opts.before ? opts.before.split(',').map((file) => JSON.parse(fs.readFileSync(file, 'utf8'))) : [];
}

function writeDocsSection(report, before) {
  const file = path.join(DOCS_DIR, 'benchmarks.md');
  const runs = [...before.map((r, i) => [r.label ?? (before.length > 1 ? `before ${i + 1}` : 'before'), r]), [report.label ?? (before.length ? 'after' : 'this run'), report]];
  const lines = [
    FRONT_DOOR_START,
    '## Front doors: server CPU per request, by thread (issue 10)',
    '',
    `\`npm run bench:front-door\` (bench/front-door.mjs): the \`tfserve\` binary on the CNN (${report.clients} concurrent clients, ${report.seconds} s per path, batching ${JSON.stringify(report.batching)}${report.session ? `, session ${JSON.stringify(report.session)}` : ""}), driven by ghz for gRPC Predict (the 28x28 image as \`tensor_content\` and as 784 \`float_val\`) and by wrk for REST \`:predict\` (\`{"instances": [image]}\`); tools from \`node scripts/install-tools.mjs\`. CPU per thread from \`/proc/<pid>/task/*/stat\` (utime + stime) over each run, divided by the requests answered. **floor**: the same tools against grpc-js and node:http handlers that answer a fixed message at once: what the HTTP/2 and HTTP/1 framing alone costs the main thread. **embedded**: Engine predict() from ${report.clients} callers in the bench's own process, the same batching and session. **load tool µs**: the CPU ghz or wrk used per request (the same 2 cores serve both); the embedded row's total is the whole bench process (callers, engine and TF) per request.`,
    '',
    `Machine: ${report.cores} cores, shared with other work while measured (load from other processes moves these numbers by tens of percent); engine workers and front-door threads: ${runs.map(([l, r]) => `${l} ${r.engineWorkers} / ${r.frontDoorThreads ?? 0}`).join(', ')}.`,
    '',
    '| run | server | path | req/s | errors | main thread µs | front-door threads µs | engine workers µs | TF pools µs | batch threads µs | other µs | total µs | load tool µs |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...runs.flatMap(([label, r]) => reportRows(label, r)),
    '',
    ...runs.map(([label, r]) => ratioLine(label, r)).filter(Boolean),
    '',
    ...targetLines(report),
    '',
    FRONT_DOOR_END,
  ];
  const old = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmarks\n';
  const start = old.indexOf(FRONT_DOOR_START);
  const end = old.indexOf(FRONT_DOOR_END);
  const block = lines.join('\n');
  const next = start >= 0 && end > start ? `${old.slice(0, start)}${block}${old.slice(end + FRONT_DOOR_END.length)}` : `${old.trimEnd()}\n\n${block}\n`;
  fs.writeFileSync(file, next);
  console.log(`wrote the front-door section of ${path.relative(REPO_ROOT, file)}`);
}

if (opts['floor-server']) await floorServer();
else if (opts.from) writeDocsSection(JSON.parse(fs.readFileSync(opts.from, 'utf8')), befores());
else await main();
