import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const REPO_ROOT = path.resolve(BENCH_DIR, '..');
export const RESULTS_DIR = path.join(BENCH_DIR, 'results');
/** Private npm project holding @tensorflow/tfjs-node and the libtensorflow it is built against. */
export const TFJS_DIR = path.join(BENCH_DIR, '.tfjs');
/** Build output of bench/native. */
export const BUILD_DIR = path.join(BENCH_DIR, '.build');
export const DOCS_DIR = path.join(REPO_ROOT, 'docs');
export const FIXTURES_DIR = path.join(REPO_ROOT, '.fixtures');
export const TF_SERVING_TESTDATA = path.resolve(REPO_ROOT, '..', 'shared', 'testdata', 'tf_serving');
