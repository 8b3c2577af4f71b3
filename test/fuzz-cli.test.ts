// The fuzzer's command line (scripts/fuzz/run.mjs): an option that is not a
// number in its range is refused with exit code 2 before any server starts,
// since a NaN duration or concurrency used to make a run of zero requests
// that exited 0 (and so passed CI).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';

import { repoRoot } from './helpers';

const FUZZ = path.join(repoRoot, 'scripts', 'fuzz', 'run.mjs');

for (const args of [['--seconds', 'abc'], ['--seconds=-1'], ['--concurrency', '0'], ['--concurrency', '2.5'], ['--good-every', 'x'], ['--max-crashes', '0'], ['--seed', '1.5']]) {
  test(`fuzz ${args.join(' ')} is refused with exit code 2`, () => {
    const result = spawnSync(process.execPath, [FUZZ, ...args], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(result.status, 2, `exit ${result.status}, stderr: ${result.stderr}`);
    assert.match(result.stderr, new RegExp(`--${args[0].slice(2).split('=')[0]} must be`));
    assert.doesNotMatch(result.stdout, /tfserve up/);
  });
}
