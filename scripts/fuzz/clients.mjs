// The fuzzer's two clients, both reused for every request: one gRPC channel
// (raw bytes in, raw bytes out, so that mutated messages go as they are) and
// one keep-alive HTTP agent. Each call resolves to an outcome, never throws.
import http from 'node:http';

import grpc from '@grpc/grpc-js';

/** Past this a call counts as hung. */
export const HANG_MS = 10_000;

const identity = (b) => b;
const GRPC_CODE_NAMES = Object.fromEntries(Object.entries(grpc.status).map(([name, code]) => [code, name]));

export class Clients {
  constructor(server, concurrency) {
    this.server = server;
    this.concurrency = concurrency;
    this.open();
  }

  /** (Re)creates both clients: after a restart the old channel may sit in reconnect backoff. */
  open() {
    this.close();
    this.grpc = new grpc.Client(`127.0.0.1:${this.server.grpcPort}`, grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
      'grpc.max_send_message_length': 64 * 1024 * 1024,
    });
    this.agent = new http.Agent({ keepAlive: true, maxSockets: this.concurrency });
  }

  close() {
    this.grpc?.close();
    this.agent?.destroy();
  }

  /** { door, status (gRPC code name or HTTP status or 'error:...'), ms, body?, details?, hung? } */
  send(request) {
    return request.door === 'grpc' ? this.sendGrpc(request) : this.sendRest(request);
  }

  sendGrpc(request) {
    const started = Date.now();
    return new Promise((resolve) => {
      this.grpc.makeUnaryRequest(request.method, identity, identity, request.body, new grpc.Metadata(), { deadline: started + HANG_MS }, (error, response) => {
        const ms = Date.now() - started;
        if (!error) return resolve({ door: 'grpc', status: 'OK', ms, body: response });
        const status = GRPC_CODE_NAMES[error.code] ?? `code ${error.code}`;
        resolve({ door: 'grpc', status, ms, details: error.details, hung: error.code === grpc.status.DEADLINE_EXCEEDED && ms >= HANG_MS });
      });
    });
  }

  sendRest(request) {
    const started = Date.now();
    return new Promise((resolve) => {
      let settled = false;
      const finish = (outcome) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ door: 'rest', ms: Date.now() - started, ...outcome });
      };
      const headers = { ...request.headers };
      // Always bytes: a string's length is not its byte count, and a wrong content-length would desync the keep-alive socket.
      const body = request.body === undefined ? undefined : Buffer.from(request.body);
      if (body) headers['content-length'] = body.length;
      const req = http.request({ host: '127.0.0.1', port: this.server.restPort, method: request.httpMethod, path: request.path, headers, agent: this.agent }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => finish({ status: res.statusCode, body: Buffer.concat(chunks), contentType: res.headers['content-type'] }));
        res.on('error', (e) => finish({ status: `error:${e.code ?? e.message}` }));
      });
      const timer = setTimeout(() => {
        finish({ status: 'error:hang', hung: true });
        req.destroy();
      }, HANG_MS);
      req.on('error', (e) => finish({ status: `error:${e.code ?? e.message}` }));
      req.end(body);
    });
  }
}
