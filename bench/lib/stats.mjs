/** Percentile by linear interpolation between closest ranks; `sorted` ascending. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
}

/** Summary of latencies given in milliseconds, reported in microseconds. */
export function latencySummaryUs(latenciesMs) {
  const sorted = Float64Array.from(latenciesMs).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  const us = (v) => Math.round(v * 1000 * 10) / 10;
  return {
    mean: us(sum / sorted.length),
    p50: us(percentile(sorted, 50)),
    p90: us(percentile(sorted, 90)),
    p99: us(percentile(sorted, 99)),
    min: us(sorted[0]),
    max: us(sorted[sorted.length - 1]),
  };
}
