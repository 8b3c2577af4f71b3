// TF Serving's configuration files, in protobuf text format:
// --model_config_file (ModelServerConfig), --batching_parameters_file
// (BatchingParameters), --monitoring_config_file (MonitoringConfig).
import fs from 'node:fs';

import type { BatchingOptions } from '../engine/batching-options';
import { TfServeError, invalidArgument } from '../engine/errors';
import type { ModelConfig } from './model-manager';
import { setOwn } from './own';
import { servingType } from './protos';
import { type TextMessage, parseTextFormat } from './text-format';

const DEFAULT_PROMETHEUS_PATH = '/monitoring/prometheus/metrics';

export interface MonitoringConfig {
  prometheus: { enable: boolean; path: string };
}

function readConfigFile(file: string, what: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new TfServeError(code === 'ENOENT' ? 'NOT_FOUND' : 'INVALID_ARGUMENT', `cannot read the ${what} ${file}: ${(error as Error).message}`);
  }
}

function asNumber(value: unknown, what: string): number {
  if (typeof value === 'bigint') throw invalidArgument(`${what} is out of range: ${value}`);
  return Number(value ?? 0);
}

/**
 * The platform of a model config, as TF Serving's ServerCore reads it
 * (GetPlatform in server_core.cc): model_platform, or the deprecated
 * model_type TENSORFLOW; both set, neither set, or another model_type is
 * INVALID_ARGUMENT with TF Serving's words. (Its --model_name /
 * --model_base_path config says "tensorflow" itself, as tfserve's does.)
 */
function platformOf(decoded: Record<string, unknown>, name: string, where: string): string {
  const platform = String(decoded.modelPlatform ?? '');
  const type = decoded.modelType ?? 'MODEL_TYPE_UNSPECIFIED';
  if (type !== 'MODEL_TYPE_UNSPECIFIED' && type !== 0) {
    if (platform !== '') {
      throw invalidArgument(`${where}: Illegal setting both ModelServerConfig::model_type (deprecated) and ModelServerConfig::model_platform, model name is ${name}`);
    }
    if (type !== 'TENSORFLOW' && type !== 1) throw invalidArgument(`${where}: ModelServerConfig::model_type choice ${String(type)} not supported.`);
    return 'tensorflow';
  }
  if (platform === '') {
    throw invalidArgument(`${where}: Illegal setting neither ModelServerConfig::model_type (deprecated) nor ModelServerConfig::model_platform, model name is ${name}`);
  }
  return platform;
}

/**
 * One ModelConfig from a decoded tensorflow.serving.ModelConfig, whether it
 * came from a text file or from a HandleReloadConfigRequest (protobufjs
 * object with camelCase keys). `where` prefixes error messages.
 */
function toModelConfig(decoded: Record<string, unknown>, where: string): ModelConfig {
  const name = String(decoded.name ?? '');
  if (name === '') throw invalidArgument(`${where}: model config has no name`);
  const basePath = String(decoded.basePath ?? '');
  if (basePath === '') throw invalidArgument(`${where}: model '${name}' has no base_path`);
  const platform = platformOf(decoded, name, where);
  if (platform !== 'tensorflow') {
    throw invalidArgument(`${where}: model '${name}' has model_platform '${platform}'; tfserve serves only 'tensorflow' SavedModels`);
  }
  const policy = (decoded.modelVersionPolicy ?? {}) as Record<string, Record<string, unknown> | undefined>;
  let versionPolicy: ModelConfig['versionPolicy'];
  if (policy.specific) {
    const versions = ((policy.specific.versions ?? []) as unknown[]).map((v) => asNumber(v, `${where}: model '${name}' specific version`));
    if (versions.length === 0) throw invalidArgument(`${where}: model '${name}' has a 'specific' version policy without versions`);
    versionPolicy = { kind: 'specific', versions: [...new Set(versions)].sort((a, b) => a - b) };
  } else if (policy.all) {
    versionPolicy = { kind: 'all' };
  } else {
    const numVersions = asNumber(policy.latest?.numVersions, `${where}: model '${name}' latest.num_versions`);
    versionPolicy = { kind: 'latest', numVersions: numVersions > 0 ? numVersions : 1 };
  }
  const versionLabels: Record<string, number> = {};
  for (const [label, version] of Object.entries((decoded.versionLabels ?? {}) as Record<string, unknown>)) {
    if (label === '') throw invalidArgument(`${where}: model '${name}' has an empty version label`);
    // A label named '__proto__' or 'constructor' is just a key.
    setOwn(versionLabels, label, asNumber(version, `${where}: model '${name}' label '${label}'`));
  }
  return { name, basePath, modelPlatform: platform, versionPolicy, versionLabels };
}

