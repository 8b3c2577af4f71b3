// Where things are in the repository, for the scripts and the bench.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** Fixture models made by scripts/make-fixtures.mjs. */
export const FIXTURES_DIR = path.join(REPO_ROOT, '.fixtures');
/** Read-only material beside the clone (TF Serving's test models and suite), not in the repository. */
export const SHARED_DIR = path.resolve(REPO_ROOT, '..', 'shared');
/** TF Serving's test models (saved_model_half_plus_two_cpu, ...). */
export const TF_SERVING_TESTDATA = path.join(SHARED_DIR, 'testdata', 'tf_serving');
