// `npm run demo:cluster -- --quick`: three real tfserve replicas behind a
// real HAProxy on loopback, under REST + gRPC load. Runs where HAProxy is
// installed or can be (as root, scripts/install-tools.mjs installs Debian's package).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';

import { needsTfServingData, repoRoot } from './helpers';

function skipReason(): string | false {
  const data = needsTfServingData();
  if (data) return data;
  const haproxy = spawnSync('sh', ['-c', 'command -v haproxy || test -x /usr/sbin/haproxy']).status === 0;
  return haproxy || process.getuid?.() === 0 ? false : 'HAProxy is not installed (and not root, so the demo cannot install it)';
}

interface Phase {
  requests: number;
  ok: number;
  failed: number;
}

test('cluster demo: load spread, rolling restart and version rollout with 0 failures, SIGKILL fails only what was in flight on the victim', { skip: skipReason(), timeout: 240_000 }, () => {
  const run = spawnSync(process.execPath, [path.join(repoRoot, 'scripts', 'cluster', 'demo.mjs'), '--quick', '--json'], { encoding: 'utf8', timeout: 220_000 });
  assert.equal(run.status, 0, `the demo failed:\n${run.stderr.split('\n').slice(-15).join('\n')}`);
  const r = JSON.parse(run.stdout.trim().split('\n').pop()!) as {
    spread: Phase & { perReplica: Array<{ name: string; metrics: number; haproxy: number }> };
    restart: Phase & { steps: unknown[] };
    rollout: Phase & { versions: Record<string, number>; versionsAfter: Record<string, number> };
    kill: Phase & { failedAtKill: number; inFlightOnVictim: number; failedOthers: number; failedBeforeKill: number; downAfterMs: number };
    totalSeconds: number;
  };
  // Spread: every replica served a fair share, and its own metrics agree with HAProxy's count.
  const total = r.spread.perReplica.reduce((sum, p) => sum + p.metrics, 0);
  assert.equal(total, r.spread.ok, 'the replicas counted every request the load made');
  for (const p of r.spread.perReplica) {
    assert.ok(p.metrics >= total / 5, `${p.name} served ${p.metrics} of ${total}`);
    assert.equal(p.metrics, p.haproxy, `${p.name}: tfserve's request_count and HAProxy's count differ`);
  }
  // Restart and rollout, one replica at a time under load: nothing failed, and the rollout ends on the new version.
  assert.equal(r.restart.steps.length, 3);
  assert.ok(r.restart.ok > 0 && r.rollout.ok > 0);
  assert.equal(r.restart.failed, 0);
  assert.equal(r.rollout.failed, 0);
  assert.ok((r.rollout.versions['123'] ?? 0) > 0 && (r.rollout.versions['124'] ?? 0) > 0, JSON.stringify(r.rollout.versions));
  assert.deepEqual(Object.keys(r.rollout.versionsAfter), ['124']);
  // SIGKILL: at most what was on the victim failed; HAProxy took it out.
  assert.equal(r.kill.failedBeforeKill, 0);
  assert.ok(r.kill.failedAtKill <= r.kill.inFlightOnVictim, `${r.kill.failedAtKill} failed, ${r.kill.inFlightOnVictim} were in flight on the victim`);
  assert.equal(r.kill.failedOthers, 0);
  assert.ok(r.kill.ok > 0 && r.kill.downAfterMs < 5000);
  assert.ok(r.totalSeconds < 180);
});
