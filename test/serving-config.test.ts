// Text-format parsing and TF Serving's config files.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';

import {
  parseBatchingParametersFile,
  parseBatchingParametersText,
  parseModelConfigFile,
  parseModelConfigText,
  parseMonitoringConfigFile,
  parseMonitoringConfigText,
} from '../src/serving/config';
import { servingType } from '../src/serving/protos';
import { parseTextFormat } from '../src/serving/text-format';
import { tempDir, throwsWithCode } from './helpers';

describe('text format', () => {
  const ModelConfig = servingType('tensorflow.serving.ModelConfig');
  const Tensor = servingType('tensorflow.TensorProto');

  test('scalars, enums, strings with escapes, repeated fields, lists, comments, <> and {}', () => {
    const parsed = parseTextFormat(
      `# a tensor
       dtype: DT_INT64   # enum by name
       tensor_shape < dim { size: 2 } dim: { size: -1 name: "b\\x41\\101\\n" } >
       int64_val: 9007199254740993
       int64_val: [-1, 0x10, 010]
       string_val: 'caf\\303\\251' "s"
       bool_val: [true, f, 1]
       float_val: [1.5, -2e3, inf, -inf, nan, 3f]`,
      Tensor,
      't.txt',
    );
    assert.equal(parsed.dtype, 'DT_INT64');
    assert.deepEqual(parsed.tensorShape, { dim: [{ size: 2 }, { size: -1, name: 'bAA\n' }] });
    assert.deepEqual(parsed.int64Val, [9007199254740993n, -1, 16, 8]);
    assert.equal(Buffer.from((parsed.stringVal as Uint8Array[])[0]!).toString('utf8'), 'cafés');
    assert.deepEqual(parsed.boolVal, [true, false, true]);
    const floats = parsed.floatVal as number[];
    assert.deepEqual(floats.slice(0, 4), [1.5, -2000, Infinity, -Infinity]);
    assert.ok(Number.isNaN(floats[4]));
    assert.equal(floats[5], 3);
  });

  test('maps and enums by number', () => {
    const parsed = parseTextFormat('name: "m" version_labels { key: "stable" value: 1 } version_labels { key: "canary" value: 2 } model_type: 1', ModelConfig);
    assert.deepEqual(parsed.versionLabels, { stable: 1, canary: 2 });
    assert.equal(parsed.modelType, 'TENSORFLOW');
  });

  test('errors give line:column and the field', () => {
    throwsWithCode(() => parseTextFormat('name: "a"\n  base_pth: "x"', ModelConfig, 'f.cfg'), 'INVALID_ARGUMENT', /^Error parsing text-format tensorflow\.[a-z.]*[A-Za-z]*: f\.cfg:2:3: unknown field 'base_pth' in ModelConfig/);
    throwsWithCode(() => parseTextFormat('name: "a"\nname: "b"', ModelConfig, 'f.cfg'), 'INVALID_ARGUMENT', /^Error parsing text-format tensorflow\.[a-z.]*[A-Za-z]*: f\.cfg:2:1: field 'name' is set more than once/);
    throwsWithCode(() => parseTextFormat('name: 12', ModelConfig, 'f.cfg'), 'INVALID_ARGUMENT', /^Error parsing text-format tensorflow\.[a-z.]*[A-Za-z]*: f\.cfg:1:7: field 'name' expects a quoted string, got '12'/);
    throwsWithCode(() => parseTextFormat('dtype: DT_NOPE', Tensor, 'f.cfg'), 'INVALID_ARGUMENT', /^Error parsing text-format tensorflow\.[a-z.]*[A-Za-z]*: f\.cfg:1:8: field 'dtype': 'DT_NOPE' is not a value of enum DataType/);
    throwsWithCode(() => parseTextFormat('version_number: 99999999999', Tensor, 'f.cfg'), 'INVALID_ARGUMENT', /field 'version_number' expects a int32 in/);
    throwsWithCode(() => parseTextFormat('name: "abc', ModelConfig, 'f.cfg'), 'INVALID_ARGUMENT', /^Error parsing text-format tensorflow\.[a-z.]*[A-Za-z]*: f\.cfg:1:7: unterminated string/);
    throwsWithCode(() => parseTextFormat('model_version_policy { latest { num_versions: 1 }', ModelConfig, 'f.cfg'), 'INVALID_ARGUMENT', /missing '}' to close ServableVersionPolicy/);
    throwsWithCode(() => parseTextFormat('name "x"', ModelConfig, 'f.cfg'), 'INVALID_ARGUMENT', /^Error parsing text-format tensorflow\.[a-z.]*[A-Za-z]*: f\.cfg:1:6: expected ':' after field 'name'/);
    throwsWithCode(() => parseTextFormat('name: ["x"]', ModelConfig, 'f.cfg'), 'INVALID_ARGUMENT', /field 'name' is not repeated/);
    throwsWithCode(() => parseTextFormat('name: "\\q"', ModelConfig, 'f.cfg'), 'INVALID_ARGUMENT', /unknown escape \\q/);
  });
});

