// The cluster demo's load: closed loops of REST and gRPC Predict calls on
// half_plus_two through the balancer, each call checked (status, values; the
// model version gRPC reports is counted), every failure kept with its time.
import http from 'node:http';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import grpc from '@grpc/grpc-js';

import { REPO_ROOT } from '../paths.mjs';

const { servingType } = await import(path.join(REPO_ROOT, 'dist', 'src', 'serving', 'protos.js'));
const PredictRequest = servingType('tensorflow.serving.PredictRequest');
const PredictResponse = servingType('tensorflow.serving.PredictResponse');

const INSTANCES = [1, 2, 5];
const EXPECTED = [2.5, 3, 4.5];
const REST_BODY = JSON.stringify({ instances: INSTANCES });
const GRPC_REQUEST = Buffer.from(PredictRequest.encode(PredictRequest.fromObject({
  modelSpec: { name: 'half_plus_two' },
  inputs: { x: { dtype: 'DT_FLOAT', tensorShape: { dim: [{ size: INSTANCES.length }] }, floatVal: INSTANCES } },
})).finish());
const CALL_TIMEOUT_MS = 10_000;
/** A short pause between a caller's calls leaves the shared machine's CPUs some room. */
const PAUSE_MS = 2;

function sameValues(values) {
  return values.length === EXPECTED.length && values.every((v, i) => Math.abs(v - EXPECTED[i]) < 1e-6);
}

export class Load {
  /** @param {{ tag: string, restPort: number, grpcPort: number, restClients?: number, grpcClients?: number }} options */
  constructor({ tag, restPort, grpcPort, restClients = 4, grpcClients = 4 }) {
    this.tag = tag;
    this.restPort = restPort;
    this.agent = new http.Agent({ keepAlive: true, maxSockets: restClients });
    this.grpc = new grpc.Client(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure());
    this.clients = { rest: restClients, grpc: grpcClients };
    this.ok = { rest: 0, grpc: 0 };
    this.failures = [];
    this.versions = {};
    /** id -> start time of every call not answered yet; each call's id goes to HAProxy in x-request-id, which its log records with the server. */
    this.outstanding = new Map();
    this.nextId = 0;
    this.running = false;
    this.loops = [];
  }

  restCall(id) {
    return new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: this.restPort, method: 'POST', path: '/v1/models/half_plus_two:predict', agent: this.agent, timeout: CALL_TIMEOUT_MS,
        headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(REST_BODY), 'x-request-id': id } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => {
          if (res.statusCode !== 200) return reject(new Error(`HTTP ${res.statusCode}: ${text.slice(0, 120)}`));
          const predictions = JSON.parse(text).predictions;
          if (!sameValues(predictions)) return reject(new Error(`wrong predictions ${JSON.stringify(predictions)}`));
          resolve();
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', reject);
      req.end(REST_BODY);
    });
  }

  grpcCall(id) {
    const metadata = new grpc.Metadata();
    metadata.set('x-request-id', id);
    return new Promise((resolve, reject) => {
      this.grpc.makeUnaryRequest('/tensorflow.serving.PredictionService/Predict', (b) => b, (b) => b, GRPC_REQUEST, metadata, { deadline: Date.now() + CALL_TIMEOUT_MS }, (error, response) => {
        if (error) return reject(new Error(`gRPC ${grpc.status[error.code]}: ${error.details}`));
        const decoded = PredictResponse.toObject(PredictResponse.decode(response), { longs: Number });
        const values = decoded.outputs?.y?.floatVal ?? [];
        if (!sameValues(values)) return reject(new Error(`wrong outputs ${JSON.stringify(values)}`));
        const version = decoded.modelSpec?.version?.value ?? 'none';
        this.versions[version] = (this.versions[version] ?? 0) + 1;
        resolve();
      });
    });
  }

  async loop(kind) {
    const call = kind === 'rest' ? (id) => this.restCall(id) : (id) => this.grpcCall(id);
    while (this.running) {
      const id = `${this.tag}-${kind}-${this.nextId++}`;
      const startedAt = Date.now();
      this.outstanding.set(id, startedAt);
      try {
        await call(id);
        this.ok[kind]++;
      } catch (error) {
        this.failures.push({ id, kind, startedAt, at: Date.now(), message: error.message });
      } finally {
        this.outstanding.delete(id);
      }
      await sleep(PAUSE_MS);
    }
  }

  start() {
    this.running = true;
    this.startedAt = Date.now();
    for (const kind of ['rest', 'grpc']) for (let i = 0; i < this.clients[kind]; i++) this.loops.push(this.loop(kind));
    return this;
  }

  /** Stops the callers once their current calls are answered; returns the totals. */
  async stop() {
    this.running = false;
    await Promise.all(this.loops);
    this.agent.destroy();
    this.grpc.close();
    const seconds = (Date.now() - this.startedAt) / 1000;
    const ok = this.ok.rest + this.ok.grpc;
    return { seconds, ok, okRest: this.ok.rest, okGrpc: this.ok.grpc, failed: this.failures.length, requests: ok + this.failures.length, failures: this.failures, versions: this.versions };
  }
}
