// The REST front door on a real server (127.0.0.1, free port) with real
// models and a real HTTP client: TF Serving's golden answers byte for byte,
// every kind of bad request with its status, gzip, metrics.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import zlib from 'node:zlib';

import { loadModel } from '../src';
import type { ServableLoader } from '../src/engine/servable';
import type { ModelManager } from '../src/serving/model-manager';
import { ServerMetrics } from '../src/server/metrics';
import { type RestServer, startRestServer } from '../src/server/rest';
import { fixture, needsTfServingData, readJson, tfServingData, tfServingModel } from './helpers';
import { modelConfig, testManager } from './manager-helpers';
import { get, post } from './rest-helpers';

const skip = needsTfServingData();

interface GaofeiReference {
  images: number[][];
  softmax: number[][];
  prediction: number[];
}

describe('REST API', { skip }, () => {
  let manager: ModelManager;
  let metrics: ServerMetrics;
  let rest: RestServer;
  let port: number;

  before(async () => {
    metrics = new ServerMetrics({ processMetrics: false });
    manager = testManager({
      loader: metrics.instrumentLoader(loadModel as ServableLoader),
    });
    metrics.observeManager(manager);
    await manager.setConfig([modelConfig('half_plus_two', tfServingModel('saved_model_half_plus_two_cpu'), { versionLabels: { stable: 123 } }), modelConfig('gaofei', fixture('gaofei_cnn'))]);
    rest = await startRestServer({ manager, host: '127.0.0.1', port: 0, timeoutMs: 30000, maxBodyBytes: 4 << 20, metrics, prometheusPath: '/monitoring/prometheus/metrics' });
    port = rest.port;
  });

  after(async () => {
    await rest?.close(1000);
    await manager?.close();
  });

  test('golden: regress, classify, status, and predict with [n,1] instances: byte for byte', async () => {
    const row = await post(port, '/v1/models/half_plus_two:predict', '{"instances": [[1.0], [2.0], [5.0]]}');
    assert.equal(row.status, 200, row.text);
    assert.equal(row.headers['content-type'], 'application/json');
    assert.equal(row.text, '{"predictions": [[2.5], [3.0], [4.5]]}');

    const columnar = await post(port, '/v1/models/half_plus_two:predict', '{"inputs": [[2.0], [3.0], [4.0]]}');
    assert.equal(columnar.text, '{"outputs": [[3.0], [3.5], [4.0]]}');

    const regress = await post(port, '/v1/models/half_plus_two:regress', '{"signature_name": "regress_x_to_y", "examples": [{"x": 2.0}]}');
    assert.equal(regress.status, 200, regress.text);
    assert.equal(regress.text, '{"results": [3.0]}');

    const classify = await post(port, '/v1/models/half_plus_two:classify', '{"signature_name": "classify_x_to_y", "examples": [{"x": 2.0}]}');
    assert.equal(classify.status, 200, classify.text);
    assert.equal(classify.text, '{"results": [[["", 3.0]]]}');

    const status = await get(port, '/v1/models/half_plus_two');
    assert.equal(status.status, 200);
    assert.equal(status.text, '{"model_version_status": [{"version": "123", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]}');
  });

  // TF Serving does not check request shapes against the signature (TF does
  // not either for fed placeholders), so x = [1.0, 2.0, 5.0] of shape [3]
  // runs and y comes back with shape [3].
  test('golden: predict with bare instances and inputs, byte for byte', async () => {
    const row = await post(port, '/v1/models/half_plus_two:predict', '{"instances": [1.0, 2.0, 5.0]}');
    assert.equal(row.text, '{"predictions": [2.5, 3.0, 4.5]}');
    const columnar = await post(port, '/v1/models/half_plus_two:predict', '{"inputs": [2.0, 3.0, 4.0]}');
    assert.equal(columnar.text, '{"outputs": [3.0, 3.5, 4.0]}');
  });

  test('versions and labels in the URL', async () => {
    const body = '{"instances": [[1.0]]}';
    for (const prefix of ['/v1/models/half_plus_two/versions/123', '/v1/models/half_plus_two/labels/stable']) {
      const answer = await post(port, `${prefix}:predict`, body);
      assert.equal(answer.text, '{"predictions": [[2.5]]}', prefix);
      assert.equal((await get(port, prefix)).status, 200, prefix);
    }
    assert.equal((await get(port, '/v1/models/half_plus_two/labels/stable')).text, (await get(port, '/v1/models/half_plus_two/versions/123')).text);
  });

  test("metadata: TF Serving's signature_def JSON", async () => {
    const answer = await get(port, '/v1/models/half_plus_two/metadata');
    assert.equal(answer.status, 200, answer.text);
    const ours = JSON.parse(answer.text);
    const golden = readJson<{ metadata: { signature_def: { signature_def: Record<string, unknown> } } }>(path.join(tfServingData, 'half_plus_two_model_metadata.json'));
    assert.deepEqual(ours.model_spec, { name: 'half_plus_two', signature_name: '', version: '123' });
    const expected = golden.metadata.signature_def.signature_def;
    for (const key of Object.keys(expected)) {
      assert.deepEqual(ours.metadata.signature_def.signature_def[key], expected[key], key);
      // Field order too: the JSON text of each entry is the golden's.
      assert.equal(JSON.stringify(ours.metadata.signature_def.signature_def[key]), JSON.stringify(expected[key]), key);
    }
  });

  test('the seed CNN over REST answers like TF Python', async () => {
    const ref = readJson<GaofeiReference>(path.join(fixture('gaofei_cnn'), 'reference.json'));
    const count = 4;
    const instances = ref.images.slice(0, count).map((image) => Array.from({ length: 28 }, (_, r) => image.slice(r * 28, r * 28 + 28)));
    const answer = await post(port, '/v1/models/gaofei:predict', JSON.stringify({ instances }));
    assert.equal(answer.status, 200, answer.text.slice(0, 300));
    const predictions = JSON.parse(answer.text).predictions as Array<{ prediction: number; softmax: number[] }>;
    assert.equal(predictions.length, count);
    predictions.forEach((p, i) => {
      assert.equal(p.prediction, ref.prediction[i]);
      p.softmax.forEach((v, k) => assert.ok(Math.abs(v - ref.softmax[i]![k]!) < 1e-5, `softmax[${i}][${k}]`));
    });
    const filtered = await post(port, '/v1/models/gaofei:predict', JSON.stringify({ inputs: { image: instances.slice(0, 1) } }));
    const outputs = JSON.parse(filtered.text).outputs;
    assert.deepEqual(outputs.prediction, [ref.prediction[0]]);
  });

  test('gzip request bodies', async () => {
    const body = zlib.gzipSync('{"instances": [[1.0], [2.0], [5.0]]}');
    const answer = await post(port, '/v1/models/half_plus_two:predict', body, { 'Content-Encoding': 'gzip' });
    assert.equal(answer.text, '{"predictions": [[2.5], [3.0], [4.5]]}');
    const broken = await post(port, '/v1/models/half_plus_two:predict', Buffer.from('not gzip'), { 'Content-Encoding': 'gzip' });
    assert.equal(broken.status, 400);
    assert.match(JSON.parse(broken.text).error, /Cannot decode the gzip request body/);
    const unknown = await post(port, '/v1/models/half_plus_two:predict', '{}', { 'Content-Encoding': 'br' });
    assert.equal(unknown.status, 415);
  });

  test('bad requests get their status and a clear error; the server keeps serving', async () => {
    const image = JSON.stringify(Array.from({ length: 28 }, () => new Array(28).fill(0)));
    const cases: Array<[string, string, string, number, RegExp]> = [
      ['malformed JSON', '/v1/models/half_plus_two:predict', '{"instances": [1.0,', 400, /JSON Parse error/],
      ['not an object', '/v1/models/half_plus_two:predict', '[1.0]', 400, /Is not object/],
      ['unknown model', '/v1/models/nope:predict', '{"instances": [1.0]}', 404, /nope/],
      ['unknown version', '/v1/models/half_plus_two/versions/7:predict', '{"instances": [1.0]}', 404, /version 7/],
      ['unknown label', '/v1/models/half_plus_two/labels/canary:predict', '{"instances": [1.0]}', 400, /label: canary/],
      ['unknown signature', '/v1/models/half_plus_two:predict', '{"signature_name": "nope", "instances": [1.0]}', 400, /"nope" not found/],
      ['wrong dtype', '/v1/models/half_plus_two:predict', '{"instances": ["a"]}', 400, /"a" Type: String is not of expected type: float/],
      ['wrong shape', '/v1/models/gaofei:predict', '{"instances": [[1.0, 2.0]]}', 400, /shape/],
      ['ragged instances', '/v1/models/gaofei:predict', `{"instances": [${image}, [[1.0]]]}`, 400, /Expecting shape \[28,28\]/],
      ['missing inputs', '/v1/models/gaofei:predict', '{"inputs": {}}', 400, /missing input/],
      ['unknown input', '/v1/models/gaofei:predict', '{"inputs": {"img": [1]}}', 400, /does not have named input: img/],
      ['empty batch', '/v1/models/half_plus_two:predict', '{"instances": []}', 400, /No values in 'instances'/],
      ['no examples', '/v1/models/half_plus_two:regress', '{"signature_name": "regress_x_to_y", "examples": []}', 400, /empty array/],
      ['classify on a regress signature', '/v1/models/half_plus_two:classify', '{"signature_name": "regress_x_to_y", "examples": [{"x": 1.0}]}', 400, /neither a 'classes' nor a 'scores' output/],
      ['unknown verb', '/v1/models/half_plus_two:explain', '{}', 400, /Malformed request: POST/],
    ];
    for (const [what, url, body, status, pattern] of cases) {
      const answer = await post(port, url, body);
      assert.equal(answer.status, status, `${what}: ${answer.text}`);
      assert.equal(answer.headers['content-type'], 'application/json', what);
      const error = JSON.parse(answer.text).error as string;
      assert.match(error, pattern, what);
      const good = await post(port, '/v1/models/half_plus_two:predict', '{"instances": [[1.0]]}');
      assert.equal(good.status, 200, `after ${what}`);
    }
    assert.equal((await get(port, '/v1/models/half_plus_two:predict')).status, 400);
    assert.equal((await get(port, '/v1/models/nope')).status, 404);
    assert.equal((await get(port, '/v1/models/half_plus_two/versions/9')).status, 404);
    assert.equal((await get(port, '/elsewhere')).status, 404);
  });

  test('an oversized body gets 413, declared or not', async () => {
    const big = `{"instances": [${new Array(1 << 20).fill('1.0').join(',')}]}`;
    const declared = await post(port, '/v1/models/half_plus_two:predict', big);
    assert.equal(declared.status, 413);
    assert.match(JSON.parse(declared.text).error, /larger than the limit of 4194304 bytes/);
    const gzipped = await post(port, '/v1/models/half_plus_two:predict', zlib.gzipSync(big), { 'Content-Encoding': 'gzip' });
    assert.equal(gzipped.status, 413);
    assert.equal((await post(port, '/v1/models/half_plus_two:predict', '{"instances": [[1.0]]}')).status, 200);
  });

  test('liveness and readiness', async () => {
    assert.equal((await get(port, '/healthz')).status, 200);
    assert.equal((await get(port, '/readyz')).status, 200);
  });

  test('Prometheus metrics: requests by model and status, latencies, loads, loaded versions', async () => {
    for (let i = 0; i < 2; i++) assert.equal((await post(port, '/v1/models/half_plus_two:predict', '{"instances": [[1.0]]}')).status, 200);
    await post(port, '/v1/models/half_plus_two:predict', '{"instances": ["x"]}');
    const answer = await get(port, '/monitoring/prometheus/metrics');
    assert.equal(answer.status, 200);
    assert.match(String(answer.headers['content-type']), /^text\/plain/);
    const text = answer.text;
    const value = (series: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      assert.ok(line, `${series} in\n${text}`);
      return Number(line.slice(series.length + 1));
    };
    assert.ok(value(':tensorflow:serving:request_count{model_name="half_plus_two",status="OK"}') >= 2);
    assert.ok(value(':tensorflow:serving:request_count{model_name="half_plus_two",status="INVALID_ARGUMENT"}') >= 1);
    assert.ok(value(':tensorflow:serving:request_latency_count{model_name="half_plus_two",API="predict",entrypoint="REST"}') >= 2);
    assert.ok(value(':tensorflow:serving:runtime_latency_count{model_name="half_plus_two",API="predict",runtime="TF1"}') >= 1);
    assert.equal(value('tfserve_model_load_seconds_count{model_name="half_plus_two",status="ok"}'), 1);
    assert.equal(value('tfserve_loaded_model_versions{model_name="half_plus_two"}'), 1);
    assert.equal(value('tfserve_loaded_model_versions{model_name="gaofei"}'), 1);
  });
});

