// Where things are in the repository, for the scripts and the bench.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** Fixture models made by scripts/make-fixtures.mjs. */
export const FIXTURES_DIR = path.join(REPO_ROOT, '.fixtures');
