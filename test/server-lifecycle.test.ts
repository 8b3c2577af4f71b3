// The tfserve binary: started on free ports, queried over REST and gRPC
// under load, then SIGTERM: every request sent before the signal is
// answered and the process exits 0.
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';

import * as grpc from '@grpc/grpc-js';

import { servingType } from '../src/serving/protos';
import { fixture, freePort, spawnCli, waitForOutput } from './helpers';
import { get } from './rest-helpers';

test('bad command lines exit 2 with a clear message; --help exits 0', async () => {
  const unknown = spawnCli(['--model_base_path=/m', '--rest_port=1']);
  assert.equal((await unknown.exited).code, 2);
  assert.match(unknown.output(), /tfserve: unknown flag --rest_port/);
  const conflict = spawnCli(['--model_base_path=/m', '--rest_api_port=8500']);
  assert.equal((await conflict.exited).code, 2);
  assert.match(conflict.output(), /--rest_api_port and --port are both 8500/);
  const help = spawnCli(['--help']);
  assert.equal((await help.exited).code, 0);
  assert.match(help.output(), /--model_config_file_poll_wait_seconds=INT/);
});

interface Sent {
  at: number;
  ok: boolean;
  detail: string;
}

test('SIGTERM under load: every request sent before the signal gets its answer, exit code 0', async (t) => {
  const [grpcPort, restPort] = [await freePort(), await freePort()];
  const server = spawnCli([
    `--port=${grpcPort}`,
    `--rest_api_port=${restPort}`,
    '--bind_address=127.0.0.1',
    '--model_name=gaofei',
    `--model_base_path=${fixture('gaofei_cnn')}`,
    '--file_system_poll_wait_seconds=0',
  ]);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const client = new grpc.Client(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure());
  try {
    await waitForOutput(server, /version 0: AVAILABLE/, 30000);
    assert.equal((await get(restPort, '/readyz')).status, 200);

    const batch = 16;
    const images = Array.from({ length: batch }, () => Array.from({ length: 28 }, () => new Array(28).fill(0.25)));
    const restBody = JSON.stringify({ instances: images });
    const PredictRequest = servingType('tensorflow.serving.PredictRequest');
    const PredictResponse = servingType('tensorflow.serving.PredictResponse');
    const grpcBody = Buffer.from(
      PredictRequest.encode(
        PredictRequest.fromObject({
          modelSpec: { name: 'gaofei' },
          inputs: { image: { dtype: 'DT_FLOAT', tensorShape: { dim: [{ size: batch }, { size: 28 }, { size: 28 }] }, tensorContent: Buffer.from(new Float32Array(batch * 784).fill(0.25).buffer) } },
        }),
      ).finish(),
    );

    const restCall = () =>
      new Promise<Sent>((resolve) => {
        const at = Date.now();
        const req = http.request({ host: '127.0.0.1', port: restPort, method: 'POST', path: '/v1/models/gaofei:predict', agent, headers: { 'Content-Length': Buffer.byteLength(restBody) } }, (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => (text += chunk.toString()));
          res.on('end', () => resolve({ at, ok: res.statusCode === 200 && (JSON.parse(text).predictions as unknown[]).length === batch, detail: `REST ${res.statusCode} ${text.slice(0, 100)}` }));
        });
        req.on('error', (error) => resolve({ at, ok: false, detail: `REST ${error.message}` }));
        req.end(restBody);
      });
    const grpcCall = () =>
      new Promise<Sent>((resolve) => {
        const at = Date.now();
        client.makeUnaryRequest(
          '/tensorflow.serving.PredictionService/Predict',
          (b: Buffer) => b,
          (b: Buffer) => b,
          grpcBody,
          (error, response) => {
            if (error || !response) return resolve({ at, ok: false, detail: `gRPC ${error?.code} ${error?.message}` });
            const decoded = PredictResponse.decode(response) as unknown as { outputs: Record<string, { tensorShape: { dim: Array<{ size: number }> } }> };
            resolve({ at, ok: Number(decoded.outputs.prediction?.tensorShape.dim[0]?.size) === batch, detail: 'gRPC answer' });
          },
        );
      });

    const sent: Sent[] = [];
    let signalAt = Infinity;
    const loop = async (call: () => Promise<Sent>) => {
      // Bounded: stops at the first failure after the signal, or after 400 requests.
      for (let i = 0; i < 400; i++) {
        const result = await call();
        sent.push(result);
        if (result.at > signalAt && !result.ok) return;
        if (Date.now() > signalAt + 5000) return;
      }
    };
    const loops = [restCall, restCall, restCall, grpcCall, grpcCall, grpcCall].map((call) => loop(call));
    await new Promise((resolve) => setTimeout(resolve, 600));
    signalAt = Date.now();
    server.child.kill('SIGTERM');
    const [exit] = await Promise.all([server.exited, ...loops]);

    const before = sent.filter((s) => s.at < signalAt);
    const lost = before.filter((s) => !s.ok);
    const after = sent.filter((s) => s.at >= signalAt);
    t.diagnostic(`${before.length} requests before SIGTERM, all answered: ${lost.length === 0}; ${after.length} after it (${after.filter((s) => !s.ok).length} refused)`);
    assert.ok(before.length >= 6, `only ${before.length} requests before the signal`);
    assert.deepEqual(lost, [], `${lost.length} of ${before.length} requests sent before SIGTERM failed`);
    assert.deepEqual(exit, { code: 0, signal: null }, server.output());
    assert.match(server.output(), /SIGTERM received/);
    assert.match(server.output(), /shut down/);
  } finally {
    agent.destroy();
    client.close();
    if (server.child.exitCode === null) server.child.kill('SIGKILL');
  }
});
