// Child process holding one JS contender's session on one model. Every
// contender gets a fresh process, so runtimes never share an address space
// (tfjs-node and tfserve may carry different TensorFlow builds) and each
// event loop is measured alone. Driven over IPC by lib/js-contender.mjs:
//   → { type: 'cell', scenario, batch, concurrency }   ← { type: 'cell', cell }
//   → { type: 'outputs', batch }                         ← { type: 'outputs', outputs }
//   → { type: 'close' }                                  (closes and exits)
// and announces { type: 'ready', runtime } or { type: 'fatal', error } first.
//
//   node bench/lib/js-child.mjs '<job JSON>'
import { performance } from 'node:perf_hooks';

import { closedLoop } from './closed-loop.mjs';
import { sequentialLatency } from './micro.mjs';

const job = JSON.parse(process.argv[2]);
const send = (message) => new Promise((resolve) => process.send(message, resolve));
const messageOf = (error) => (error instanceof Error ? error.message : String(error));

async function warmUp(session, batchSizes) {
  const one = session.prepare(1);
  const until = performance.now() + job.plan.warmupSeconds * 1000;
  for (const scenario of new Set(job.plan.scenarios)) {
    const run = session.runner(scenario);
    for (let i = 0; i < 5 || performance.now() < until; i++) await run(one);
  }
  const run = session.runner('batch');
  for (const batch of batchSizes) await run(session.prepare(batch));
}

function measure(session, requests, { scenario, batch, concurrency }) {
  const { plan, model } = job;
  requests[batch] ??= session.prepare(batch);
  const request = requests[batch];
  const run = session.runner(scenario);
  const call = () => run(request);
  switch (scenario) {
    case 'latency':
      return sequentialLatency({ name: `${job.contender} ${model.id}`, seconds: plan.seconds, call });
    case 'sweep':
      return closedLoop({ concurrency, batch, seconds: plan.seconds, warmupSeconds: plan.warmupSeconds, call });
    case 'batch':
      return closedLoop({ concurrency, batch, seconds: plan.seconds, warmupSeconds: 0, minCalls: 2, call });
    default:
      throw new Error(`unknown scenario ${scenario}`);
  }
}

async function main() {
  const { model, plan } = job;
  const contender = await import(`../contenders/${job.contender}.mjs`);
  const loadStarted = performance.now();
  const session = await contender.open(model);
  const loadSeconds = Math.round(performance.now() - loadStarted) / 1000;
  await warmUp(session, plan.scenarios.includes('batch') ? model.batchSizes : []);
  await send({ type: 'ready', runtime: { ...session.runtime, loadSeconds } });

  const requests = {};
  // Cells arrive one at a time; the parent waits for each answer.
  process.on('message', async (message) => {
    if (message.type === 'close') {
      await session.close();
      process.disconnect();
      return;
    }
    if (message.type === 'outputs') {
      let outputs;
      try {
        outputs = await session.outputs(session.prepare(message.batch));
      } catch (error) {
        outputs = { error: messageOf(error) };
      }
      await send({ type: 'outputs', outputs });
      return;
    }
    const spec = { scenario: message.scenario, batch: message.batch, concurrency: message.concurrency };
    let cell;
    try {
      cell = { ...spec, ...(await measure(session, requests, spec)) };
    } catch (error) {
      cell = { ...spec, error: messageOf(error) };
    }
    await send({ type: 'cell', cell });
  });
}

main().catch(async (error) => {
  await send({ type: 'fatal', error: messageOf(error) });
  process.exitCode = 1;
  process.disconnect();
});
