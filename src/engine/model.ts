import path from 'node:path';

import { callerLimited } from './cancellation';
import { dtypeFromEnum } from './dtypes';
import { TfServeError, invalidArgument } from './errors';
import { prepareFeeds, selectOutputs } from './inputs';
import { type ResolvedVersion, resolveVersion } from './model-dir';
import { type Device, type NativeBatchingStats, type NativeModel, type NativeOutput, type NativeRunResult, native } from './native';
import { explainMissingOp, loadOpLibraries } from './op-libraries';
import { encodeConfigProto } from './session-options';
import { type Signature, extractSignatureDefMap, parseMetaGraph } from './signatures';
import type { LoadOptions, PredictOptions, Servable } from './servable';
import type { AnyTensor, TensorInput } from './tensor';

export type { LoadOptions, PredictOptions } from './servable';

export const DEFAULT_SIGNATURE = 'serving_default';

function toTensor(output: NativeOutput): AnyTensor {
  const info = dtypeFromEnum(output.dtype);
  if (!info) throw new TfServeError('UNIMPLEMENTED', `TensorFlow returned a tensor of unsupported type ${output.dtype}`);
  if (info.array === null) {
    // One Buffer view per string over the output's single buffer: no copy.
    const { offsets } = output;
    const strings = new Array<Buffer>(offsets!.length - 1);
    for (let i = 0; i < strings.length; i++) strings[i] = Buffer.from(output.data, offsets![i]!, offsets![i + 1]! - offsets![i]!);
    return { dtype: 'string', shape: output.shape, data: strings };
  }
  return { dtype: info.name, shape: output.shape, data: new info.array(output.data) } as AnyTensor;
}

/** One loaded version of a SavedModel. */
export class Model implements Servable {
  private native: NativeModel | null;

  private constructor(
    /** Model name: the base path's last component. */
    readonly name: string,
    readonly basePath: string,
    readonly version: number,
    /** Version directories found on disk when the model was loaded. */
    readonly versions: readonly number[],
    readonly exportDir: string,
    readonly tags: readonly string[],
    /** Serving signatures by key. */
    readonly signatures: Readonly<Record<string, Signature>>,
    /** All signature_def entries as a serialized tensorflow.serving.SignatureDefMap (for TF Serving's metadata). */
    readonly signatureDefMap: Uint8Array,
    /** The devices the session sees (TF_SessionListDevices at load): CPU:0, and each GPU TF may use. */
    readonly devices: readonly Device[],
    /** The serialized tensorflow.ConfigProto the session was created with, byte for byte as TF_SetConfig received it. */
    readonly sessionConfig: Uint8Array,
    nativeModel: NativeModel,
  ) {
    this.native = nativeModel;
  }

  /** @internal use loadModel() */
  static async load(basePath: string, options: LoadOptions = {}): Promise<Model> {
    const absolute = path.resolve(basePath);
    return Model.open(absolute, await resolveVersion(absolute, options.version), options);
  }

  /** @internal loads a version already found on disk (engine workers: the main thread found it). */
  static async open(basePath: string, { version, exportDir, versions }: ResolvedVersion, options: LoadOptions): Promise<Model> {
    const tags = options.tags ?? ['serve'];
    const config = encodeConfigProto(options.session);
    let loaded;
    try {
      // Ops the graph uses must be registered before TF reads it.
      await loadOpLibraries(options.opLibraries);
      loaded = await native.loadSavedModel(exportDir, tags, config);
    } catch (error) {
      const wrapped = await explainMissingOp(TfServeError.from(error));
      throw new TfServeError(wrapped.code, `cannot load ${exportDir}: ${wrapped.message}`);
    }
    if (options.batching) {
      try {
        loaded.model.setBatching(options.batching);
      } catch (error) {
        await loaded.model.release();
        throw TfServeError.from(error);
      }
    }
    let meta;
    let signatureDefMap;
    try {
      meta = parseMetaGraph(loaded.metaGraphDef);
      signatureDefMap = extractSignatureDefMap(loaded.metaGraphDef);
    } catch (error) {
      await loaded.model.release();
      throw new TfServeError('DATA_LOSS', `cannot read the MetaGraphDef of ${exportDir}: ${(error as Error).message}`);
    }
    return new Model(path.basename(basePath), basePath, version, versions, exportDir, meta.tags.length ? meta.tags : tags, meta.signatures, signatureDefMap, Object.freeze(loaded.devices.map((d) => Object.freeze(d))), loaded.sessionConfig, loaded.model);
  }

