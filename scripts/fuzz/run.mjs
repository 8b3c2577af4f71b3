// The fuzzer: a real tfserve server, structure-aware and raw-byte mutations
// of gRPC messages and REST bodies, a liveness and answer check after every
// request, a known-good request every few hundred. See docs/fuzzing.md.
//
//   npm run fuzz -- [--seconds 60] [--seed 1] [--concurrency 8] [--out DIR]
//   npm run fuzz -- --replay FILE      (one saved failure, against a fresh server)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { makeFixtures } from '../make-fixtures.mjs';
import { Clients } from './clients.mjs';
import { goodGrpcPredict, grpcCase, predictOutputs } from './grpc-cases.mjs';
import { FIXTURE_NAMES, fuzzModels } from './models.mjs';
import { goodRestPredict, restCase } from './rest-cases.mjs';
import { Rng } from './rng.mjs';
import { v2GrpcCase, v2RestCase } from './v2-cases.mjs';
import { FuzzServer } from './server.mjs';

const { values: opts } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    seed: { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '8' },
    'good-every': { type: 'string', default: '250' },
    'rest-timeout-ms': { type: 'string', default: '2000' },
    'max-crashes': { type: 'string', default: '10' },
    out: { type: 'string' },
    replay: { type: 'string' },
  },
});

const SECONDS = Number(opts.seconds);
const SEED = Number(opts.seed) >>> 0;
const CONCURRENCY = Number(opts.concurrency);
const GOOD_EVERY = Number(opts['good-every']);
const MAX_CRASHES = Number(opts['max-crashes']);
// A mistyped number would otherwise make a run of 0 requests that passes.
for (const [name, value, min] of [['seconds', SECONDS, 0], ['concurrency', CONCURRENCY, 1], ['good-every', GOOD_EVERY, 0], ['max-crashes', MAX_CRASHES, 1], ['rest-timeout-ms', Number(opts['rest-timeout-ms']), 1]]) {
  if (!(Number.isFinite(value) && value >= min && (name === 'seconds' || Number.isInteger(value)))) {
    console.error(`fuzz: --${name} must be ${name === 'seconds' ? 'a number' : 'an integer'} >= ${min} (got '${opts[name]}')`);
    process.exit(2);
  }
}
if (!Number.isInteger(Number(opts.seed))) {
  console.error(`fuzz: --seed must be an integer (got '${opts.seed}')`);
  process.exit(2);
}
const OUT_DIR = opts.out ?? path.join(os.tmpdir(), `tfserve-fuzz-seed${SEED}-${process.pid}`);
const SAVED_PER_KIND = 3;
const EXPECTED_GOOD = [2.5, 3, 4.5];
/** How long after an answer a dying server is given to be seen dead. */
const CRASH_SETTLE_MS = 300;
/** How long a dropped connection waits for the server's exit to be seen. */
const DEATH_WAIT_MS = 2000;
/** Requests sent last that are suspects when the server dies, beside those in flight. */
const RECENT_SUSPECTS = 64;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Request `index` of the run: a pure function of (seed, index). */
function requestAt(models, index) {
  if (GOOD_EVERY > 0 && index % GOOD_EVERY === 0) return (index / GOOD_EVERY) % 2 ? goodGrpcPredict() : goodRestPredict();
  const rng = Rng.forRequest(SEED, index);
  // One request in five speaks the Open Inference Protocol v2.
  if (rng.chance(0.2)) return rng.chance(0.5) ? v2GrpcCase(rng, models) : v2RestCase(rng, models);
  return rng.chance(0.5) ? grpcCase(rng, models) : restCase(rng, models);
}

function describeRequest(request) {
  return request.door === 'grpc' ? `gRPC ${request.method} (${request.body.length} bytes)` : `REST ${request.httpMethod} ${request.path.slice(0, 120)} (${request.body?.length ?? 0} bytes)`;
}

function serializeRequest(request) {
  const { body, ...rest } = request;
  return { ...rest, body_base64: body ? body.toString('base64') : null };
}

