// The compiled addon (native/, built into build/Release/tfserve.node).
import path from 'node:path';

import type { BatchingOptions } from './batching-options';
import type { PackedStrings } from './tensor';

/**
 * A tensor as the addon takes it; dtype is the TF_DataType enum. Numeric
 * data: any ArrayBufferView in TF's layout, on an ArrayBuffer or a
 * SharedArrayBuffer (copied). Strings: one Uint8Array/string per element, or
 * PackedStrings (offsets checked by the addon, no JS value per element).
 * The addon's shape guard refuses a bad shape before any TF tensor is made
 * (native/tensor_marshal.h).
 */
export interface NativeTensor {
  dtype: number;
  shape: number[];
  data: ArrayBufferView | Array<Uint8Array | string> | PackedStrings;
}

export interface NativeFeed extends NativeTensor {
  /** Graph tensor name, "op:index". */
  name: string;
}

export interface NativeOutput {
  dtype: number;
  shape: number[];
  /** A JS-owned buffer: the elements, or for strings their bytes back to back. */
  data: ArrayBuffer;
  /** Strings only: element i is data[offsets[i], offsets[i + 1]). */
  offsets?: Uint32Array;
}

export interface NativeRunOptions {
  /** Fail with DEADLINE_EXCEEDED instead of running once this many ms have passed. */
  timeoutMs?: number;
  /** Non-zero in slot 0 cancels the run if it has not started (may live in a SharedArrayBuffer). */
  cancel?: Int32Array;
}

export interface NativeBatchingStats {
  /** Batching params, feeds and fetches this batcher serves. */
  key: string;
  batches: number;
  requests: number;
  rows: number;
  paddedRows: number;
  /** Summed over requests: time from submit to the start of their batch. */
  queueSeconds: number;
  queuedRequests: number;
  /** Batches by size: bucket i counts sizes in (2^(i-1), 2^i]. */
  sizeBuckets: number[];
  /** Requests by queue wait: bucket i counts waits <= queueBucketBounds()[i]; the last, the rest. */
  queueBuckets: number[];
}

/**
 * One output per fetch. `settledInline`: the run finished while the caller's
 * thread waited for it, so the promise settled without an event-loop turn.
 */
export type NativeRunResult = NativeOutput[] & { settledInline?: true };

export interface NativeModel {
  run(feeds: NativeFeed[], fetches: string[], options?: NativeRunOptions): Promise<NativeRunResult>;
  /** Batch this handle's later runs (null: run each on its own). */
  setBatching(params: BatchingOptions | null): void;
  batchingStats(): NativeBatchingStats[];
  release(): Promise<void>;
}

/** A tensor of a TFLite model as the addon describes it (native/tflite_model.h). */
export interface NativeTfliteTensor {
  /** The signature's name for it. */
  name: string;
  tensorName: string;
  /** LiteRtElementType (TFLite's type numbers). */
  elementType: number;
  /** null when unranked. */
  shape: number[] | null;
}

/** One of LiteRT's signatures of the model (a placeholder one when the model has none). */
export interface NativeTfliteSignature {
  key: string;
  inputs: NativeTfliteTensor[];
  outputs: NativeTfliteTensor[];
}

/** A TFLite model as the addon holds it (native/tflite_wrap.h); indices are into LiteRT's first signature. */
export interface NativeTfliteModel {
  run(
    signature: number,
    feeds: Array<{ index: number; elementType: number; shape: number[]; data: ArrayBufferView }>,
    outputs: number[],
  ): Promise<Array<{ elementType: number; shape: number[]; data: ArrayBuffer }>>;
  release(): Promise<void>;
}

/** One device a session sees (TF_SessionListDevices). */
export interface Device {
  /** Full name, e.g. '/job:localhost/replica:0/task:0/device:GPU:0'. */
  name: string;
  /** 'CPU', 'GPU', ... */
  type: string;
  /** TF's memory limit for the device: a GPU's usable memory; on CPU a nominal figure (256 MiB). */
  memoryBytes: number;
}

export interface NativeLoaded {
  model: NativeModel;
  metaGraphDef: Buffer;
  /** The serialized tensorflow.ConfigProto the session was created with, as TF_SetConfig received it. */
  sessionConfig: Buffer;
  /** What TF_SessionListDevices returned right after the load. */
  devices: Device[];
}

export interface NativeAddon {
  loadSavedModel(exportDir: string, tags: string[], configProto: Uint8Array): Promise<NativeLoaded>;
  /** Loads those of `paths` (op libraries) the process has not loaded yet; resolves to every one it has, with its serialized tensorflow.OpList. */
  loadOpLibraries(paths: string[]): Promise<Array<{ path: string; opList: Buffer }>>;
  tfVersion(): string;
  /** Upper bounds (seconds) of NativeBatchingStats.queueBuckets. */
  queueBucketBounds(): number[];
  /** Sessions alive in this process, across all threads. */
  liveSessions(): number;
  /** Opens libraryPath (LiteRT, once per process) and loads a .tflite file. */
  loadTfliteModel(libraryPath: string, modelPath: string): Promise<{ model: NativeTfliteModel; signatures: NativeTfliteSignature[]; signatureDefsMetadata: Buffer | null }>;
  /** TFLite models alive in this process. */
  liveTfliteModels(): number;
  /** Names the calling thread (15 bytes at most) as /proc/<pid>/task/<tid>/comm shows it. */
  nameThread(name: string): void;
  /**
   * Binds and listens on host:port (0: a free port), for threads to adopt
   * with node:net's listen({ fd }) (the server's front-door threads, each
   * with its own dupFd of it). Throws code UNAVAILABLE when the address cannot be had.
   */
  listenTcp(host: string, port: number): { port: number; fd: number };
  /** Another descriptor of the same socket. */
  dupFd(fd: number): number;
  /** Closes a descriptor from listenTcp/dupFd that no thread adopted. */
  closeFd(fd: number): void;
}

// TF logs every INFO line to stderr unless told otherwise.
process.env.TF_CPP_MIN_LOG_LEVEL ??= '1';

// TFSERVE_ADDON_PATH loads another build of the addon (scripts/test-asan.mjs
// points it at the sanitized build-asan/); children inherit it with the env.
const addonPath = process.env.TFSERVE_ADDON_PATH
  ? path.resolve(process.env.TFSERVE_ADDON_PATH)
  : path.resolve(__dirname, '..', '..', '..', 'build', 'Release', 'tfserve.node');

function loadAddon(): NativeAddon {
  try {
    return require(addonPath) as NativeAddon;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`tfserve: cannot load the native addon at ${addonPath}: ${message}\nRun 'npm install' (or 'npm run build') in the tfserve package to build it.`);
  }
}

export const native: NativeAddon = loadAddon();
