// The metrics registry on its own: gRPC request records, batching metrics
// fed through registerBatchingMetrics.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { loadModel } from '../src';
import { ServerMetrics, apiLabel, registerBatchingMetrics } from '../src/server/metrics';
import { fixture } from './helpers';

test('gRPC method names become TF Serving API labels', () => {
  assert.equal(apiLabel('Predict'), 'predict');
  assert.equal(apiLabel('GetModelMetadata'), 'get_model_metadata');
  assert.equal(apiLabel('MultiInference'), 'multi_inference');
});

test('gRPC requests are counted with entrypoint GRPC', async () => {
  const metrics = new ServerMetrics({ processMetrics: false });
  const record = metrics.grpcRecorder();
  record({ service: 'tensorflow.serving.PredictionService', method: 'Predict', model: 'm', code: 'OK', seconds: 0.002 });
  record({ service: 'tensorflow.serving.PredictionService', method: 'Predict', model: 'm', code: 'NOT_FOUND', seconds: 0.001 });
  const text = await metrics.exposition();
  assert.match(text, /:tensorflow:serving:request_count\{model_name="m",status="OK"\} 1/);
  assert.match(text, /:tensorflow:serving:request_count\{model_name="m",status="NOT_FOUND"\} 1/);
  assert.match(text, /:tensorflow:serving:request_latency_sum\{model_name="m",API="predict",entrypoint="GRPC"\} 3000/);
  assert.doesNotMatch(text, /tfserve_batch/, 'no batching series before a batcher registers');
});

test('registerBatchingMetrics: batch sizes, padding, queue latency and depth, read from the batcher at scrape time', async () => {
  const metrics = new ServerMetrics({ processMetrics: false });
  const model = await loadModel(fixture('multi_sig'), { batching: { maxBatchSize: 4, allowedBatchSizes: [2, 4], batchTimeoutMicros: 20000 } });
  try {
    registerBatchingMetrics(metrics, () => [{ model: 'm', stats: model.batchingStats() }]);
    let text = await metrics.exposition();
    assert.doesNotMatch(text, /tfserve_batch_size_count/, 'no series before the model batched anything');
    // 3 concurrent rows: one batch of 3 padded to 4.
    await Promise.all([1, 2, 3].map((v) => model.predict({ x: { shape: [1, 2], data: [v, v] } })));
    text = await metrics.exposition();
    assert.match(text, /tfserve_batch_size_count\{model_name="m"\} 1/);
    assert.match(text, /tfserve_batch_size_sum\{model_name="m"\} 4/);
    assert.match(text, /tfserve_batch_size_bucket\{le="2",model_name="m"\} 0/);
    assert.match(text, /tfserve_batch_size_bucket\{le="4",model_name="m"\} 1/);
    assert.match(text, /tfserve_batch_padding_rows\{model_name="m"\} 1/);
    assert.match(text, /tfserve_batch_queue_latency_seconds_count\{model_name="m"\} 3/);
    assert.match(text, /tfserve_batch_queue_latency_seconds_bucket\{le="\+Inf",model_name="m"\} 3/);
    assert.match(text, /tfserve_batch_queue_depth\{model_name="m"\} 0/);
  } finally {
    await model.unload();
  }
});
