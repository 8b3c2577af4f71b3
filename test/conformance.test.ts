// tensorflow_model_server's command line and start-up as its own test suite
// relies on them: every flag it defines is accepted, --grpc_channel_arguments
// reaches grpc-js, a stale unix socket does not stop the next server, the
// ports open after the first loads, config errors carry TF Serving's words.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import * as grpc from '@grpc/grpc-js';

import { FLAG_SPECS, FlagError, inertFlagNotices, parseCommandLine } from '../src/server/flags';
import { type GrpcServer, startGrpcServer } from '../src/server/grpc';
import { encodeMetadataResponse } from '../src/server/rest-metadata';
import { REGRESS_METHOD, modelMetadata, multiInference, regress } from '../src/serving/inference';
import type { ModelManager } from '../src/serving/model-manager';
import { servingType } from '../src/serving/protos';
import { parseGrpcChannelArguments } from '../src/server/grpc-channel-args';
import { freePort, needsTfServingData, repoRoot, spawnCli, tfServingModel, waitForOutput } from './helpers';
import { modelConfig, testManager } from './manager-helpers';

/** Every flag tensorflow_model_server's main.cc defines (TF Serving at the suite's commit). */
const TF_SERVING_FLAGS = [
  'allow_version_labels_for_unavailable_models', 'batching_parameters_file', 'enable_batching', 'enable_grpc_healthcheck_service',
  'enable_model_warmup', 'enable_per_model_batching_parameters', 'enable_profiler', 'enable_serialization_as_tensor_content',
  'enable_signature_method_name_check', 'file_system_poll_wait_seconds', 'flush_filesystem_caches', 'grpc_channel_arguments',
  'grpc_max_threads', 'grpc_socket_path', 'load_retry_interval_micros', 'max_num_load_retries', 'mixed_precision', 'model_base_path',
  'model_config_file', 'model_config_file_poll_wait_seconds', 'model_name', 'monitoring_config_file', 'num_load_threads',
  'num_request_iterations_for_warmup', 'num_tflite_interpreters_per_pool', 'num_tflite_pools', 'num_unload_threads',
  'per_process_gpu_memory_fraction', 'platform_config_file', 'port', 'prefer_tflite_model', 'remove_unused_fields_from_bundle_metagraph',
  'rest_api_enable_cors_support', 'rest_api_num_threads', 'rest_api_port', 'rest_api_timeout_in_ms', 'saved_model_tags',
  'skip_initialize_tpu', 'ssl_config_file', 'tensorflow_inter_op_parallelism', 'tensorflow_intra_op_parallelism',
  'tensorflow_session_config_file', 'tensorflow_session_parallelism', 'thread_pool_factory_config_file', 'use_alts_credentials',
  'version', 'xla_cpu_compilation_enabled', 'xla_gpu_compilation_enabled',
];

test("every tensorflow_model_server flag is accepted; the ignored ones say why", () => {
  const parsed = parseCommandLine(['--model_base_path=/m', '--prefer_tflite_model=true', '--num_tflite_pools=2', '--grpc_max_threads=8', '--saved_model_tags=serve,gpu']);
  assert.equal(parsed.help, false);
  if (parsed.help) return;
  assert.equal(parsed.flags.preferTfliteModel, true);
  assert.equal(parsed.flags.savedModelTags, 'serve,gpu');
  const notices = inertFlagNotices(parsed.given);
  assert.equal(notices.length, 2);
  // --prefer_tflite_model takes effect (LiteRT); the pool sizes do not.
  assert.doesNotMatch(notices.join('\n'), /--prefer_tflite_model/);
  assert.match(notices.join('\n'), /--num_tflite_pools has no effect in tfserve: .*LiteRT compiled model/);
  assert.match(notices.join('\n'), /--grpc_max_threads has no effect in tfserve/);
  // Each flag parses given with a value of its kind.
  const specs = new Map(FLAG_SPECS.map((spec) => [spec.name, spec]));
  for (const name of TF_SERVING_FLAGS) {
    const spec = specs.get(name);
    assert.ok(spec, `--${name} is not accepted`);
    if (['model_base_path', 'model_config_file', 'ssl_config_file', 'use_alts_credentials', 'version'].includes(name)) continue;
    const value = spec.kind === 'bool' ? 'true' : spec.kind === 'string' ? 'x' : '0';
    const one = parseCommandLine(['--model_base_path=/m', '--enable_batching', `--${name}=${value}`].filter((arg, i) => i < 2 || !arg.startsWith('--enable_batching=')));
    assert.equal(one.help, false, name);
  }
  // TLS asked for but not served would be plaintext where the user expects TLS: refused.
  assert.throws(() => parseCommandLine(['--model_base_path=/m', '--ssl_config_file=/etc/ssl.cfg']), (e: unknown) => e instanceof FlagError && /plaintext/.test(e.message));
  assert.throws(() => parseCommandLine(['--model_base_path=/m', '--use_alts_credentials']), FlagError);
});