  get loaded(): boolean {
    return this.native !== null;
  }

  signature(name: string = DEFAULT_SIGNATURE): Signature {
    if (typeof name !== 'string') throw invalidArgument(`signature must be a string, got ${typeof name}`);
    // Own keys only: 'toString' or '__proto__' is a name like any other.
    const signature = Object.hasOwn(this.signatures, name) ? this.signatures[name] : undefined;
    if (!signature) {
      throw invalidArgument(`signature '${name}' not found in ${this.name} version ${this.version} (signatures: ${Object.keys(this.signatures).join(', ')})`);
    }
    return signature;
  }

  /**
   * Runs a signature. Inputs and outputs are keyed by the signature's
   * aliases. `timeoutMs` and `signal` answer the caller at once; a run that
   * has not started by then never starts.
   */
  predict(inputs: Record<string, TensorInput>, options: PredictOptions = {}): Promise<Record<string, AnyTensor>> {
    if (typeof options !== 'object' || options === null) return Promise.reject(invalidArgument(`predict options must be an object, got ${options === null ? 'null' : typeof options}`));
    return callerLimited(options, (token) => this.predictWithToken(inputs, options, token));
  }

  /** @internal predict() with a cancel token the caller controls (possibly from another thread), its limits checked. */
  async predictWithToken(inputs: Record<string, TensorInput>, options: PredictOptions, cancel: Int32Array | undefined): Promise<Record<string, AnyTensor>> {
    const model = this.native;
    if (model === null) throw new TfServeError('FAILED_PRECONDITION', `${this.name} version ${this.version} was unloaded`);
    const signature = this.signature(options.signature);
    const feeds = prepareFeeds(signature, inputs, options.validateShapes ?? true);
    const aliases = selectOutputs(signature, options.outputs);
    const fetches = aliases.map((alias) => {
      const spec = signature.outputs[alias]!;
      if (spec.encoding !== 'dense') throw new TfServeError('UNIMPLEMENTED', `output '${alias}' is a ${spec.encoding} tensor, which tfserve cannot fetch`);
      return spec.name;
    });
    let outputs: NativeRunResult;
    try {
      outputs = await model.run(feeds, fetches, { timeoutMs: options.timeoutMs, cancel });
    } catch (error) {
      const wrapped = TfServeError.from(error);
      // Name outputs by alias in errors the batcher raises with tensor names.
      aliases.forEach((alias, i) => {
        wrapped.message = wrapped.message.replace(`output '${fetches[i]}'`, `output '${alias}' (${fetches[i]})`);
      });
      throw wrapped;
    }
    // A run that settled without an event-loop turn yields one, so that a
    // caller's `await` loop over fast runs cannot starve timers and I/O.
    if (outputs.settledInline) await new Promise<void>((resolve) => setImmediate(resolve));
    const result: Record<string, AnyTensor> = {};
    // Defined, not assigned: an alias '__proto__' must be a key, not the prototype.
    aliases.forEach((alias, i) => {
      Object.defineProperty(result, alias, { value: toTensor(outputs[i]!), enumerable: true, writable: true, configurable: true });
    });
    return result;
  }

  /** What the batcher did for this model: one entry per (batching options, signature, output filter). */
  batchingStats(): NativeBatchingStats[] {
    return this.native?.batchingStats() ?? [];
  }

  /** Frees the session (off the main thread) once no prediction uses it. Idempotent. */
  async unload(): Promise<void> {
    const model = this.native;
    this.native = null;
    if (model) await model.release();
  }
}

/** Loads one version of the SavedModel under `basePath` (TF Serving layout: basePath/<version>/). */
export function loadModel(basePath: string, options?: LoadOptions): Promise<Model> {
  return Model.load(basePath, options);
}
