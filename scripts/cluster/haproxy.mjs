// HAProxy for the cluster demo: the Debian package (installed when missing
// by scripts/install-tools.mjs), a config that balances tfserve's REST (HTTP/1) and gRPC
// (h2c) ports by readiness, and its runtime API over the stats socket.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';

import { installTools, toolPath } from '../install-tools.mjs';

/** The haproxy binary; installs Debian's haproxy package first when it is missing (scripts/install-tools.mjs). */
export function ensureHaproxy() {
  installTools(['haproxy']);
  return toolPath('haproxy');
}

/** HAProxy's version line (e.g. "HAProxy version 2.6.12-1+deb12u4 ..."). */
export function haproxyVersion(binary) {
  return spawnSync(binary, ['-v'], { encoding: 'utf8' }).stdout.split('\n')[0].trim();
}

/**
 * The config: one frontend per protocol on loopback, each balancing every
 * request (round robin) over the replicas. Both backends check each replica's
 * /readyz on its REST port over HTTP/1 (a replica that is loading or
 * draining answers 503 and is taken out); a connection refused (a dead
 * replica the checks have not caught yet) is retried on another replica.
 * With l7Retries, so is a request whose connection the replica closed
 * without an answer: a SIGKILLed process's sockets live on for the tens of
 * milliseconds the kernel takes to tear it down, and connects made in that
 * window succeed and are then reset. Predict has no side effects, so a
 * retry is safe.
 * @param {{ socket: string, restPort: number, grpcPort: number, replicas: Array<{name: string, rest: number, grpc: number}>, l7Retries?: boolean }} c
 */
export function haproxyConfig({ socket, restPort, grpcPort, replicas, l7Retries = true }) {
  const servers = (proto) => replicas.map((r) => (proto === 'h2'
    ? `  server ${r.name} 127.0.0.1:${r.grpc} proto h2 check port ${r.rest} check-proto h1`
    : `  server ${r.name} 127.0.0.1:${r.rest} check`)).join('\n');
  return `global
  stats socket ${socket} mode 600 level admin
  maxconn 4096
  # One line per request on stdout: the client's x-request-id, backend, the
  # server that answered, status, termination state, retries ("+" = redispatched).
  log stdout format raw local0 info

defaults
  mode http
  log global
  log-format "%[capture.req.hdr(0)] %b %s %ST %tsc %rc"
  timeout connect 2s
  timeout client 30s
  timeout server 30s
  timeout http-request 10s
  retries 2
  # A refused connect goes to another replica at once (no turn-around delay
  # on the dead one).
  option redispatch 1
${l7Retries ? '  retry-on conn-failure empty-response\n' : ''}  # A fresh server connection for each request: a request is then never
  # written onto a pooled connection to a replica that has just died (which
  # HAProxy answers by closing the client's connection), but meets a refused
  # connect, which is sent to another replica.
  http-reuse never
  option httpchk GET /readyz
  http-check expect status 200
  default-server inter 300ms fastinter 200ms downinter 300ms fall 2 rise 1

frontend rest_in
  bind 127.0.0.1:${restPort}
  http-request capture req.hdr(x-request-id) len 48
  default_backend tfserve_rest

frontend grpc_in
  bind 127.0.0.1:${grpcPort} proto h2
  http-request capture req.hdr(x-request-id) len 48
  default_backend tfserve_grpc

backend tfserve_rest
  balance roundrobin
${servers('h1')}

backend tfserve_grpc
  balance roundrobin
${servers('h2')}
`;
}

/** HAProxy's request log (haproxyConfig's log-format) as x-request-id -> {backend, server, status, termination, retries}. */
export function readRequestLog(file) {
  const requests = new Map();
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const [id, backend, server, status, termination, retries] = line.trim().split(' ');
    if (id && id !== '-' && retries !== undefined) requests.set(id, { backend, server, status: Number(status), termination, retries: Number(retries.replace('+', '')) });
  }
  return requests;
}

/** One command on HAProxy's runtime API; resolves with its answer. */
export function haproxyCommand(socket, command) {
  return new Promise((resolve, reject) => {
    const connection = net.connect(socket);
    let answer = '';
    connection.setEncoding('utf8');
    connection.on('connect', () => connection.end(`${command}\n`));
    connection.on('data', (chunk) => (answer += chunk));
    connection.on('end', () => resolve(answer));
    connection.on('error', reject);
  });
}

/** `show stat` as rows keyed by "backend/server": {status, scur, stot, ...}. */
export async function haproxyStats(socket) {
  const text = await haproxyCommand(socket, 'show stat');
  const [header, ...lines] = text.trim().split('\n');
  const names = header.replace(/^# /, '').split(',');
  const rows = {};
  for (const line of lines) {
    const cells = line.split(',');
    const row = Object.fromEntries(names.map((n, i) => [n, cells[i]]));
    rows[`${row.pxname}/${row.svname}`] = row;
  }
  return rows;
}
