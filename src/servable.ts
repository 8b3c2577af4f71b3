import type { LoadOptions, PredictOptions } from './model';
import type { NativeBatchingStats } from './native';
import type { Signature } from './signatures';
import type { AnyTensor, TensorInput } from './tensor';

/**
 * One loaded model version, whatever runs it: `Model` (loadModel) and the
 * engine's pooled, batched models both implement it. The serving layer
 * (src/serving, src/server) depends on this, not on either implementation.
 */
export interface Servable {
  readonly name: string;
  readonly version: number;
  readonly exportDir: string;
  readonly signatures: Readonly<Record<string, Signature>>;
  /** Serialized tensorflow.serving.SignatureDefMap with every signature_def entry, byte for byte. */
  readonly signatureDefMap: Uint8Array;
  predict(inputs: Record<string, TensorInput>, options?: PredictOptions): Promise<Record<string, AnyTensor>>;
  unload(): Promise<void>;
  /** What this version's batchers did (empty when it does not batch). */
  batchingStats(): NativeBatchingStats[];
}

/**
 * Loads one version directory of a model as a Servable. `name` is the name
 * the version is served as (a Servable's own name is its directory's).
 */
export type ServableLoader = (basePath: string, options: LoadOptions & { version: number }, name: string) => Promise<Servable>;
