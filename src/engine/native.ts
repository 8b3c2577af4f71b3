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

export interface NativeAddon {
  loadSavedModel(exportDir: string, tags: string[], configProto: Uint8Array): Promise<{ model: NativeModel; metaGraphDef: Buffer }>;
  tfVersion(): string;
  /** Upper bounds (seconds) of NativeBatchingStats.queueBuckets. */
  queueBucketBounds(): number[];
  /** Sessions alive in this process, across all threads. */
  liveSessions(): number;
  /** Names the calling thread (15 bytes at most) as /proc/<pid>/task/<tid>/comm shows it. */
  nameThread(name: string): void;
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
