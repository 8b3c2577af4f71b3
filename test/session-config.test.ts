// Session options reach TensorFlow: the ConfigProto bytes the addon handed to
// TF_SetConfig, read back from the loaded model and decoded both with
// tfserve's proto/ subset and with TensorFlow's own ConfigProto (Python);
// the server's flags land in those bytes; and effects TF shows on a CPU
// machine (allow_soft_placement; device_count is in devices.test.ts).
// GPU memory options only act on a GPU: here we check they are in the bytes
// TF parsed, which is all a CPU machine can show.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';

import protobuf from 'protobufjs';

import { type Model, type Servable, loadModel } from '../src';
import { parseCommandLine, type ServerFlags } from '../src/server/flags';
import { startServer } from '../src/server/server';
import { fixture, rejectsWithCode, repoRoot } from './helpers';

const run = promisify(execFile);

const HALF_PLUS_TWO_GPU = path.join(repoRoot, '..', 'shared', 'tf_serving_suite', 'tensorflow_serving', 'servables', 'tensorflow', 'testdata', 'saved_model_half_plus_two_gpu');

/** tensorflow.ConfigProto from proto/, loaded here on its own (not through src/engine/proto.ts). */
function decode(bytes: Uint8Array): Record<string, unknown> {
  const root = protobuf.loadSync(path.join(repoRoot, 'proto', 'tensorflow', 'core', 'protobuf', 'config.proto'));
  const ConfigProto = root.lookupType('tensorflow.ConfigProto');
  return ConfigProto.toObject(ConfigProto.decode(bytes), { defaults: true, longs: Number }) as Record<string, unknown>;
}

const GPU_SESSION = {
  intraOpThreads: 3,
  interOpThreads: 2,
  allowSoftPlacement: true,
  deviceCount: { GPU: 1, CPU: 1 },
  gpu: { visibleDevices: '0', allowGrowth: true, memoryFraction: 0.5 },
  xla: true,
  usePerSessionThreads: true,
  graphOptimizer: false,
};

test('the ConfigProto the session was created with carries every session option', async () => {
  const model = await loadModel(fixture('gaofei_cnn'), { session: GPU_SESSION });
  try {
    assert.deepEqual(decode(model.sessionConfig), {
      deviceCount: { CPU: 1, GPU: 1 },
      intraOpParallelismThreads: 3,
      interOpParallelismThreads: 2,
      allowSoftPlacement: true,
      logDevicePlacement: false,
      usePerSessionThreads: true,
      graphOptions: { optimizerOptions: { globalJitLevel: 1, cpuGlobalJit: true }, rewriteOptions: { disableMetaOptimizer: true } },
      gpuOptions: { perProcessGpuMemoryFraction: 0.5, allowGrowth: true, visibleDeviceList: '0' },
    });
  } finally {
    await model.unload();
  }
  const plain = await loadModel(fixture('gaofei_cnn'));
  try {
    const config = decode(plain.sessionConfig);
    assert.equal(config.interOpParallelismThreads, -1, "tfserve's default: ops run on the request's thread");
    assert.deepEqual(config.gpuOptions, { perProcessGpuMemoryFraction: 0, allowGrowth: false, visibleDeviceList: '' }, "TF's defaults: all GPUs, memory taken up front");
  } finally {
    await plain.unload();
  }
});

