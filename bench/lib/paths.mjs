import path from 'node:path';

import { REPO_ROOT } from '../../scripts/paths.mjs';

export { FIXTURES_DIR, REPO_ROOT, TF_SERVING_TESTDATA } from '../../scripts/paths.mjs';
export const BENCH_DIR = path.join(REPO_ROOT, 'bench');
export const RESULTS_DIR = path.join(BENCH_DIR, 'results');
/** Private npm project holding @tensorflow/tfjs-node and the libtensorflow it is built against. */
export const TFJS_DIR = path.join(BENCH_DIR, '.tfjs');
/** Private npm project holding onnxruntime-node. */
export const ORT_DIR = path.join(BENCH_DIR, '.ort');
/** Build output of bench/native. */
export const BUILD_DIR = path.join(BENCH_DIR, '.build');
export const DOCS_DIR = path.join(REPO_ROOT, 'docs');