function deserializeRequest(saved) {
  const { body_base64: b64, ...rest } = saved;
  return { ...rest, body: b64 === null || b64 === undefined ? undefined : Buffer.from(b64, 'base64') };
}

/** The error message of an answer, shortened, for people and for grouping. */
function answerText(outcome) {
  if (outcome.details !== undefined) return outcome.details;
  if (!outcome.body) return '';
  const text = outcome.body.subarray(0, 4000).toString('utf8');
  try {
    const parsed = JSON.parse(outcome.body.toString('utf8'));
    if (parsed && typeof parsed.error === 'string') return parsed.error;
  } catch {
    // not JSON: the raw text is what there is to show
  }
  return text;
}

/**
 * JSON as TF Serving writes it: its writer puts NaN and Infinity as bare
 * tokens, so those are taken (as null) where a value goes. undefined if not JSON.
 */
function parseServingJson(body) {
  const text = body.toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    try {
      return JSON.parse(text.replace(/([[,:]\s*)(?:-?Infinity|NaN)(?=\s*[\],}])/g, '$1null'));
    } catch {
      return undefined;
    }
  }
}

/** What is wrong with an answer, or undefined if it is a valid one. */
function checkAnswer(request, outcome) {
  if (outcome.hung) return `hang: no answer in ${outcome.ms} ms`;
  // The server's own failure, what REST answers 500 for: no client request may cause it.
  if (outcome.door === 'grpc') return SERVER_FAULT_CODES.has(outcome.status) ? `gRPC ${outcome.status}` : undefined;
  if (typeof outcome.status !== 'number') return `no HTTP answer (${outcome.status})`;
  if (request.httpMethod !== 'HEAD' && parseServingJson(outcome.body) === undefined) return `HTTP ${outcome.status} with a body that is not JSON`;
  if (outcome.status >= 500 && outcome.status !== 503 && outcome.status !== 504) return `HTTP ${outcome.status}`;
  return undefined;
}

/** gRPC codes that mean the server failed, not the request (REST's 5xx other than 503/504). */
const SERVER_FAULT_CODES = new Set(['INTERNAL', 'UNKNOWN', 'DATA_LOSS']);

/** Deliberate overload or a timeout: gRPC UNAVAILABLE / DEADLINE_EXCEEDED, HTTP 503 / 504. */
function isOverload(outcome) {
  return ['UNAVAILABLE', 'DEADLINE_EXCEEDED', 503, 504, '503', '504'].includes(outcome.status);
}

function checkGood(request, outcome) {
  let got;
  try {
    if (outcome.status === 'OK') got = predictOutputs(outcome.body);
    else if (outcome.status === 200) got = JSON.parse(outcome.body.toString('utf8')).predictions?.flat(Infinity);
  } catch (error) {
    return `known-good ${request.door} answer unreadable: ${error.message}`;
  }
  const right = Array.isArray(got) && got.length === 3 && got.every((v, i) => Math.abs(v - EXPECTED_GOOD[i]) < 1e-5);
  return right ? undefined : `known-good ${request.door} predict: ${outcome.status} ${JSON.stringify(got) ?? answerText(outcome).slice(0, 200)}`;
}

/** The line a dying server printed last about why: TF's fatal check, V8's fatal error, a signal. */
function fatalLine(output) {
  const lines = output.split('\n').filter((l) => / F [\w/.]+:\d+\]|FATAL ERROR|Check failed|terminate called|Segmentation|Aborted/.test(l));
  return (lines[lines.length - 1] ?? '').replace(/^.*?\] /, '').trim().slice(0, 200);
}

/** A failure's group: its kind, door and status, and its message with numbers blurred. */
function failureKey(kind, request, outcome) {
  const text = answerText(outcome ?? {}).replace(/\d+/g, 'N').replace(/'[^']*'/g, "'…'").replace(/key: \S+/g, 'key: …').slice(0, 100);
  const route = request.method ?? (/(:\w+|\/metadata)\/?$/.exec(request.path)?.[1] ?? request.path.slice(0, 30));
  return `${kind} | ${request.door} ${route} | ${outcome?.status ?? ''} | ${text}`;
}