describe('config files', () => {
  const dir = tempDir('config');

  test('model_config_list with every version policy and labels', () => {
    const file = path.join(dir, 'models.config');
    fs.writeFileSync(
      file,
      `model_config_list {
        config {
          name: "half_plus_two"
          base_path: "/models/half_plus_two"
          model_platform: "tensorflow"
          model_version_policy { specific { versions: 124 versions: 123 } }
          version_labels { key: "stable" value: 123 }
          version_labels { key: "canary" value: 124 }
        }
        config { name: "all" base_path: "/models/all" model_platform: "tensorflow" model_version_policy { all {} } }
        config { name: "two" base_path: "/models/two" model_platform: "tensorflow" model_version_policy { latest { num_versions: 2 } } }
        config { name: "plain" base_path: "/models/plain" model_platform: "tensorflow" }
      }`,
    );
    assert.deepEqual(parseModelConfigFile(file), [
      {
        name: 'half_plus_two',
        basePath: '/models/half_plus_two',
        modelPlatform: 'tensorflow',
        versionPolicy: { kind: 'specific', versions: [123, 124] },
        versionLabels: { stable: 123, canary: 124 },
      },
      { name: 'all', basePath: '/models/all', modelPlatform: 'tensorflow', versionPolicy: { kind: 'all' }, versionLabels: {} },
      { name: 'two', basePath: '/models/two', modelPlatform: 'tensorflow', versionPolicy: { kind: 'latest', numVersions: 2 }, versionLabels: {} },
      { name: 'plain', basePath: '/models/plain', modelPlatform: 'tensorflow', versionPolicy: { kind: 'latest', numVersions: 1 }, versionLabels: {} },
    ]);
  });

  test('bad model configs are refused with the place and the reason', () => {
    throwsWithCode(() => parseModelConfigFile(path.join(dir, 'missing.config')), 'NOT_FOUND', /cannot read the model config file/);
    throwsWithCode(() => parseModelConfigText('model_config_list { config { base_path: "/x" } }', 'c'), 'INVALID_ARGUMENT', /config\[0\]: model config has no name/);
    throwsWithCode(() => parseModelConfigText('model_config_list { config { name: "a" } }', 'c'), 'INVALID_ARGUMENT', /model 'a' has no base_path/);
    throwsWithCode(() => parseModelConfigText('model_config_list { config { name: "a" base_path: "/x" model_platform: "pytorch" } }', 'c'), 'INVALID_ARGUMENT', /model_platform 'pytorch'/);
    throwsWithCode(() => parseModelConfigText('model_config_list { config { name: "a" base_path: "/x" model_platform: "tensorflow" } config { name: "a" base_path: "/y" model_platform: "tensorflow" } }', 'c'), 'INVALID_ARGUMENT', /'a' appears more than once/);
    throwsWithCode(() => parseModelConfigText('model_config_list { config { name: "a" base_path: "/x" model_platform: "tensorflow" model_version_policy { specific {} } } }', 'c'), 'INVALID_ARGUMENT', /'specific' version policy without versions/);
    throwsWithCode(() => parseModelConfigText('model_config_list { config { name: "a" base_path: "/x" model_version_policy { latest {} all {} } } }', 'c'), 'INVALID_ARGUMENT', /c:1:89: field 'all' and field 'latest' are both set, but only one of oneof 'policy_choice'/);
  });

  test("model_platform as TF Serving's ServerCore reads it: required, or the deprecated model_type TENSORFLOW, not both", () => {
    const one = (fields: string) => parseModelConfigText(`model_config_list { config { name: "a" base_path: "/x" ${fields} } }`, 'c');
    throwsWithCode(() => one(''), 'INVALID_ARGUMENT', /^c: model_config_list.config\[0\]: Illegal setting neither ModelServerConfig::model_type \(deprecated\) nor ModelServerConfig::model_platform, model name is a$/);
    throwsWithCode(() => one('model_platform: ""'), 'INVALID_ARGUMENT', /Illegal setting neither .* model name is a/);
    throwsWithCode(() => one('model_type: TENSORFLOW model_platform: "tensorflow"'), 'INVALID_ARGUMENT', /Illegal setting both ModelServerConfig::model_type \(deprecated\) and ModelServerConfig::model_platform, model name is a/);
    throwsWithCode(() => one('model_type: OTHER'), 'INVALID_ARGUMENT', /ModelServerConfig::model_type choice OTHER not supported\./);
    assert.equal(one('model_type: TENSORFLOW')[0]!.modelPlatform, 'tensorflow');
    assert.equal(one('model_platform: "tensorflow"')[0]!.modelPlatform, 'tensorflow');
  });

  test('batching parameters: wrapper values, allowed sizes, flags', () => {
    const file = path.join(dir, 'batching.config');
    fs.writeFileSync(
      file,
      `max_batch_size { value: 128 }
       batch_timeout_micros { value: 500 }
       max_enqueued_batches { value: 100 }
       num_batch_threads { value: 4 }
       thread_pool_name { value: "batch" }
       allowed_batch_sizes: 32
       allowed_batch_sizes: [64, 128]
       pad_variable_length_inputs: true
       enable_large_batch_splitting: true`,
    );
    assert.deepEqual(parseBatchingParametersFile(file), {
      maxBatchSize: 128,
      batchTimeoutMicros: 500,
      maxEnqueuedBatches: 100,
      numBatchThreads: 4,
      allowedBatchSizes: [32, 64, 128],
      padVariableLengthInputs: true,
      enableLargeBatchSplitting: true,
    });
    assert.deepEqual(parseBatchingParametersText('', 'empty'), {});
    throwsWithCode(() => parseBatchingParametersText('max_batch_size: 128', 'b'), 'INVALID_ARGUMENT', /b:1:17: expected '\{' to start the value of field 'max_batch_size'/);
    throwsWithCode(() => parseBatchingParametersText('max_batch_size { value: 0 }', 'b'), 'INVALID_ARGUMENT', /max_batch_size must be positive/);
    throwsWithCode(() => parseBatchingParametersText('max_batch_size { value: 8 } allowed_batch_sizes: [4, 2, 8]', 'b'), 'INVALID_ARGUMENT', /must increase/);
    throwsWithCode(() => parseBatchingParametersText('max_batch_size { value: 8 } allowed_batch_sizes: [2, 4]', 'b'), 'INVALID_ARGUMENT', /last of allowed_batch_sizes \(4\) must equal max_batch_size \(8\)/);
    throwsWithCode(() => parseBatchingParametersText('max_batch_size { valu: 8 }', 'b'), 'INVALID_ARGUMENT', /b:1:18: unknown field 'valu' in Int64Value/);
  });

  test('monitoring config', () => {
    const file = path.join(dir, 'monitoring.config');
    fs.writeFileSync(file, 'prometheus_config { enable: true, path: "/metrics" }');
    assert.deepEqual(parseMonitoringConfigFile(file), { prometheus: { enable: true, path: '/metrics' } });
    assert.deepEqual(parseMonitoringConfigText('prometheus_config { enable: true }', 'm'), { prometheus: { enable: true, path: '/monitoring/prometheus/metrics' } });
    assert.deepEqual(parseMonitoringConfigText('', 'm'), { prometheus: { enable: false, path: '/monitoring/prometheus/metrics' } });
    throwsWithCode(() => parseMonitoringConfigText('prometheus_config { enable: yes }', 'm'), 'INVALID_ARGUMENT', /m:1:29: field 'enable' expects true or false/);
  });
});
