// Command line of `npm run bench` (node bench/run.mjs [options]).
import { parseArgs } from 'node:util';

export const ALL_CONTENDERS = ['tfserve', 'onnxruntime-node', 'tf-python', 'tfjs-node', 'native'];
export const ALL_SCENARIOS = ['latency', 'sweep', 'batch'];
export const FULL_CONCURRENCY = [1, 4, 16, 64, 256];

export const USAGE = `usage: npm run bench -- [options]

  --models LIST        half_plus_two,cnn,mobilenet (default: all)
  --contenders LIST    ${ALL_CONTENDERS.join(',')} (default: all)
  --scenarios LIST     ${ALL_SCENARIOS.join(',')} (default: all)
  --concurrency LIST   callers of the sweep (default: ${FULL_CONCURRENCY.join(',')})
  --seconds N          measured seconds per cell (default 2.5; --quick: 1)
  --quick              short cells and a 1,16,64 sweep, to iterate
  --tfjs-libtensorflow pinned|tfserve
                       build tfjs-node against the TF version it pins, taken
                       from that version's tensorflow-cpu wheel (default), or
                       against the libtensorflow tfserve uses
  --tfserve-workers N  tfserve Engine worker threads (default: the Engine's
                       own default; 0 = decode/encode on the main thread)
  --tfserve-session JSON
                       tfserve's SessionOptions for the sequential batch-1
                       cells, e.g. '{}' (TF's defaults) or '{"xla":true}'
                       (default: {"intraOpThreads":1}); the native loop's
                       sequential cells take its intraOpThreads too
  --report FILE        measure nothing: print the tables of a results file
                       (bench/results/*.json) and, with --docs, rewrite the docs
  --docs / --no-docs   rewrite docs/benchmarks.md and its chart (default: only
                       for a full run)
  --help`;

function list(value, allowed, name) {
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = allowed ? items.filter((i) => !allowed.includes(i)) : [];
  if (unknown.length) throw new Error(`--${name}: unknown ${unknown.join(', ')} (choose from ${allowed.join(', ')})`);
  return items;
}

export function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      models: { type: 'string' },
      contenders: { type: 'string' },
      scenarios: { type: 'string' },
      concurrency: { type: 'string' },
      seconds: { type: 'string' },
      quick: { type: 'boolean', default: false },
      'tfjs-libtensorflow': { type: 'string', default: 'pinned' },
      'tfserve-workers': { type: 'string' },
      'tfserve-session': { type: 'string' },
      report: { type: 'string' },
      docs: { type: 'boolean' },
      'no-docs': { type: 'boolean' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return { help: true };
  const quick = values.quick;
  const seconds = values.seconds === undefined ? (quick ? 1 : 2.5) : Number(values.seconds);
  if (!(seconds > 0)) throw new Error(`--seconds must be a positive number, got '${values.seconds}'`);
  const concurrency = values.concurrency
    ? list(values.concurrency, null, 'concurrency').map(Number)
    : quick ? [1, 16, 64] : FULL_CONCURRENCY;
  if (concurrency.some((c) => !Number.isInteger(c) || c < 1)) throw new Error('--concurrency takes positive integers');
  const tfjsLibtensorflow = values['tfjs-libtensorflow'];
  if (!['pinned', 'tfserve'].includes(tfjsLibtensorflow)) throw new Error("--tfjs-libtensorflow is 'pinned' or 'tfserve'");
  const tfserveWorkers = values['tfserve-workers'] === undefined ? null : Number(values['tfserve-workers']);
  if (tfserveWorkers !== null && !(Number.isInteger(tfserveWorkers) && tfserveWorkers >= 0)) throw new Error('--tfserve-workers takes an integer >= 0');
  let tfserveSession = null;
  if (values['tfserve-session'] !== undefined) {
    try {
      tfserveSession = JSON.parse(values['tfserve-session']);
    } catch (error) {
      throw new Error(`--tfserve-session takes a JSON object: ${error.message}`);
    }
    if (typeof tfserveSession !== 'object' || tfserveSession === null || Array.isArray(tfserveSession)) throw new Error('--tfserve-session takes a JSON object');
  }
  const options = {
    models: values.models ? list(values.models, null, 'models') : null,
    contenders: values.contenders ? list(values.contenders, ALL_CONTENDERS, 'contenders') : ALL_CONTENDERS,
    scenarios: values.scenarios ? list(values.scenarios, ALL_SCENARIOS, 'scenarios') : ALL_SCENARIOS,
    concurrency,
    seconds,
    // Calls before a cell's measured window: JIT, TF's first-run work, caches.
    warmupSeconds: quick ? 0.3 : 0.5,
    quick,
    tfjsLibtensorflow,
    tfserveWorkers,
    tfserveSession,
  };
  const full = !quick && !values.models && !values.contenders && !values.scenarios && !values.concurrency && !values.seconds && tfserveWorkers === null && tfserveSession === null;
  options.full = full;
  options.report = values.report ?? null;
  options.docs = values['no-docs'] ? false : values.docs ?? full;
  return options;
}