class Report {
  constructor() {
    this.groups = new Map();
    this.total = 0;
    this.counts = { grpc: new Map(), rest: new Map() };
    this.goodPassed = 0;
    this.crashes = [];
  }

  count(outcome) {
    const m = this.counts[outcome.door];
    m.set(outcome.status, (m.get(outcome.status) ?? 0) + 1);
  }

  save(name, record) {
    fs.mkdirSync(OUT_DIR, { recursive: true });
    const file = path.join(OUT_DIR, name);
    fs.writeFileSync(file, JSON.stringify(record, null, 1));
    return file;
  }

  /** Records a failure; prints and saves the first few of each group. */
  fail(kind, index, request, outcome, symptom, extra = {}) {
    this.total++;
    const key = failureKey(kind, request, outcome);
    let group = this.groups.get(key);
    if (!group) {
      group = { key, kind, symptom, count: 0, files: [], first: { index, what: request.what, request: describeRequest(request), answer: answerText(outcome ?? {}).slice(0, 300) } };
      this.groups.set(key, group);
      console.log(`FAILURE ${kind}: ${symptom}\n  request #${index}: ${request.what}\n  ${describeRequest(request)}\n  answer: ${group.first.answer}`);
    }
    group.count++;
    if (group.files.length < SAVED_PER_KIND) {
      const file = this.save(`${kind}-${this.groups.size}-${index}.json`, { seed: SEED, index, kind, symptom, what: request.what, request: serializeRequest(request), answer: { status: outcome?.status, text: answerText(outcome ?? {}).slice(0, 2000) }, ...extra });
      group.files.push(file);
      if (group.count === 1) console.log(`  saved: ${file}`);
    }
  }
}

/** The fuzz server, not yet started: its fixtures made first, and killed whenever the fuzzer ends. */
async function newServer() {
  // The project's own fixture step: a fresh clone has none of them yet (cached when it has).
  await makeFixtures({ only: FIXTURE_NAMES });
  const models = fuzzModels();
  const server = new FuzzServer(models, { restTimeoutMs: Number(opts['rest-timeout-ms']) });
  process.once('exit', () => server.child?.kill('SIGKILL'));
  // Ctrl-C or a CI job's SIGTERM: 'exit' does not run on a signal's default action.
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      server.child?.kill('SIGKILL');
      server.cleanup();
      process.exit(130);
    });
  }
  return { server, models };
}

async function replay(file) {
  const saved = JSON.parse(fs.readFileSync(file, 'utf8'));
  const request = deserializeRequest(saved.request);
  const { server } = await newServer();
  await server.start();
  const together = (saved.suspects ?? []).map((x) => deserializeRequest(x.request));
  const clients = new Clients(server, Math.max(1, together.length));
  console.log(`replaying ${file}\n  ${request.what}\n  ${describeRequest(request)}${together.length ? `\n  together with the ${together.length} requests in flight at the crash` : ''}`);
  const [outcome] = await Promise.all([clients.send(request), ...together.map((r) => clients.send(r))]);
  await sleep(CRASH_SETTLE_MS);
  console.log(`answer: ${outcome.status} in ${outcome.ms} ms: ${answerText(outcome).slice(0, 1000)}`);
  const problem = !server.alive ? `server died (${server.exitText()}):\n${server.tail()}` : checkAnswer(request, outcome);
  console.log(problem ? `FAILURE: ${problem}` : 'the server gave a valid answer and is alive');
  clients.close();
  await server.stop();
  server.cleanup();
  process.exitCode = problem ? 1 : 0;
}

