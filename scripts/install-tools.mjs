// Load tools the front-door bench drives (bench/front-door.mjs), installed
// from their ordinary registries into places the repository ignores:
//
//   ghz  (Go gRPC load generator)  go install ...@<version>  -> .tools/bin/ghz
//   wrk  (HTTP/1.1 load generator) the Debian package         -> /usr/bin/wrk
//
//   node scripts/install-tools.mjs [ghz] [wrk]     (default: both)
//
// Each tool is skipped when already present. `toolPath(name)` tells the bench
// where a tool is.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { log, seconds } from './log.mjs';
import { REPO_ROOT } from './paths.mjs';

export const TOOLS_BIN = path.join(REPO_ROOT, '.tools', 'bin');

// Pinned to what `@latest` resolved to through the Go module proxy when this was written.
const GHZ_MODULE = 'github.com/bojand/ghz/cmd/ghz@v0.93.0';

function onPath(name) {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : null;
}

/** Where the bench finds a tool: .tools/bin first, then PATH; null when missing. */
export function toolPath(name) {
  const local = path.join(TOOLS_BIN, name);
  if (existsSync(local)) return local;
  return onPath(name);
}

function run(command, args, env = process.env) {
  const result = spawnSync(command, args, { stdio: 'inherit', env });
  if (result.error) throw new Error(`${command}: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${result.status}`);
}

function installGhz() {
  if (toolPath('ghz')) return;
  const go = onPath('go') ?? (existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : null);
  if (!go) throw new Error('ghz needs the Go toolchain: install Go (e.g. apt-get install golang) and run this again');
  mkdirSync(TOOLS_BIN, { recursive: true });
  const started = Date.now();
  log(`installing ${GHZ_MODULE} into ${TOOLS_BIN} ...`);
  run(go, ['install', GHZ_MODULE], { ...process.env, GOBIN: TOOLS_BIN });
  log(`ghz installed (${seconds(started)})`);
}

function installWrk() {
  if (toolPath('wrk')) return;
  const started = Date.now();
  log('installing wrk (Debian package) ...');
  const sudo = process.getuid?.() === 0 ? [] : ['sudo'];
  const apt = (...args) => (sudo.length ? run('sudo', ['apt-get', ...args]) : run('apt-get', args));
  apt('update');
  apt('install', '-y', 'wrk');
  log(`wrk installed (${seconds(started)})`);
}

const INSTALLERS = { ghz: installGhz, wrk: installWrk };

/** Installs the named tools (all by default) that are missing. */
export function installTools(names = Object.keys(INSTALLERS)) {
  for (const name of names) {
    const install = INSTALLERS[name];
    if (!install) throw new Error(`unknown tool '${name}' (known: ${Object.keys(INSTALLERS).join(', ')})`);
    install();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  try {
    installTools(process.argv.length > 2 ? process.argv.slice(2) : undefined);
  } catch (error) {
    log(error.message);
    process.exit(1);
  }
}
