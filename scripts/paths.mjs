// Where things are in the repository, for the scripts and the bench.
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** Fixture models made by scripts/make-fixtures.mjs. */
export const FIXTURES_DIR = path.join(REPO_ROOT, '.fixtures');
/** Read-only material beside the clone (TF Serving's test models and suite), not in the repository. */
export const SHARED_DIR = path.resolve(REPO_ROOT, '..', 'shared');
/** TF Serving's test models (saved_model_half_plus_two_cpu, ...). */
export const TF_SERVING_TESTDATA = path.join(SHARED_DIR, 'testdata', 'tf_serving');

/** tfserve's download cache (wheels, unpacked libtensorflow builds): TFSERVE_CACHE_DIR or ~/.cache/tfserve. */
export function cacheDir() {
  if (process.env.TFSERVE_CACHE_DIR) return path.resolve(process.env.TFSERVE_CACHE_DIR);
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'tfserve');
}
