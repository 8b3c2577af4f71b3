// Which TensorFlow install provisions: the version asked for (2.21.0 unless
// TFSERVE_TF_VERSION names another, 2.15.0 or later), recorded in
// deps/libtensorflow.json and reported by tensorflowVersion(); bad settings
// are refused before anything is touched.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { tensorflowVersion } from '../src';
import { repoRoot } from './helpers';

const configFile = path.join(repoRoot, 'deps', 'libtensorflow.json');

function install(env: Record<string, string>): { status: number | null; output: string } {
  const result = spawnSync(process.execPath, [path.join(repoRoot, 'scripts', 'install.mjs')], {
    cwd: repoRoot,
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

test('the linked TensorFlow is the one the install record names, and tensorflowVersion() says so', () => {
  const config = JSON.parse(fs.readFileSync(configFile, 'utf8')) as { version: string; variant: string; source: string };
  // A TFSERVE_LIBTENSORFLOW_DIR build of unnamed version is only known once loaded.
  if (config.version !== 'unknown' || !config.source.startsWith('TFSERVE_LIBTENSORFLOW_DIR')) {
    assert.match(config.version, /^\d+\.\d+\.\d+$/);
    assert.equal(tensorflowVersion(), config.version);
    assert.ok(['cpu', 'cuda'].includes(config.variant), config.variant);
  }
  assert.match(tensorflowVersion(), /^2\.\d+\.\d+/);
});

test('TFSERVE_TF_VERSION older than 2.15.0, or not a release number, and an unknown TFSERVE_TF_VARIANT are refused before anything is touched', () => {
  const before = fs.readFileSync(configFile, 'utf8');
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ TFSERVE_TF_VERSION: '2.14.0' }, /TFSERVE_TF_VERSION=2\.14\.0 is older than 2\.15\.0, the oldest TensorFlow tfserve supports/],
    [{ TFSERVE_TF_VERSION: 'latest' }, /TFSERVE_TF_VERSION=latest is not a release number such as 2\.21\.0/],
    [{ TFSERVE_TF_VARIANT: 'rocm' }, /TFSERVE_TF_VARIANT=rocm is not one of cpu, cuda/],
  ];
  for (const [env, pattern] of cases) {
    const { status, output } = install(env);
    assert.equal(status, 1, output);
    assert.match(output, pattern);
  }
  assert.equal(fs.readFileSync(configFile, 'utf8'), before);
});
