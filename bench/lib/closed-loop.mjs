// Closed-loop load: `concurrency` callers, each sending its next request as
// soon as the previous one is answered. Requests started during the warm-up
// are not measured; after the measured window callers stop once every caller
// has finished its current request (and at least `minCalls` were measured).
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';

import { latencySummaryUs } from './stats.mjs';

/**
 * @param {{ concurrency: number, batch: number, seconds: number, warmupSeconds: number,
 *           minCalls?: number, call: () => Promise<unknown> }} options
 */
export async function closedLoop({ concurrency, batch, seconds, warmupSeconds, minCalls = 3, call }) {
  // 1 ms is the finest sampling the monitor allows; its max is the longest
  // stretch the event loop could not run a timer. The monitor only records
  // a delay once its timer finally runs, so a loop that never yields (every
  // request answered in microtasks, e.g. a synchronous predict) would show no
  // lag at all: `lastTurn` catches the stretch still open at the end.
  const lag = monitorEventLoopDelay({ resolution: 1 });
  let lastTurn = performance.now();
  const turns = setInterval(() => {
    lastTurn = performance.now();
  }, 1);
  const latencies = [];
  const start = performance.now();
  const measureFrom = start + warmupSeconds * 1000;
  const stopAt = measureFrom + seconds * 1000;
  let lastFinish = measureFrom;
  let lagReset = false;
  // CPU time of the whole process (every thread: JS, workers, TF's pools)
  // over the measured window, per example: unlike throughput, barely moved by
  // other load on a shared machine.
  let cpuFrom = null;

  async function caller() {
    for (;;) {
      const began = performance.now();
      if (!lagReset && began >= measureFrom) {
        lag.reset();
        lagReset = true;
        cpuFrom = process.cpuUsage();
      }
      if (began >= stopAt && latencies.length >= minCalls) return;
      await call();
      const ended = performance.now();
      if (began >= measureFrom) {
        latencies.push(ended - began);
        lastFinish = ended;
      }
    }
  }

  lag.enable();
  let openStretchMs;
  try {
    await Promise.all(Array.from({ length: concurrency }, caller));
    openStretchMs = performance.now() - Math.max(lastTurn, measureFrom);
  } finally {
    lag.disable();
    clearInterval(turns);
  }
  const cpu = process.cpuUsage(cpuFrom ?? undefined);
  const window = (lastFinish - measureFrom) / 1000;
  const monitored = lag.count > 0 ? lag.max / 1e6 : 0;
  return {
    concurrency,
    batch,
    calls: latencies.length,
    seconds: round(window, 3),
    examplesPerSecond: round((latencies.length * batch) / window, 1),
    latencyUs: latencySummaryUs(latencies),
    cpuUsPerExample: cpuFrom ? round((cpu.user + cpu.system) / (latencies.length * batch), 1) : null,
    eventLoopLagMs: {
      max: round(Math.max(monitored, openStretchMs), 2),
      p99: lag.count > 0 ? round(lag.percentile(99) / 1e6, 2) : null,
      samples: lag.count,
    },
  };
}

function round(value, digits) {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
