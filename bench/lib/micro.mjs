// Sequential latency with the `benchmark` package: it decides how many calls
// to make and reports ops/s with its relative margin of error; every call's
// own latency is recorded too, for the percentiles.
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';

import { latencySummaryUs } from './stats.mjs';

const require = createRequire(import.meta.url);
const Benchmark = require('benchmark');

// benchmark.js recompiles `fn` from its source text, which loses closures;
// the deferred function reaches the call under test through this global.
const HOOK = '__tfserveBenchCall';

/** @param {{ name: string, seconds: number, call: () => Promise<unknown> }} options */
export function sequentialLatency({ name, seconds, call }) {
  const latencies = [];
  let failure = null;
  globalThis[HOOK] = (deferred) => {
    const began = performance.now();
    call().then(
      () => {
        latencies.push(performance.now() - began);
        deferred.resolve();
      },
      (error) => {
        failure ??= error;
        deferred.resolve();
      },
    );
  };
  const bench = new Benchmark(name, {
    defer: true,
    maxTime: seconds,
    minSamples: 5,
    fn: new Function('deferred', `globalThis.${HOOK}(deferred);`),
  });
  return new Promise((resolve, reject) => {
    bench.on('complete', () => {
      delete globalThis[HOOK];
      if (failure) return reject(failure);
      if (bench.error) return reject(bench.error);
      resolve({
        batch: 1,
        concurrency: 1,
        calls: latencies.length,
        seconds: Math.round(bench.times.elapsed * 1000) / 1000,
        examplesPerSecond: Math.round(bench.hz * 10) / 10,
        rmePercent: Math.round(bench.stats.rme * 100) / 100,
        samples: bench.stats.sample.length,
        latencyUs: latencySummaryUs(latencies),
      });
    });
    bench.run({ async: true });
  });
}