describe('REST API without TF Serving data', () => {
  test('timeout: 504 past --rest_api_timeout_in_ms, and the server keeps serving', async () => {
    const manager = testManager();
    await manager.setConfig([modelConfig('gaofei', fixture('gaofei_cnn'))]);
    const rest = await startRestServer({ manager, host: '127.0.0.1', port: 0, timeoutMs: 1, maxBodyBytes: 64 << 20 });
    try {
      const image = Array.from({ length: 28 }, () => new Array(28).fill(0.5));
      const answer = await post(rest.port, '/v1/models/gaofei:predict', JSON.stringify({ instances: new Array(256).fill(image) }));
      assert.equal(answer.status, 504, answer.text.slice(0, 200));
      assert.match(JSON.parse(answer.text).error, /timed out after 1 ms/);
      assert.equal((await get(rest.port, '/v1/models/gaofei')).status, 200);
    } finally {
      await rest.close(5000);
      await manager.close();
    }
  });

  test('readiness: 503 while a model loads or has no version, 200 once all are AVAILABLE', async () => {
    const manager = testManager();
    const rest = await startRestServer({ manager, host: '127.0.0.1', port: 0, timeoutMs: 0, maxBodyBytes: 1 << 20 });
    try {
      const loading = manager.setConfig([modelConfig('gaofei', fixture('gaofei_cnn'))]);
      const early = await get(rest.port, '/readyz');
      await loading;
      assert.equal(early.status, 503, early.text);
      assert.equal((await get(rest.port, '/readyz')).status, 200);
      await manager.setConfig([modelConfig('gaofei', fixture('gaofei_cnn')), modelConfig('missing', path.join(fixture('gaofei_cnn'), 'no-such-dir'))]);
      const missing = await get(rest.port, '/readyz');
      assert.equal(missing.status, 503);
      assert.equal((await get(rest.port, '/healthz')).status, 200);
    } finally {
      await rest.close(5000);
      await manager.close();
    }
  });
});
