// The metrics registry on its own: gRPC request records, batching metrics
// fed through registerBatchingMetrics.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ServerMetrics, apiLabel, registerBatchingMetrics } from '../src/server/metrics';

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

test('registerBatchingMetrics: batch sizes, padding, queue latency, queue depth read at scrape time', async () => {
  const metrics = new ServerMetrics({ processMetrics: false });
  let depth = 3;
  const recorder = registerBatchingMetrics(metrics, { queueDepths: () => [{ model: 'm', depth }] });
  recorder.batch('m', 5, 3);
  recorder.batch('m', 8, 0);
  recorder.queued('m', 0.004);
  let text = await metrics.exposition();
  assert.match(text, /tfserve_batch_size_count\{model_name="m"\} 2/);
  assert.match(text, /tfserve_batch_size_sum\{model_name="m"\} 13/);
  assert.match(text, /tfserve_batch_size_bucket\{le="8",model_name="m"\} 2/);
  assert.match(text, /tfserve_batch_size_bucket\{le="4",model_name="m"\} 0/);
  assert.match(text, /tfserve_batch_padding_rows_sum\{model_name="m"\} 3/);
  assert.match(text, /tfserve_batch_queue_latency_seconds_count\{model_name="m"\} 1/);
  assert.match(text, /tfserve_batch_queue_depth\{model_name="m"\} 3/);
  depth = 0;
  text = await metrics.exposition();
  assert.match(text, /tfserve_batch_queue_depth\{model_name="m"\} 0/);
});