test("TensorFlow's own ConfigProto reads the same fields from those bytes (proto/ field numbers match TF's)", { timeout: 120_000 }, async () => {
  const model = await loadModel(fixture('gaofei_cnn'), { session: GPU_SESSION });
  const hex = Buffer.from(model.sessionConfig).toString('hex');
  await model.unload();
  const python = (await run(process.execPath, [path.join(repoRoot, 'scripts', 'python-env.mjs')], { timeout: 110_000 })).stdout.trim().split('\n').pop()!;
  const script = [
    'import json, sys',
    'from google.protobuf import json_format',
    'from tensorflow.core.protobuf import config_pb2',
    'config = config_pb2.ConfigProto()',
    'config.ParseFromString(bytes.fromhex(sys.argv[1]))',
    'print(json.dumps(json_format.MessageToDict(config)))',
  ].join('\n');
  const { stdout } = await run(python, ['-c', script, hex], { timeout: 60_000, env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3', CUDA_VISIBLE_DEVICES: '' } });
  assert.deepEqual(JSON.parse(stdout.trim().split('\n').pop()!), {
    deviceCount: { CPU: 1, GPU: 1 },
    intraOpParallelismThreads: 3,
    interOpParallelismThreads: 2,
    allowSoftPlacement: true,
    usePerSessionThreads: true,
    graphOptions: { optimizerOptions: { globalJitLevel: 'ON_1', cpuGlobalJit: true }, rewriteOptions: { disableMetaOptimizer: true } },
    gpuOptions: { perProcessGpuMemoryFraction: 0.5, allowGrowth: true, visibleDeviceList: '0' },
  });
});

test("tensorflow_model_server's --per_process_gpu_memory_fraction and parallelism flags reach the session's ConfigProto", async () => {
  const parsed = parseCommandLine([
    '--port=0',
    '--model_name=digits',
    `--model_base_path=${fixture('gaofei_cnn')}`,
    '--per_process_gpu_memory_fraction=0.25',
    '--tensorflow_intra_op_parallelism=2',
    '--tensorflow_inter_op_parallelism=4',
    '--file_system_poll_wait_seconds=0',
  ]);
  assert.equal(parsed.help, false);
  const flags: ServerFlags = { ...(parsed as { flags: ServerFlags }).flags, bindAddress: '127.0.0.1' };
  const loaded: Model[] = [];
  const server = await startServer(flags, {
    log: () => undefined,
    loader: async (basePath, options): Promise<Servable> => {
      const model = await loadModel(basePath, options);
      loaded.push(model);
      return model;
    },
  });
  try {
    assert.equal(loaded.length, 1);
    const config = decode(loaded[0]!.sessionConfig);
    assert.equal(config.intraOpParallelismThreads, 2);
    assert.equal(config.interOpParallelismThreads, 4);
    assert.deepEqual(config.gpuOptions, { perProcessGpuMemoryFraction: 0.25, allowGrowth: false, visibleDeviceList: '' });
  } finally {
    await server.shutdown(1000);
  }
});

test('allow_soft_placement acts in TF: a graph pinned to GPU:0 loads and answers on a CPU-only session only with it', { skip: needsGpuModel() }, async () => {
  const soft = await loadModel(HALF_PLUS_TWO_GPU);
  try {
    if (soft.devices.some((d) => d.type === 'GPU')) return; // on a GPU machine the pin is satisfiable either way
    const out = await soft.predict({ x: { shape: [3, 1], data: [1, 2, 3] } });
    assert.deepEqual([...(out.y!.data as Float32Array)], [2.5, 3, 3.5]);
  } finally {
    await soft.unload();
  }
  await rejectsWithCode(loadModel(HALF_PLUS_TWO_GPU, { session: { allowSoftPlacement: false } }), 'INVALID_ARGUMENT', /explicitly assigned to \/device:GPU:0/);
});

test('bad session options fail at load with a message naming the option', async () => {
  const cases: Array<[Parameters<typeof loadModel>[1], RegExp]> = [
    [{ session: { gpu: { visibleDevices: '0, one' } } }, /session\.gpu\.visibleDevices must be comma-separated GPU ids/],
    [{ session: { gpu: { memoryFraction: 1.5 } } }, /session\.gpu\.memoryFraction must be in \(0, 1\]/],
    [{ session: { deviceCount: { GPU: -1 } } }, /session\.deviceCount\.GPU must be an integer >= 0/],
    [{ session: { deviceCount: { CPU: 1.5 } } }, /session\.deviceCount\.CPU must be an integer >= 0/],
    [{ session: { deviceCount: [] as unknown as Record<string, number> } }, /session\.deviceCount must be an object/],
  ];
  for (const [options, pattern] of cases) await assert.rejects(loadModel(fixture('gaofei_cnn'), options), pattern);
});

function needsGpuModel(): string | false {
  return fs.existsSync(HALF_PLUS_TWO_GPU) ? false : `TF Serving's saved_model_half_plus_two_gpu not found at ${HALF_PLUS_TWO_GPU}`;
}
