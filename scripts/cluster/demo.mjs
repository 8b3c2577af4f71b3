// npm run demo:cluster [-- --quick] [-- --json]
//
// Three tfserve replicas on free loopback ports behind HAProxy (Debian's
// package; installed when missing and run as root), balancing REST (HTTP/1)
// and gRPC (h2c) per request, by each replica's readiness (/readyz). Under
// REST + gRPC Predict load it shows, with the figures in a table:
//   1. the load spread over the replicas (each replica's own Prometheus
//      request count, and HAProxy's per-server totals);
//   2. a rolling restart, one replica at a time: drained in HAProxy (runtime
//      API: set server ... state drain), SIGTERM, started again, ready, back
//      in (state ready), with 0 failed requests;
//   3. the same with a new model version (00000124 next to 00000123):
//      every replica ends on the new version, 0 failed requests;
//   4. a replica killed with SIGKILL: HAProxy's checks take it out; failed
//      requests are at most those in flight at the kill.
// Everything is bounded in time (--quick for CI: shorter load windows).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';

import { freePort } from '../free-port.mjs';
import { log } from '../log.mjs';
import { REPO_ROOT, TF_SERVING_TESTDATA } from '../paths.mjs';
import { ensureHaproxy, haproxyCommand, haproxyConfig, haproxyStats, haproxyVersion, readRequestLog } from './haproxy.mjs';
import { Load } from './load.mjs';

const { values: opts } = parseArgs({ options: { quick: { type: 'boolean', default: false }, json: { type: 'boolean', default: false }, keep: { type: 'boolean', default: false }, 'no-l7-retries': { type: 'boolean', default: false } } });
const WINDOW = opts.quick ? { spread: 3, afterKill: 2, limit: 170 } : { spread: 8, afterKill: 4, limit: 175 };
const MODEL = 'half_plus_two';
const MIN_SPREAD = 300;
const MODEL_SOURCE = path.join(TF_SERVING_TESTDATA, 'saved_model_half_plus_two_2_versions');
const [OLD_VERSION, NEW_VERSION] = ['00000123', '00000124'];
const BACKENDS = ['tfserve_rest', 'tfserve_grpc'];
const MONITORING = path.join(REPO_ROOT, 'deploy', 'docker', 'monitoring.config');
const METRICS_PATH = '/monitoring/prometheus/metrics';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tfserve-cluster-'));
const socket = path.join(work, 'haproxy.sock');
const children = new Set();

async function waitFor(what, condition, timeoutMs, intervalMs = 50) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(intervalMs);
  }
}

function track(child, name) {
  children.add(child);
  child.exited = new Promise((resolve) => child.on('exit', (code, signal) => {
    children.delete(child);
    resolve({ code, signal });
  }));
  child.on('error', (error) => log(`${name}: ${error.message}`));
  return child;
}

