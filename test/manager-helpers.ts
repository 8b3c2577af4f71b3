// ModelManager set-up shared by the serving suites. Kept out of helpers.ts:
// ModelManager and loadModel load the native addon, which the suites that
// only parse configs, JSON and protos never need.
import { loadModel } from '../src';
import { type ManagerOptions, type ModelConfig, ModelManager } from '../src/serving/model-manager';

/** A TensorFlow model config serving the latest version, no labels; `extra` overrides any field. */
export function modelConfig(name: string, basePath: string, extra: Partial<ModelConfig> = {}): ModelConfig {
  return { name, basePath, modelPlatform: 'tensorflow', versionPolicy: { kind: 'latest', numVersions: 1 }, versionLabels: {}, ...extra };
}

/** A ModelManager loading real models with loadModel: one scan, no warmup, labels only on available versions. */
export function testManager(overrides: Partial<ManagerOptions> = {}): ModelManager {
  return new ModelManager({
    loader: (basePath, options) => loadModel(basePath, options),
    fileSystemPollWaitSeconds: 0,
    allowVersionLabelsForUnavailableModels: false,
    ...overrides,
  });
}
