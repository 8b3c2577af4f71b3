// Tools the npm scripts drive, installed from their ordinary registries into
// places the repository ignores:
//
//   ghz      (Go gRPC load generator)  go install ...@<version>  -> .tools/bin/ghz
//            (Go itself, when missing: the Debian package golang-go)
//   wrk      (HTTP/1.1 load generator) the Debian package         -> /usr/bin/wrk
//   haproxy  (load balancer)           the Debian package         -> /usr/sbin/haproxy
//
//   node scripts/install-tools.mjs [ghz] [wrk] [haproxy]     (default: all)
//
// ghz and wrk serve `npm run bench:front-door`, haproxy `npm run demo:cluster`;
// each script calls installTools() for what it needs.
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

/** Where a tool is: .tools/bin first, then PATH, then the sbin directories a non-root PATH may lack; null when missing. */
export function toolPath(name) {
  const local = path.join(TOOLS_BIN, name);
  if (existsSync(local)) return local;
  return onPath(name) ?? ['/usr/sbin', '/usr/local/sbin'].map((dir) => path.join(dir, name)).find((p) => existsSync(p)) ?? null;
}

// Installers' output goes to stderr: callers such as `demo.mjs --json` keep stdout for their result.
function run(command, args, env = process.env) {
  const result = spawnSync(command, args, { stdio: ['ignore', 2, 'inherit'], env });
  if (result.error) throw new Error(`${command}: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${result.status}`);
}

/**
 * Installs a Debian package: apt-get as root, else through sudo. The package
 * lists are refreshed only when the first attempt fails (a fresh image has
 * none). Without the sanitizer preload of `npm run test:asan`: apt and dpkg
 * are not under test.
 */
function aptInstall(pkg) {
  const { LD_PRELOAD: _preload, ...inherited } = process.env;
  const env = { ...inherited, DEBIAN_FRONTEND: 'noninteractive' };
  const apt = (...args) => (process.getuid?.() === 0 ? run('apt-get', args, env) : run('sudo', ['env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', ...args], env));
  const started = Date.now();
  log(`installing ${pkg} (Debian package) ...`);
  try {
    apt('install', '-y', '--no-install-recommends', pkg);
  } catch {
    apt('update');
    apt('install', '-y', '--no-install-recommends', pkg);
  }
  log(`${pkg} installed (${seconds(started)})`);
}

function goBinary() {
  return onPath('go') ?? ['/usr/local/go/bin/go', '/usr/lib/go/bin/go'].find((p) => existsSync(p)) ?? null;
}

function installGhz() {
  if (toolPath('ghz')) return;
  let go = goBinary();
  if (!go) {
    // ghz's go.mod asks for Go 1.14, so Debian's golang-go (1.19 on bookworm) builds it.
    aptInstall('golang-go');
    go = goBinary();
    if (!go) throw new Error('the golang-go package installed but no go binary was found');
  }
  mkdirSync(TOOLS_BIN, { recursive: true });
  const started = Date.now();
  log(`installing ${GHZ_MODULE} into ${TOOLS_BIN} ...`);
  run(go, ['install', GHZ_MODULE], { ...process.env, GOBIN: TOOLS_BIN });
  log(`ghz installed (${seconds(started)})`);
}

function installDebian(name) {
  if (toolPath(name)) return;
  aptInstall(name);
  if (!toolPath(name)) throw new Error(`the ${name} package installed but no ${name} binary was found`);
}

const INSTALLERS = new Map([
  ['ghz', installGhz],
  ['wrk', () => installDebian('wrk')],
  ['haproxy', () => installDebian('haproxy')],
]);

/** Installs the named tools (all by default) that are missing. */
export function installTools(names = [...INSTALLERS.keys()]) {
  for (const name of names) {
    const install = INSTALLERS.get(name);
    if (!install) throw new Error(`unknown tool '${name}' (known: ${[...INSTALLERS.keys()].join(', ')})`);
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
