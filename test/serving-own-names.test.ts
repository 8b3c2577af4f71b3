// Names from clients and config files are keys, never Object.prototype's
// properties: '__proto__', 'constructor', 'toString' as version labels, model
// names, config fields and map keys behave as any other name would.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { modelConfigsFromServerConfig, parseModelConfigText } from '../src/serving/config';
import { predict } from '../src/serving/inference';
import type { ModelManager } from '../src/serving/model-manager';
import { servingType } from '../src/serving/protos';
import { decodeMessage } from '../src/serving/wire';
import { needsTfServingData, rejectsWithCode, tfServingModel, throwsWithCode } from './helpers';
import { modelConfig, testManager } from './manager-helpers';

const NAMES = ['__proto__', 'constructor', 'toString', 'hasOwnProperty'];

describe('own names', () => {
  test('config text: version labels named like Object.prototype properties are kept as labels', () => {
    const labels = NAMES.map((name, i) => `version_labels { key: "${name}" value: ${i + 1} }`).join(' ');
    const [config] = parseModelConfigText(`model_config_list { config { name: "m" base_path: "/x" model_platform: "tensorflow" ${labels} } }`, 'c');
    assert.deepEqual(Object.keys(config!.versionLabels).sort(), [...NAMES].sort());
    assert.equal(Object.getPrototypeOf(config!.versionLabels), Object.prototype);
    NAMES.forEach((name, i) => assert.equal(Object.getOwnPropertyDescriptor(config!.versionLabels, name)?.value, i + 1));
  });

  test('config text: a field called constructor or __proto__ is an unknown field, with line and column', () => {
    for (const name of ['constructor', '__proto__', 'toString']) {
      throwsWithCode(() => parseModelConfigText(`model_config_list { config { ${name}: "x" } }`, 'c'), 'INVALID_ARGUMENT', new RegExp(`c:1:\\d+: unknown field '${name}'`));
    }
  });

  test('ReloadConfigRequest: labels named __proto__ and constructor survive protobufjs decoding', () => {
    const ReloadConfigRequest = servingType('tensorflow.serving.ReloadConfigRequest');
    const bytes = ReloadConfigRequest.encode(
      ReloadConfigRequest.fromObject({ config: { modelConfigList: { config: [{ name: 'm', basePath: '/x', modelPlatform: 'tensorflow', versionLabels: { ['__proto__']: 1, constructor: 2 } }] } } }),
    ).finish();
    const request = decodeMessage<{ config: Record<string, unknown> }>('tensorflow.serving.ReloadConfigRequest', bytes);
    const [config] = modelConfigsFromServerConfig(request.config, 'r');
    assert.equal(Object.getOwnPropertyDescriptor(config!.versionLabels, '__proto__')?.value, 1);
    assert.equal(Object.getOwnPropertyDescriptor(config!.versionLabels, 'constructor')?.value, 2);
  });
});

describe('own names in the manager and inference', { skip: needsTfServingData() }, () => {
  let manager: ModelManager;

  before(async () => {
    manager = testManager();
    await manager.setConfig([modelConfig('hp', tfServingModel('saved_model_half_plus_two_cpu'), { versionLabels: { ['__proto__']: 123 } })]);
  });

  after(async () => {
    await manager?.close();
  });

  test('a label named __proto__ serves its version; unknown labels like constructor are refused by name', async () => {
    const x = { dtype: 'float32' as const, shape: [1], data: Float32Array.of(2) };
    const served = await predict(manager, { modelSpec: { name: 'hp', versionLabel: '__proto__' }, inputs: { x } });
    assert.equal(served.modelSpec.version, 123);
    for (const label of ['constructor', 'toString']) {
      throwsWithCode(() => manager.acquire({ name: 'hp', versionLabel: label }), 'INVALID_ARGUMENT', new RegExp(`Unrecognized servable version label: ${label} for model 'hp' \\(labels: __proto__\\)`));
      throwsWithCode(() => manager.status('hp', undefined, label), 'INVALID_ARGUMENT', new RegExp(`Unrecognized servable version label: ${label}`));
    }
    for (const name of NAMES) {
      throwsWithCode(() => manager.acquire({ name }), 'NOT_FOUND', new RegExp(`no model named '${name.replace(/\$/g, '\\$')}'`));
      await rejectsWithCode(predict(manager, { modelSpec: { name: 'hp', signatureName: name }, inputs: { x } }), 'FAILED_PRECONDITION', new RegExp(`Serving signature key "${name}" not found`));
      await rejectsWithCode(predict(manager, { modelSpec: { name: 'hp' }, inputs: { x }, outputFilter: [name] }), 'INVALID_ARGUMENT', new RegExp(`unknown output '${name}'`));
    }
  });
});
