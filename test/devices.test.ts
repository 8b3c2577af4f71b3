// The devices a loaded model's session sees (TF_SessionListDevices): in the
// API (Model, EngineModel), in the server's load log line and in its metrics.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { Engine, loadModel } from '../src';
import { protoType } from '../src/engine/proto';
import { DEFAULT_FLAGS, type ServerFlags } from '../src/server/flags';
import { describeDevices, shortDeviceName } from '../src/server/devices-log';
import { ServerMetrics, registerDeviceMetrics } from '../src/server/metrics';
import { startServer } from '../src/server/server';
import { fixture, freePort, tempDir } from './helpers';
import { get } from './rest-helpers';

const CPU0 = '/job:localhost/replica:0/task:0/device:CPU:0';

test('a loaded model lists its session devices: CPU:0 with its type and memory; an EngineModel the same', async () => {
  const model = await loadModel(fixture('gaofei_cnn'));
  const engine = await Engine.create({ workers: 0 });
  try {
    const cpus = model.devices.filter((d) => d.type === 'CPU');
    assert.deepEqual(cpus.map((d) => d.name), [CPU0]);
    assert.ok(cpus[0]!.memoryBytes > 0, `memoryBytes ${cpus[0]!.memoryBytes}`);
    assert.equal(new Set(model.devices.map((d) => d.name)).size, model.devices.length, 'names are unique');
    assert.ok(Object.isFrozen(model.devices) && Object.isFrozen(model.devices[0]), 'the list cannot be changed by a caller');
    const served = await engine.load(fixture('gaofei_cnn'));
    assert.deepEqual(served.devices, model.devices, 'one session, one device list');
  } finally {
    await model.unload();
    await engine.close();
  }
});

test('session.deviceCount reaches TF: { CPU: 2 } gives the session two CPU devices, { GPU: 0 } none of type GPU', async () => {
  const two = await loadModel(fixture('gaofei_cnn'), { session: { deviceCount: { CPU: 2 } } });
  const noGpu = await loadModel(fixture('gaofei_cnn'), { session: { deviceCount: { GPU: 0 } } });
  try {
    assert.deepEqual(
      two.devices.filter((d) => d.type === 'CPU').map((d) => shortDeviceName(d.name)),
      ['CPU:0', 'CPU:1'],
    );
    assert.deepEqual(noGpu.devices.filter((d) => d.type === 'GPU'), []);
    // On a machine without GPUs the line above holds anyway: check TF was asked for no GPU.
    const config = protoType('tensorflow.ConfigProto').decode(noGpu.sessionConfig) as unknown as { deviceCount: Record<string, number> };
    assert.deepEqual({ ...config.deviceCount }, { GPU: 0 });
    // The model still answers on the session with two CPU devices.
    const out = await two.predict({ image: { shape: [1, 28, 28], data: new Float32Array(784) } }, { outputs: ['softmax'] });
    assert.deepEqual(out.softmax!.shape, [1, 10]);
  } finally {
    await two.unload();
    await noGpu.unload();
  }
});

test('describeDevices: short names, GPU memory in GiB, CPU memory left out', () => {
  assert.equal(shortDeviceName(CPU0), 'CPU:0');
  assert.equal(shortDeviceName('odd'), 'odd');
  assert.equal(
    describeDevices([
      { name: CPU0, type: 'CPU', memoryBytes: 268435456 },
      { name: '/job:localhost/replica:0/task:0/device:GPU:0', type: 'GPU', memoryBytes: 3 * 2 ** 30 },
    ]),
    'CPU:0, GPU:0 (3.00 GiB)',
  );
  assert.equal(describeDevices([]), 'no devices listed');
});

test('registerDeviceMetrics: one tfserve_model_devices series and its memory per device, read at scrape time', async () => {
  const metrics = new ServerMetrics({ processMetrics: false });
  const model = await loadModel(fixture('gaofei_cnn'), { session: { deviceCount: { CPU: 2 } } });
  let loaded = true;
  try {
    registerDeviceMetrics(metrics, () => (loaded ? [{ model: 'digits', version: model.version, devices: model.devices }] : []));
    let text = await metrics.exposition();
    assert.match(text, new RegExp(`tfserve_model_devices\\{model_name="digits",version="0",device="${CPU0}",device_type="CPU"\\} 1`));
    assert.match(text, /tfserve_model_devices\{model_name="digits",version="0",device="[^"]*device:CPU:1",device_type="CPU"\} 1/);
    assert.match(text, new RegExp(`tfserve_model_device_memory_bytes\\{model_name="digits",version="0",device="${CPU0}",device_type="CPU"\\} ${model.devices[0]!.memoryBytes}`));
    loaded = false;
    text = await metrics.exposition();
    assert.doesNotMatch(text, /tfserve_model_devices\{/, 'an unloaded version leaves no series');
  } finally {
    await model.unload();
  }
});

test('the server logs each version\'s devices at load and exports them as metrics', async () => {
  const dir = tempDir('devices');
  const monitoringFile = path.join(dir, 'monitoring.config');
  fs.writeFileSync(monitoringFile, 'prometheus_config { enable: true path: "/metrics" }\n');
  const lines: string[] = [];
  const flags: ServerFlags = {
    ...DEFAULT_FLAGS,
    port: 0,
    restApiPort: await freePort(),
    bindAddress: '127.0.0.1',
    modelName: 'digits',
    modelBasePath: fixture('gaofei_cnn'),
    fileSystemPollWaitSeconds: 0,
    monitoringConfigFile: monitoringFile,
  };
  const server = await startServer(flags, { log: (line) => lines.push(line) });
  try {
    assert.ok(
      lines.some((line) => /^model 'digits' version 0 loaded in \d+\.\d\d s on CPU:0(,|$)/.test(line)),
      `a load line naming the devices in:\n${lines.join('\n')}`,
    );
    const metrics = await get(server.restPort!, '/metrics');
    assert.equal(metrics.status, 200);
    assert.match(metrics.text, new RegExp(`tfserve_model_devices\\{model_name="digits",version="0",device="${CPU0}",device_type="CPU"\\} 1`));
  } finally {
    await server.shutdown(1000);
  }
});