test('--grpc_channel_arguments: integers and strings as tensorflow_model_server reads them; what grpc-js cannot apply is reported', () => {
  const args = parseGrpcChannelArguments('grpc.max_connection_age_ms=2000,grpc.lb_policy_name=grpclb,grpc.so_reuseaddr=1, grpc.max_concurrent_streams=7,grpc.max_connection_age_ms=3000');
  assert.deepEqual(args.options, { 'grpc.max_connection_age_ms': 3000, 'grpc.max_concurrent_streams': 7 });
  assert.equal(args.applied.length, 3);
  assert.deepEqual(args.ignored, ['grpc.lb_policy_name: not a server argument grpc-js reads']);
  assert.throws(() => parseGrpcChannelArguments('grpc.max_connection_age_ms=soon'), /takes an integer/);
  assert.throws(() => parseGrpcChannelArguments('novalue'), /not key=value/);
  assert.deepEqual(parseGrpcChannelArguments('').options, {});
});

test('--version prints the server and TensorFlow versions and exits 0, without a model', async () => {
  const cli = spawnCli(['--version']);
  assert.equal((await cli.exited).code, 0);
  // Lines of their own, whatever TF logs around them: TF 2.16 and later log
  // through absl, whose lines from TF's library load reach stderr before any
  // log level setting can (docs/libtensorflow.md).
  assert.match(cli.output(), /^TensorFlow ModelServer: tfserve-\d+\.\d+\.\d+\nTensorFlow Library: 2\.\d+/m);
});

test("a bad --model_config_file names TF Serving's text-format error on stderr", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfserve-conf-'));
  const config = path.join(dir, 'bad.config');
  fs.writeFileSync(config, 'improperly formatted file');
  const cli = spawnCli([`--model_config_file=${config}`, '--port=0']);
  assert.equal((await cli.exited).code, 1);
  assert.match(cli.output(), /Error parsing text-format tensorflow\.serving\.ModelServerConfig: .*bad\.config:1:1/);
});

function getJson(port: number, urlPath: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: urlPath }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

test('ports open after the first load, as tensorflow_model_server; --serve_during_load opens them first', { skip: needsTfServingData() }, async (t) => {
  const base = tfServingModel('saved_model_half_plus_two_cpu');
  for (const early of [false, true]) {
    const [port, restPort] = [await freePort(), await freePort()];
    const args = [`--port=${port}`, `--rest_api_port=${restPort}`, '--bind_address=127.0.0.1', '--model_name=half', `--model_base_path=${base}`];
    const cli = spawnCli(early ? [...args, '--serve_during_load'] : args);
    t.after(() => cli.child.kill('SIGKILL'));
    await waitForOutput(cli, /Exporting HTTP\/REST API/, 60_000);
    const out = cli.output();
    const loadedAt = out.indexOf("model 'half' version 123 loaded");
    const runningAt = out.indexOf('Running gRPC ModelServer');
    if (early) {
      assert.ok(runningAt >= 0 && (loadedAt < 0 || runningAt < loadedAt), out);
    } else {
      assert.ok(loadedAt >= 0 && loadedAt < runningAt, out);
      // The moment the port answers, the model does too.
      const status = await getJson(restPort, '/v1/models/half');
      assert.equal(status.status, 200);
      assert.match(status.body, /"state": "AVAILABLE"/);
    }
    cli.child.kill('SIGTERM');
    assert.equal((await cli.exited).code, 0);
  }
});

