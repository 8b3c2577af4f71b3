// A TFLite model version as a Servable: model.tflite run by LiteRT through
// the addon (native/tflite_*), with TF Serving's signatures (./signatures).
// Inputs go through the same validation and shape guard as SavedModels'
// (prepareFeeds, checkShapeLimits); runs happen on libuv pool threads, one
// at a time per model: they wait their turn here, not in the addon, so that
// a burst of requests on one model holds one libuv thread, not all of them
// blocked on the model's lock (file reads and other addon work share that pool).
import fs from 'node:fs';
import path from 'node:path';

import { callerLimited, isCancelled } from '../cancellation';
import { dtypeInfo } from '../dtypes';
import { TfServeError, invalidArgument } from '../errors';
import { prepareFeeds, selectOutputs } from '../inputs';
import { versionDir } from '../model-dir';
import { type Device, type NativeTfliteModel, native } from '../native';
import type { LoadOptions, PredictOptions, Servable, ServableLoader } from '../servable';
import { type Signature, nameMap } from '../signatures';
import type { AnyTensor, TensorInput } from '../tensor';
import { requireLitertLibrary } from './library';
import { type TfliteBinding, dtypeOfElementType, elementTypeOf, tfliteSignatures } from './signatures';

/** The file TF Serving serves with --prefer_tflite_model. */
export const TFLITE_FILE = 'model.tflite';
const DEFAULT_SIGNATURE = 'serving_default';

function toTensor(output: { elementType: number; shape: number[]; data: ArrayBuffer }): AnyTensor {
  const dtype = dtypeOfElementType(output.elementType);
  const info = dtype && dtypeInfo(dtype);
  if (!info?.array) throw new TfServeError('UNIMPLEMENTED', `LiteRT returned a tensor of TFLite type ${output.elementType}, which tfserve cannot read`);
  return { dtype: info.name, shape: output.shape, data: new info.array(output.data) } as AnyTensor;
}

/** LiteRT runs tfserve's TFLite models on its CPU accelerator only (no GPU or NPU delegate is asked for). */
const LITERT_DEVICES: readonly Device[] = Object.freeze([{ name: '/litert/device:CPU:0', type: 'CPU', memoryBytes: 0 }]);

export class TfliteModel implements Servable {
  readonly devices = LITERT_DEVICES;
  readonly signatures: Readonly<Record<string, Signature>>;
  private handle: NativeTfliteModel | null;
  /** Settles when the last run handed to the addon is done: the next one starts after it. */
  private lastRun: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly name: string,
    readonly version: number,
    readonly exportDir: string,
    private readonly bindings: Map<string, TfliteBinding>,
    readonly signatureDefMap: Uint8Array,
    handle: NativeTfliteModel,
  ) {
    const signatures = nameMap<Signature>();
    for (const [key, binding] of bindings) signatures[key] = binding.signature;
    this.signatures = signatures;
    this.handle = handle;
  }

  /** Loads `exportDir`/model.tflite; `name` is the base path's last component. */
  static async open(name: string, version: number, exportDir: string): Promise<TfliteModel> {
    const file = path.join(exportDir, TFLITE_FILE);
    let loaded;
    try {
      loaded = await native.loadTfliteModel(requireLitertLibrary(), file);
    } catch (error) {
      const wrapped = TfServeError.from(error);
      throw new TfServeError(wrapped.code, `cannot load ${file}: ${wrapped.message}`);
    }
    try {
      const { bindings, signatureDefMap } = tfliteSignatures(loaded.signatures, loaded.signatureDefsMetadata);
      return new TfliteModel(name, version, exportDir, bindings, signatureDefMap, loaded.model);
    } catch (error) {
      await loaded.model.release();
      const wrapped = TfServeError.from(error);
      throw new TfServeError(wrapped.code, `cannot serve ${file}: ${wrapped.message}`);
    }
  }

  predict(inputs: Record<string, TensorInput>, options: PredictOptions = {}): Promise<Record<string, AnyTensor>> {
    if (typeof options !== 'object' || options === null) return Promise.reject(invalidArgument('predict options must be an object'));
    return callerLimited(options, (cancel) => this.run(inputs, options, cancel));
  }

  private async run(inputs: Record<string, TensorInput>, options: PredictOptions, cancel: Int32Array | undefined): Promise<Record<string, AnyTensor>> {
    const handle = this.handle;
    if (handle === null) throw new TfServeError('FAILED_PRECONDITION', `${this.name} version ${this.version} was unloaded`);
    const key = options.signature ?? DEFAULT_SIGNATURE;
    const binding = typeof key === 'string' ? this.bindings.get(key) : undefined;
    if (!binding) throw invalidArgument(`signature '${String(key)}' not found in ${this.name} version ${this.version} (signatures: ${[...this.bindings.keys()].join(', ')})`);
    const { signature } = binding;
    const aliases = Object.keys(signature.inputs);
    const feeds = prepareFeeds(signature, inputs, options.validateShapes ?? true).map((feed, i) => {
      const alias = aliases[i]!;
      const dtype = signature.inputs[alias]!.dtype!;
      const elementType = elementTypeOf(dtype);
      if (elementType === undefined || dtypeInfo(dtype).array === null) {
        throw new TfServeError('UNIMPLEMENTED', `input '${alias}' is a ${dtype} tensor: tfserve feeds numeric TFLite tensors only (LiteRT's compiled-model API)`);
      }
      return { index: binding.inputs.get(alias)!, elementType, shape: feed.shape, data: feed.data as ArrayBufferView };
    });
    const wanted = selectOutputs(signature, options.outputs);
    for (const alias of wanted) {
      const dtype = signature.outputs[alias]!.dtype!;
      if (dtypeInfo(dtype).array === null) throw new TfServeError('UNIMPLEMENTED', `output '${alias}' is a ${dtype} tensor: tfserve fetches numeric TFLite tensors only`);
    }
    const indices = wanted.map((alias) => binding.outputs.get(alias)!);
    // A caller that gave up while its run waited (answered already) does not run it.
    const turn = this.lastRun.then(() => (isCancelled(cancel) ? Promise.reject(new TfServeError('CANCELLED', 'the request was cancelled')) : handle.run(0, feeds, indices)));
    this.lastRun = turn.catch(() => undefined);
    const outputs = await turn;
    const result: Record<string, AnyTensor> = {};
    wanted.forEach((alias, i) => {
      Object.defineProperty(result, alias, { value: toTensor(outputs[i]!), enumerable: true, writable: true, configurable: true });
    });
    return result;
  }

  batchingStats(): [] {
    return [];
  }

  /** Refuses new runs at once; frees the model (off the JS thread) once the runs already queued are done. Idempotent. */
  async unload(): Promise<void> {
    const handle = this.handle;
    this.handle = null;
    if (!handle) return;
    await this.lastRun;
    await handle.release();
  }
}

/**
 * `loader` with TF Serving's --prefer_tflite_model: a version directory that
 * holds model.tflite is served from it through LiteRT; others go to `loader`.
 */
export function preferTflite(loader: ServableLoader): ServableLoader {
  return async (basePath: string, options: LoadOptions & { version: number }, name: string) => {
    const absolute = path.resolve(basePath);
    const dir = await versionDir(absolute, options.version);
    if (!fs.existsSync(path.join(dir, TFLITE_FILE))) return loader(basePath, options, name);
    return TfliteModel.open(path.basename(absolute), options.version, dir);
  };
}