/** ModelConfigs out of a decoded tensorflow.serving.ModelServerConfig; names must be unique. */
export function modelConfigsFromServerConfig(decoded: Record<string, unknown>, where: string): ModelConfig[] {
  if (decoded.customModelConfig !== undefined) throw new TfServeError('UNIMPLEMENTED', `${where}: custom_model_config is not supported; use model_config_list`);
  const list = (decoded.modelConfigList ?? {}) as { config?: Array<Record<string, unknown>> };
  const configs = (list.config ?? []).map((config, i) => toModelConfig(config, `${where}: model_config_list.config[${i}]`));
  const seen = new Set<string>();
  for (const config of configs) {
    if (seen.has(config.name)) throw invalidArgument(`${where}: model name '${config.name}' appears more than once in model_config_list`);
    seen.add(config.name);
  }
  return configs;
}

export function parseModelConfigText(text: string, source: string): ModelConfig[] {
  const decoded = parseTextFormat(text, servingType('tensorflow.serving.ModelServerConfig'), source);
  return modelConfigsFromServerConfig(decoded, source);
}

/** The text of a --model_config_file (parse it with parseModelConfigText). */
export function readModelConfigFile(file: string): string {
  return readConfigFile(file, 'model config file');
}

/** Reads a --model_config_file (ModelServerConfig in text format). */
export function parseModelConfigFile(file: string): ModelConfig[] {
  return parseModelConfigText(readModelConfigFile(file), file);
}

function wrapped(message: TextMessage, field: string): TextMessage[keyof TextMessage] | undefined {
  const value = message[field] as TextMessage | undefined;
  return value === undefined ? undefined : (value.value ?? 0);
}

export function parseBatchingParametersText(text: string, source: string): BatchingOptions {
  const decoded = parseTextFormat(text, servingType('tensorflow.serving.BatchingParameters'), source);
  const options: BatchingOptions = {};
  const positive = (field: string, snake: string, allowZero = false): number | undefined => {
    const value = wrapped(decoded, field);
    if (value === undefined) return undefined;
    const n = asNumber(value, `${source}: ${snake}`);
    if (!Number.isSafeInteger(n) || n < 0 || (!allowZero && n === 0)) throw invalidArgument(`${source}: ${snake} must be ${allowZero ? 'non-negative' : 'positive'}, got ${n}`);
    return n;
  };
  const maxBatchSize = positive('maxBatchSize', 'max_batch_size');
  const batchTimeoutMicros = positive('batchTimeoutMicros', 'batch_timeout_micros', true);
  const maxEnqueuedBatches = positive('maxEnqueuedBatches', 'max_enqueued_batches');
  const numBatchThreads = positive('numBatchThreads', 'num_batch_threads');
  if (maxBatchSize !== undefined) options.maxBatchSize = maxBatchSize;
  if (batchTimeoutMicros !== undefined) options.batchTimeoutMicros = batchTimeoutMicros;
  if (maxEnqueuedBatches !== undefined) options.maxEnqueuedBatches = maxEnqueuedBatches;
  if (numBatchThreads !== undefined) options.numBatchThreads = numBatchThreads;
  const allowed = (decoded.allowedBatchSizes ?? []) as unknown[];
  if (allowed.length > 0) {
    const sizes = allowed.map((v) => asNumber(v, `${source}: allowed_batch_sizes`));
    sizes.forEach((size, i) => {
      if (size <= 0) throw invalidArgument(`${source}: allowed_batch_sizes must be positive, got ${size}`);
      if (i > 0 && size <= sizes[i - 1]!) throw invalidArgument(`${source}: allowed_batch_sizes must increase, got ${sizes.join(', ')}`);
    });
    const limit = maxBatchSize ?? 1000;
    if (sizes[sizes.length - 1] !== limit) {
      throw invalidArgument(`${source}: the last of allowed_batch_sizes (${sizes[sizes.length - 1]}) must equal max_batch_size (${limit})`);
    }
    options.allowedBatchSizes = sizes;
  }
  if (decoded.padVariableLengthInputs !== undefined) options.padVariableLengthInputs = decoded.padVariableLengthInputs === true;
  if (decoded.enableLargeBatchSplitting !== undefined) options.enableLargeBatchSplitting = decoded.enableLargeBatchSplitting === true;
  return options;
}

/** Reads a --batching_parameters_file (BatchingParameters in text format). */
export function parseBatchingParametersFile(file: string): BatchingOptions {
  return parseBatchingParametersText(readConfigFile(file, 'batching parameters file'), file);
}

export function parseMonitoringConfigText(text: string, source: string): MonitoringConfig {
  const decoded = parseTextFormat(text, servingType('tensorflow.serving.MonitoringConfig'), source);
  const prometheus = (decoded.prometheusConfig ?? {}) as TextMessage;
  const path = String(prometheus.path ?? '') || DEFAULT_PROMETHEUS_PATH;
  if (!path.startsWith('/')) throw invalidArgument(`${source}: prometheus_config.path must start with '/', got '${path}'`);
  return { prometheus: { enable: prometheus.enable === true, path } };
}

/** Reads a --monitoring_config_file (MonitoringConfig in text format). */
export function parseMonitoringConfigFile(file: string): MonitoringConfig {
  return parseMonitoringConfigText(readConfigFile(file, 'monitoring config file'), file);
}