function startReplica(replica) {
  const out = fs.openSync(path.join(work, `${replica.name}.log`), 'a');
  replica.proc = track(spawn(process.execPath, [path.join(REPO_ROOT, 'dist', 'src', 'cli.js'),
    `--port=${replica.grpc}`, `--rest_api_port=${replica.rest}`, '--bind_address=127.0.0.1',
    `--model_name=${MODEL}`, `--model_base_path=${replica.dir}`,
    // Versions change here by restart, as in a rolling update: no polling.
    '--file_system_poll_wait_seconds=0',
    `--monitoring_config_file=${MONITORING}`, '--serve_during_load', '--shutdown_grace_seconds=10'],
  { stdio: ['ignore', out, out], env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' } }), replica.name);
  fs.closeSync(out);
}

async function get(port, urlPath) {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${urlPath}`, { signal: AbortSignal.timeout(2000) });
    return { status: res.status, text: await res.text() };
  } catch {
    return { status: 0, text: '' };
  }
}

/** The replica's own count of model API requests (Prometheus :tensorflow:serving:request_count, all statuses). */
async function requestCount(replica) {
  const { status, text } = await get(replica.rest, METRICS_PATH);
  if (status !== 200) throw new Error(`${replica.name}: metrics answered ${status}`);
  return text.split('\n').filter((l) => l.startsWith(':tensorflow:serving:request_count{') && l.includes(`model_name="${MODEL}"`))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

const serverStatus = async (name) => {
  const stats = await haproxyStats(socket);
  return BACKENDS.map((b) => stats[`${b}/${name}`]);
};

async function setState(name, state) {
  for (const backend of BACKENDS) {
    const answer = await haproxyCommand(socket, `set server ${backend}/${name} state ${state}`);
    if (answer.trim()) throw new Error(`HAProxy refused 'set server ${backend}/${name} state ${state}': ${answer.trim()}`);
  }
}

/** Drain in HAProxy, stop, (add the new version), start, wait ready, back in. */
async function restartReplica(replica, { newVersion }) {
  const started = Date.now();
  await setState(replica.name, 'drain');
  await waitFor(`${replica.name} to finish its requests`, async () => (await serverStatus(replica.name)).every((row) => row.scur === '0'), 15_000, 20);
  const drainedMs = Date.now() - started;
  replica.proc.kill('SIGTERM');
  const exit = await Promise.race([replica.proc.exited, sleep(20_000).then(() => null)]);
  if (!exit || exit.code !== 0) throw new Error(`${replica.name} did not stop cleanly on SIGTERM: ${JSON.stringify(exit)}`);
  if (newVersion) fs.cpSync(path.join(MODEL_SOURCE, NEW_VERSION), path.join(replica.dir, NEW_VERSION), { recursive: true });
  startReplica(replica);
  await waitFor(`${replica.name} ready`, async () => (await get(replica.rest, '/readyz')).status === 200, 60_000);
  // Still drained: HAProxy's checks must see it ready before it takes traffic.
  await waitFor(`HAProxy to see ${replica.name} up`, async () => (await serverStatus(replica.name)).every((row) => row.status === 'DRAIN'), 10_000);
  await setState(replica.name, 'ready');
  await waitFor(`${replica.name} UP`, async () => (await serverStatus(replica.name)).every((row) => row.status === 'UP'), 10_000);
  return { name: replica.name, drainedMs, outMs: Date.now() - started };
}

function table(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows.map((r, n) => {
    const line = r.map((cell, i) => String(cell).padEnd(widths[i])).join('  ');
    return n === 0 ? `${line}\n${widths.map((w) => '-'.repeat(w)).join('  ')}` : line;
  }).join('\n');
}

async function main() {
  const started = Date.now();
  if (!fs.existsSync(MODEL_SOURCE)) throw new Error(`${MODEL_SOURCE} is missing (TF Serving's test models, beside the checkout)`);
  const binary = ensureHaproxy();
  const results = { haproxy: haproxyVersion(binary), quick: opts.quick, l7Retries: !opts['no-l7-retries'] };
  log(`${results.haproxy}; work directory ${work}`);

  const replicas = [];
  for (const name of ['r1', 'r2', 'r3']) {
    const dir = path.join(work, name, MODEL);
    fs.cpSync(path.join(MODEL_SOURCE, OLD_VERSION), path.join(dir, OLD_VERSION), { recursive: true });
    replicas.push({ name, dir, grpc: await freePort(), rest: await freePort() });
  }
  const front = { rest: await freePort(), grpc: await freePort() };
  for (const replica of replicas) startReplica(replica);
  const configFile = path.join(work, 'haproxy.cfg');
  fs.writeFileSync(configFile, haproxyConfig({ socket, restPort: front.rest, grpcPort: front.grpc, replicas, l7Retries: !opts['no-l7-retries'] }));
  const haproxyLogFile = path.join(work, 'haproxy.log');
  const haproxyLog = fs.openSync(haproxyLogFile, 'a');
  // The balancer is not under test: under npm run test:asan it runs without the sanitizer preload the replicas get.
  const { LD_PRELOAD: _preload, ...haproxyEnv } = process.env;
  const haproxy = track(spawn(binary, ['-db', '-f', configFile], { stdio: ['ignore', haproxyLog, haproxyLog], env: haproxyEnv }), 'haproxy');
  fs.closeSync(haproxyLog);
  await waitFor('HAProxy\'s stats socket', () => fs.existsSync(socket), 10_000);
  await waitFor('every replica UP in HAProxy', async () => {
    const stats = await haproxyStats(socket);
    return replicas.every((r) => BACKENDS.every((b) => stats[`${b}/${r.name}`]?.status === 'UP'));
  }, 90_000, 100);
  results.startSeconds = (Date.now() - started) / 1000;
  log(`3 replicas ready behind HAProxy (REST :${front.rest}, gRPC :${front.grpc}) in ${results.startSeconds.toFixed(1)} s`);

  // Warm-up (first connections, first runs of each replica) outside the measured windows.
  let load = new Load({ tag: 'warmup', restPort: front.rest, grpcPort: front.grpc }).start();
  await waitFor('the warm-up calls', () => load.ok.rest + load.ok.grpc >= 60, 30_000).catch(() => undefined);
  const warmup = await load.stop();
  if (warmup.failed > 0) throw new Error(`${warmup.failed} warm-up calls failed: ${warmup.failures[0].message}`);

  // 1. Spread: the window, and at least MIN_SPREAD calls (bounded), so that shares mean something.
  const before = await Promise.all(replicas.map(requestCount));
  const statsBefore = await haproxyStats(socket);
  load = new Load({ tag: 'spread', restPort: front.rest, grpcPort: front.grpc }).start();
  await sleep(WINDOW.spread * 1000);
  await waitFor('enough calls for the spread', () => load.ok.rest + load.ok.grpc >= MIN_SPREAD, 20_000).catch(() => undefined);
  const spread = await load.stop();
  const after = await Promise.all(replicas.map(requestCount));
  const statsAfter = await haproxyStats(socket);
  results.spread = {
    ...summary(spread),
    perReplica: replicas.map((r, i) => ({
      name: r.name,
      metrics: after[i] - before[i],
      haproxy: BACKENDS.reduce((sum, b) => sum + Number(statsAfter[`${b}/${r.name}`].stot) - Number(statsBefore[`${b}/${r.name}`].stot), 0),
    })),
  };
  log(`spread: ${results.spread.perReplica.map((p) => `${p.name} ${p.metrics}`).join(', ')} (${spread.ok} ok, ${spread.failed} failed)`);

  // 2. Rolling restart, 3. rolling version update: one replica at a time, under load.
  for (const [phase, newVersion] of [['restart', false], ['rollout', true]]) {
    load = new Load({ tag: phase, restPort: front.rest, grpcPort: front.grpc }).start();
    await sleep(500);
    const steps = [];
    for (const replica of replicas) {
      steps.push(await restartReplica(replica, { newVersion }));
      log(`${phase}: ${replica.name} back in after ${(steps.at(-1).outMs / 1000).toFixed(1)} s`);
    }
    const versionsBeforeEnd = { ...load.versions };
    await sleep(1000);
    const done = await load.stop();
    const lastSecond = Object.fromEntries(Object.entries(done.versions).map(([v, n]) => [v, n - (versionsBeforeEnd[v] ?? 0)]).filter(([, n]) => n > 0));
    results[phase] = { ...summary(done), steps, versions: done.versions, versionsAfter: lastSecond };
    log(`${phase}: ${done.ok} ok, ${done.failed} failed; versions ${JSON.stringify(done.versions)}`);
  }

  // 4. SIGKILL one replica under load. The calls in flight at that instant
  // are noted in the same tick as the kill; HAProxy's request log says which
  // replica each went to, so "in flight on the killed replica" is exact.
  load = new Load({ tag: 'kill', restPort: front.rest, grpcPort: front.grpc }).start();
  await sleep(1000);
  const victim = replicas[2];
  const failedBefore = load.failures.length;
  const inFlightAtKill = new Set(load.outstanding.keys());
  victim.proc.kill('SIGKILL');
  const killedAt = Date.now();
  await waitFor(`HAProxy to take ${victim.name} out`, async () => (await serverStatus(victim.name)).every((row) => row.status.startsWith('DOWN')), 10_000, 10);
  const downAfterMs = Date.now() - killedAt;
  await sleep(WINDOW.afterKill * 1000);
  const killed = await load.stop();

  for (const replica of replicas.slice(0, 2)) replica.proc.kill('SIGTERM');
  await Promise.all(replicas.slice(0, 2).map((r) => r.proc.exited));
  haproxy.kill('SIGTERM');
  await haproxy.exited;
  const served = readRequestLog(haproxyLogFile);
  // On the victim at the kill: answered by it, or retried elsewhere (in this
  // phase a retry happens only because the victim died under the request).
  const onVictim = [...inFlightAtKill].filter((id) => served.get(id)?.server === victim.name || served.get(id)?.retries > 0);
  const retriedAfterKill = [...served].filter(([id, r]) => id.startsWith('kill-') && r.retries > 0 && !inFlightAtKill.has(id)).length;
  const failures = killed.failures.slice(failedBefore);
  results.kill = {
    ...summary(killed),
    failedBeforeKill: failedBefore,
    failedAtKill: failures.length,
    inFlightAtKill: inFlightAtKill.size,
    inFlightOnVictim: onVictim.length,
    retriedOfThem: onVictim.filter((id) => served.get(id)?.retries > 0).length,
    retriedAfterKill,
    // Failed calls that were not in flight on the victim at the kill (should be none).
    failedOthers: failures.filter((f) => !onVictim.includes(f.id)).length,
    failedSentAfterKill: failures.filter((f) => f.startedAt >= killedAt).length,
    downAfterMs,
    failureMessages: [...new Set(failures.map((f) => f.message))].slice(0, 4),
    failureDetail: failures.slice(0, 10).map((f) => ({ id: f.id, startedMs: f.startedAt - killedAt, failedMs: f.at - killedAt, inFlightAtKill: inFlightAtKill.has(f.id), server: served.get(f.id)?.server ?? null })),
  };
  log(`SIGKILL ${victim.name}: ${failures.length} failed; in flight at the kill: ${onVictim.length} on ${victim.name}, ${inFlightAtKill.size} in all; DOWN after ${downAfterMs} ms`);
  results.totalSeconds = (Date.now() - started) / 1000;
  report(results);
  const problems = check(results);
  if (!opts.keep) fs.rmSync(work, { recursive: true, force: true });
  if (problems.length > 0) throw new Error(problems.join('; '));
}

function summary(run) {
  return { seconds: Number(run.seconds.toFixed(1)), requests: run.requests, ok: run.ok, okRest: run.okRest, okGrpc: run.okGrpc, failed: run.failed };
}

function check(results) {
  const problems = [];
  const total = results.spread.perReplica.reduce((s, p) => s + p.metrics, 0);
  for (const p of results.spread.perReplica) if (p.metrics < total / 6) problems.push(`${p.name} served ${p.metrics} of ${total}`);
  if (results.kill.failedBeforeKill > 0) problems.push(`${results.kill.failedBeforeKill} requests failed before the kill`);
  if (results.restart.failed > 0) problems.push(`${results.restart.failed} requests failed during the rolling restart`);
  if (results.rollout.failed > 0) problems.push(`${results.rollout.failed} requests failed during the version rollout`);
  if (Object.keys(results.rollout.versionsAfter).join() !== String(Number(NEW_VERSION))) problems.push(`after the rollout, versions ${JSON.stringify(results.rollout.versionsAfter)} answered`);
  // Without L7 retries, calls sent to the dying replica in the moments before
  // the kernel has torn its sockets down fail too: the run only reports them.
  if (!results.l7Retries) return problems;
  if (results.kill.failedAtKill > results.kill.inFlightOnVictim) problems.push(`${results.kill.failedAtKill} failed at the kill, more than the ${results.kill.inFlightOnVictim} in flight on the killed replica`);
  if (results.kill.failedOthers > 0) problems.push(`${results.kill.failedOthers} failed requests were not in flight on the killed replica`);
  return problems;
}

function report(r) {
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(r)}\n`);
    return;
  }
  const pct = (n, total) => `${((100 * n) / total).toFixed(0)}%`;
  const spreadTotal = r.spread.perReplica.reduce((s, p) => s + p.metrics, 0);
  const versions = (v) => Object.entries(v).map(([k, n]) => `v${k}: ${n}`).join(', ');
  console.log(`\ntfserve x3 behind ${r.haproxy.split(' - ')[0]} (REST + gRPC Predict, 4 + 4 closed-loop callers; L7 retries ${r.l7Retries ? 'on' : 'off'})\n`);
  console.log(table([
    ['phase', 'seconds', 'requests (REST/gRPC)', 'failed', 'what it shows'],
    ['1. load spread', r.spread.seconds, `${r.spread.requests} (${r.spread.okRest}/${r.spread.okGrpc})`, r.spread.failed,
      r.spread.perReplica.map((p) => `${p.name} ${p.metrics} (${pct(p.metrics, spreadTotal)})`).join(', ')],
    ['2. rolling restart', r.restart.seconds, `${r.restart.requests} (${r.restart.okRest}/${r.restart.okGrpc})`, r.restart.failed,
      `each replica out ${r.restart.steps.map((s) => (s.outMs / 1000).toFixed(1)).join(' / ')} s (drained in ${r.restart.steps.map((s) => s.drainedMs).join(' / ')} ms)`],
    ['3. version rollout', r.rollout.seconds, `${r.rollout.requests} (${r.rollout.okRest}/${r.rollout.okGrpc})`, r.rollout.failed,
      `gRPC answers by version: ${versions(r.rollout.versions)}; last second: ${versions(r.rollout.versionsAfter)}`],
    ['4. SIGKILL r3', r.kill.seconds, `${r.kill.requests} (${r.kill.okRest}/${r.kill.okGrpc})`, r.kill.failed,
      `in flight at the kill: ${r.kill.inFlightOnVictim} on r3 (${r.kill.inFlightAtKill} in all; ${r.kill.retriedOfThem} retried elsewhere); sent to the dying r3 after it and retried: ${r.kill.retriedAfterKill}; failed that were not on r3 at the kill: ${r.kill.failedOthers} (${r.kill.failedSentAfterKill} sent after it); r3 DOWN in HAProxy after ${r.kill.downAfterMs} ms`],
  ]));
  console.log('\nper-replica counts in phase 1: each replica\'s :tensorflow:serving:request_count (HAProxy\'s own count: '
    + `${r.spread.perReplica.map((p) => `${p.name} ${p.haproxy}`).join(', ')})`);
  if (r.kill.failureMessages.length > 0) console.log(`failures at the kill: ${r.kill.failureMessages.join(' | ')}`);
  console.log(`\ntotal ${r.totalSeconds.toFixed(1)} s (replicas up in ${r.startSeconds.toFixed(1)} s)`);
}

const limit = setTimeout(() => {
  log(`the demo passed its time limit (${WINDOW.limit} s): stopping`);
  cleanup();
  process.exit(1);
}, WINDOW.limit * 1000);
limit.unref();

function cleanup() {
  for (const child of children) child.kill('SIGKILL');
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    log(`${signal}: stopping the replicas and HAProxy`);
    cleanup();
    process.exit(130);
  });
}

main().then(
  () => {
    clearTimeout(limit);
    log('cluster demo passed');
  },
  (error) => {
    log(`cluster demo failed: ${error.message}; logs in ${work}`);
    cleanup();
    process.exit(1);
  },
);
