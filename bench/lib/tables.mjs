// Result tables, as { title, headers, rows } that the terminal and the docs render.
import { fmtMs, fmtRate, fmtUs } from './format.mjs';
import { AGREEMENT_BATCH } from './agreement.mjs';
import { ALL_CONTENDERS } from './options.mjs';

export function cellsOf(results, modelId, scenario) {
  return results.runs
    .filter((r) => r.model === modelId)
    .sort((a, b) => ALL_CONTENDERS.indexOf(a.contender) - ALL_CONTENDERS.indexOf(b.contender))
    .flatMap((r) => r.cells.filter((c) => c.scenario === scenario).map((c) => ({ contender: r.contender, ...c })));
}

// Process CPU time per example over the cell (not measured in the C++ loop).
const cpuCell = (c) => (typeof c.cpuUsPerExample === 'number' ? fmtRate(c.cpuUsPerExample) : 'n/a');

const errorRow = (cell, leading, width) => [...leading, `error: ${cell.error}`, ...Array(width - leading.length - 1).fill('')];

export function modelTables(results, model) {
  const tables = [];
  const agreement = (results.agreement ?? []).filter((a) => a.model === model.id);
  if (agreement.length) {
    tables.push({
      title: `Outputs against tfserve's (same ${AGREEMENT_BATCH}-example input), max abs diff`,
      headers: ['contender', 'max abs diff'],
      rows: agreement.map((a) => [
        a.contender,
        a.error ? `error: ${a.error}` : Object.entries(a.maxAbsDiff).map(([alias, v]) => `${alias} ${typeof v === 'number' ? v.toExponential(1) : v}`).join(', '),
      ]),
    });
  }
  const latency = cellsOf(results, model.id, 'latency');
  if (latency.length) {
    const headers = ['contender', 'p50', 'p99', 'mean', 'calls/s'];
    tables.push({
      title: 'Sequential batch-1 latency',
      headers,
      rows: latency.map((c) =>
        c.error
          ? errorRow(c, [c.contender], headers.length)
          : [c.contender, fmtUs(c.latencyUs.p50), fmtUs(c.latencyUs.p99), fmtUs(c.latencyUs.mean), `${fmtRate(c.examplesPerSecond)}${c.rmePercent !== undefined ? ` ±${c.rmePercent.toFixed(1)}%` : ''}`],
      ),
    });
  }
  const sweep = cellsOf(results, model.id, 'sweep').sort((a, b) => a.concurrency - b.concurrency);
  if (sweep.length) {
    const headers = ['callers', 'contender', 'examples/s', 'CPU µs/example', 'p50', 'p99', 'event-loop max lag'];
    tables.push({
      title: 'Closed-loop concurrency sweep, single-example requests',
      headers,
      rows: sweep.map((c) =>
        c.error
          ? errorRow(c, [String(c.concurrency), c.contender], headers.length)
          : [String(c.concurrency), c.contender, fmtRate(c.examplesPerSecond), cpuCell(c), fmtUs(c.latencyUs.p50), fmtUs(c.latencyUs.p99), c.eventLoopLagMs ? fmtMs(c.eventLoopLagMs.max) : 'n/a (C++)'],
      ),
    });
  }
  const batch = cellsOf(results, model.id, 'batch').sort((a, b) => a.batch - b.batch);
  if (batch.length) {
    const headers = ['batch', 'contender', 'examples/s', 'CPU µs/example', 'p50 per call', 'calls'];
    tables.push({
      title: 'Large-batch throughput, one caller',
      headers,
      rows: batch.map((c) =>
        c.error
          ? errorRow(c, [String(c.batch), c.contender], headers.length)
          : [String(c.batch), c.contender, fmtRate(c.examplesPerSecond), cpuCell(c), fmtUs(c.latencyUs.p50), String(c.calls)],
      ),
    });
  }
  return tables;
}