test('a stale unix socket file left by a killed server is replaced, as gRPC core does', { skip: needsTfServingData() }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfserve-sock-'));
  const socketPath = path.join(dir, 'tf-serving.sock');
  // A socket file with nothing listening, as a SIGKILLed server leaves it.
  execFileSync('python3', ['-c', `import socket; s = socket.socket(socket.AF_UNIX); s.bind(${JSON.stringify(socketPath)})`]);
  assert.ok(fs.lstatSync(socketPath).isSocket());
  const port = await freePort();
  const cli = spawnCli([`--port=${port}`, '--bind_address=127.0.0.1', `--grpc_socket_path=${socketPath}`, `--model_base_path=${tfServingModel('saved_model_half_plus_two_cpu')}`]);
  t.after(() => cli.child.kill('SIGKILL'));
  await waitForOutput(cli, new RegExp(`Running gRPC ModelServer at unix:${socketPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`), 60_000);
  cli.child.kill('SIGTERM');
  assert.equal((await cli.exited).code, 0);
  // A regular file in the way is not ours to delete: the server refuses to start.
  fs.writeFileSync(socketPath, 'not a socket');
  const refused = spawnCli([`--port=${await freePort()}`, '--bind_address=127.0.0.1', `--grpc_socket_path=${socketPath}`, `--model_base_path=${tfServingModel('saved_model_half_plus_two_cpu')}`]);
  assert.equal((await refused.exited).code, 1);
  assert.equal(fs.readFileSync(socketPath, 'utf8'), 'not a socket');
});

const SUITE_TESTDATA = path.resolve(repoRoot, '..', 'shared', 'tf_serving_suite', 'tensorflow_serving', 'servables', 'tensorflow', 'testdata');
const noSuite = fs.existsSync(SUITE_TESTDATA) ? false : `${SUITE_TESTDATA} is absent`;

describe("TF Serving's semantics the suite and its models rely on", { skip: noSuite || needsTfServingData() }, () => {
  let manager: ModelManager;
  let checked: ModelManager;
  let server: GrpcServer;

  before(async () => {
    const configs = [modelConfig('counter', path.join(SUITE_TESTDATA, 'saved_model_counter')), modelConfig('tf2', tfServingModel('saved_model_half_plus_two_tf2_cpu'))];
    manager = testManager();
    checked = testManager({ signatureMethodNameCheck: true });
    await Promise.all([manager.setConfig(configs), checked.setConfig(configs)]);
    server = await startGrpcServer({ manager, address: '127.0.0.1:0' });
  });
  after(async () => {
    await server.close(0);
    await Promise.all([manager.close(), checked.close()]);
  });

  test('gRPC Predict runs a signature that takes no inputs (a stateful model\'s counter)', async () => {
    const client = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
    const call = (signatureName: string) => {
      const Request = servingType('tensorflow.serving.PredictRequest');
      const Response = servingType('tensorflow.serving.PredictResponse');
      const bytes = Request.encode(Request.fromObject({ modelSpec: { name: 'counter', signatureName } })).finish();
      return new Promise<Record<string, any>>((resolve, reject) => {
        client.makeUnaryRequest(`/tensorflow.serving.PredictionService/Predict`, (b: Uint8Array) => Buffer.from(b), (b: Buffer) => b, bytes, (error, response) =>
          error ? reject(error) : resolve(Response.toObject(Response.decode(response!), { enums: String }) as Record<string, any>),
        );
      });
    };
    try {
      await call('reset_counter');
      await call('incr_counter');
      await call('incr_counter');
      const got = await call('get_counter');
      assert.equal(got.outputs.output.dtype, 'DT_FLOAT');
      assert.deepEqual(got.outputs.output.floatVal, [2]);
    } finally {
      client.close();
    }
  });

  test('reference dtypes print by name in metadata, as TF Serving prints them', () => {
    const { modelSpec, signatureDefMap } = modelMetadata(manager, { name: 'counter' });
    const json = encodeMetadataResponse(modelSpec, signatureDefMap);
    assert.match(json, /"dtype": "DT_FLOAT_REF"/);
    assert.doesNotMatch(json, /"dtype": 101/);
  });

  test('--enable_signature_method_name_check: off, a predict-method signature with an "inputs"/"outputs" pair serves Regress and MultiInference; on, it does not', async () => {
    const examples = [{ x: { kind: 'float' as const, values: [2] } }];
    const modelSpec = { name: 'tf2', signatureName: 'regress_x_to_y' };
    const regressed = await regress(manager, { modelSpec, examples });
    assert.deepEqual(regressed.regressions, [3]);
    const multi = await multiInference(manager, { tasks: [{ modelSpec, methodName: REGRESS_METHOD }], examples });
    assert.deepEqual(multi.results[0]!.regressions, [3]);
    await assert.rejects(regress(checked, { modelSpec, examples }), /Expected regression signature method_name to be tensorflow\/serving\/regress\. Was: tensorflow\/serving\/predict/);
  });
});