async function fuzz() {
  const { server, models } = await newServer();
  const report = new Report();
  const started0 = Date.now();
  await server.start();
  console.log(`fuzz: tfserve up in ${((Date.now() - started0) / 1000).toFixed(1)} s (gRPC ${server.grpcPort}, REST ${server.restPort}); seed ${SEED}, ${SECONDS} s, concurrency ${CONCURRENCY}; failures saved under ${OUT_DIR}`);
  const clients = new Clients(server, CONCURRENCY);

  const started = Date.now();
  const endAt = started + SECONDS * 1000;
  let next = 0;
  let sent = 0;
  let stopped = false;
  const inFlight = new Map();
  const recent = [];
  let recovering;
  /** Bumped when a crash is seen and when the restarted server is up. */
  let epoch = 0;

  /** The server died: record it, restart, find the request that kills it by replaying the suspects one at a time. */
  async function recover() {
    const exit = server.exitText();
    const tail = server.tail();
    // In flight first, then the most recent: a request answered 504 may still be running when it kills the server.
    const suspects = [...inFlight.entries(), ...recent.filter(([i]) => !inFlight.has(i)).reverse()];
    const crash = { exit, tail, suspects: suspects.map(([i]) => i), culprit: undefined };
    report.crashes.push(crash);
    console.log(`CRASH: tfserve ${exit}; server output ends with:\n${tail.split('\n').slice(-6).join('\n')}\n  ${suspects.length} suspect requests; restarting to find the one`);
    const restart = async () => {
      await server.start();
      clients.open();
    };
    await restart();
    for (const [index, request] of suspects) {
      if (Date.now() > endAt + 60_000) break;
      const outcome = await clients.send(request);
      // An answer that came back was served in full: a short look suffices; a dropped one waits for the exit.
      if (outcome.status === 'UNAVAILABLE' || String(outcome.status).startsWith('error:')) await diedSoon();
      else await sleep(50);
      if (!server.alive) {
        crash.culprit = index;
        report.fail('crash', index, request, { status: outcome.status, details: fatalLine(server.tail()) }, `server ${server.exitText()}: ${fatalLine(server.tail())}`, { serverOutput: server.tail() });
        console.log(`  server output: ${server.tail().split('\n').slice(-4).join('\n  ')}`);
        await restart();
        break;
      }
    }
    if (crash.culprit === undefined) {
      const [index, request] = suspects[0] ?? [-1, { door: 'none', what: 'none', path: '' }];
      // Saved with every suspect: --replay sends them all at once, as they were sent.
      report.fail('crash', index, request, { status: 'crash', details: fatalLine(tail) }, `server ${exit}: ${fatalLine(tail)}; no single suspect reproduces it alone (suspects ${crash.suspects.join(', ')})`, {
        serverOutput: tail,
        suspects: suspects.map(([i, r]) => ({ index: i, what: r.what, request: serializeRequest(r) })),
      });
    }
    if (report.crashes.length >= MAX_CRASHES) {
      console.log(`stopping: ${report.crashes.length} crashes (--max-crashes ${MAX_CRASHES})`);
      stopped = true;
    }
  }

  /** Waits (briefly) for a server that dropped a connection to be seen dead. */
  async function diedSoon() {
    for (let waited = 0; waited < DEATH_WAIT_MS && server.alive; waited += 50) await sleep(50);
    return !server.alive;
  }

  const startRecovery = () => {
    if (!recovering) {
      epoch++;
      // A server that will not start again ends the run, which still reports (the final check fails).
      const recovered = recover().catch((error) => {
        console.log(`fuzz: stopping, tfserve did not restart: ${error.message}`);
        stopped = true;
      });
      recovering = recovered.finally(() => {
        epoch++;
        recovering = undefined;
      });
    }
  };

  async function worker() {
    while (!stopped && Date.now() < endAt) {
      if (recovering) await recovering;
      if (stopped) break;
      const index = next++;
      const request = requestAt(models, index);
      const sentAt = epoch;
      inFlight.set(index, request);
      recent.push([index, request]);
      if (recent.length > RECENT_SUSPECTS) recent.shift();
      let outcome = await clients.send(request);
      inFlight.delete(index);
      sent++;
      // Answers that straddle a crash or a restart are the crash's, not failures of their own.
      if (!server.alive) startRecovery();
      if (recovering || epoch !== sentAt) continue;
      report.count(outcome);
      if (process.env.FUZZ_SLOW && outcome.ms > Number(process.env.FUZZ_SLOW)) console.log(`slow ${outcome.ms} ms #${index} ${outcome.status}: ${request.what.slice(0, 100)}`);
      const isGood = GOOD_EVERY > 0 && index % GOOD_EVERY === 0;
      let problem = isGood ? checkGood(request, outcome) : checkAnswer(request, outcome);
      // Overload is an answer, not a failure: a known-good request refused
      // because fuzz traffic filled a batch queue (UNAVAILABLE / 503) or ran
      // past a deadline (504) is asked again, a few times, after a pause.
      for (let retry = 0; isGood && problem && isOverload(outcome) && retry < 5 && server.alive; retry++) {
        await new Promise((done) => setTimeout(done, 200 * (retry + 1)));
        // The last answer is the one reported (and looked at for a dying server) below.
        outcome = await clients.send(request);
        problem = checkGood(request, outcome);
      }
      if (problem) {
        // A dying server drops connections before its exit is seen: look again before blaming the answer.
        const dropped = outcome.status === 'UNAVAILABLE' || String(outcome.status).startsWith('error:') || /RST_STREAM/.test(outcome.details ?? '');
        if ((dropped || isGood) && (await diedSoon())) {
          startRecovery();
          continue;
        }
        if (recovering || epoch !== sentAt) continue;
        report.fail(isGood ? 'wrong-good-answer' : outcome.hung ? 'hang' : 'bad-answer', index, request, outcome, problem);
      } else if (isGood) {
        report.goodPassed++;
      }
    }
  }

  const progress = setInterval(() => {
    const s = (Date.now() - started) / 1000;
    process.stderr.write(`[fuzz] ${s.toFixed(0)} s: ${sent} requests (${(sent / s).toFixed(0)}/s), ${report.total} failures, ${report.crashes.length} crashes\n`);
  }, 10_000);
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  if (recovering) await recovering;
  clearInterval(progress);
  const elapsed = (Date.now() - started) / 1000;

  // A last known-good check, and the server must still be up.
  const lastGood = await clients.send(goodRestPredict());
  const lastProblem = server.alive ? checkGood(goodRestPredict(), lastGood) : `server ${server.exitText()}`;
  if (lastProblem) report.fail('wrong-good-answer', -1, goodRestPredict(), lastGood, `final check: ${lastProblem}`);
  else report.goodPassed++;
  clients.close();
  await server.stop();
  server.cleanup();

  const line = (door) => [...report.counts[door].entries()].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ');
  const doorTotal = (door) => [...report.counts[door].values()].reduce((a, b) => a + b, 0);
  console.log(`\nfuzz summary (seed ${SEED}, concurrency ${CONCURRENCY})`);
  console.log(`  requests: ${sent} in ${elapsed.toFixed(1)} s (${(sent / elapsed).toFixed(0)} requests/s), server starts: ${server.starts}`);
  console.log(`  gRPC (${doorTotal('grpc')}): ${line('grpc')}`);
  console.log(`  REST (${doorTotal('rest')}): ${line('rest')}`);
  console.log(`  known-good checks: ${report.goodPassed} passed, ${[...report.groups.values()].filter((g) => g.kind === 'wrong-good-answer').reduce((a, g) => a + g.count, 0)} failed`);
  console.log(`  crashes: ${report.crashes.length}; failures: ${report.total} in ${report.groups.size} kinds`);
  for (const g of report.groups.values()) {
    console.log(`    ${g.count}x [${g.kind}] ${g.symptom}\n      first #${g.first.index}: ${g.first.what}\n      ${g.first.request}; answer: ${g.first.answer.slice(0, 160)}\n      replay: npm run fuzz -- --replay ${g.files[0] ?? '(not saved)'}`);
  }
  console.log(`fuzz: ${sent} requests, ${report.total} failures${report.total ? ` (saved under ${OUT_DIR})` : ''}`);
  process.exitCode = report.total ? 1 : 0;
}

if (opts.replay) await replay(opts.replay);
else await fuzz();
